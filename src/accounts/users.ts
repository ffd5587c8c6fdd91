/**
 * Users: the group of accounts one end user holds under one app. The broker
 * keeps no user table of its own — an account is a connection, and most
 * apps never need more. A user appears when an account is connected on
 * demand for another account's user (connect on demand, delegation,
 * docs/agents.md): the new account's `userId` is that user, and so
 * `userOf(account) = account.userId ?? account.id`. The first account of a
 * user is its own user id (its `userId` stays null), so nothing changes for
 * accounts connected the ordinary way.
 */
import type { Db } from "../db.js";

/** The user an account belongs to. */
export function userOf(account: { id: string; userId: string | null }): string {
  return account.userId ?? account.id;
}

/** An account as the user lookups return it. */
export interface UserAccount {
  id: string;
  userId: string | null;
  appId: string;
  connectorId: string;
  hostname: string;
  status: string;
}

const SELECT = { id: true, userId: true, appId: true, connectorId: true, hostname: true, status: true } as const;

/**
 * The user's accounts at a connector under an app, the active ones first,
 * then the most recently updated: the account a delegated token acts for
 * is the first. A user's first account (whose id is the user id) is one of
 * them when it is at that connector.
 */
export function accountsOfUser(db: Pick<Db, "account">, input: { appId: string; userId: string; connectorId: string }): Promise<UserAccount[]> {
  return db.account
    .findMany({
      where: { appId: input.appId, connectorId: input.connectorId, OR: [{ userId: input.userId }, { id: input.userId }] },
      select: SELECT,
      orderBy: { updatedAt: "desc" },
    })
    .then((accounts) => [...accounts.filter((a) => a.status === "active"), ...accounts.filter((a) => a.status !== "active")]);
}

/** The user's account at a connector under an app: the active one if there is one, else the latest (which may need re-authorization). */
export async function accountOfUser(db: Pick<Db, "account">, input: { appId: string; userId: string; connectorId: string }): Promise<UserAccount | undefined> {
  return (await accountsOfUser(db, input))[0];
}

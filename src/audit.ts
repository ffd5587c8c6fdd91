/**
 * Audit events: who did what to which app or account. Never bodies or
 * secrets: `detail` holds ids, counts and reasons only.
 */
import type { Db } from "./db.js";
import type { Prisma } from "./generated/prisma/client.js";

/** A value of `detail`: ids, counts, reasons, and objects of them (a delegation chain). */
export type AuditValue = string | number | boolean | null | { [name: string]: AuditValue | undefined };

export interface AuditEventInput {
  action: string;
  actorType: "app" | "end_user" | "operator" | "system";
  actorId?: string;
  appId?: string;
  accountId?: string;
  connectorId?: string;
  requestId?: string;
  detail?: Record<string, AuditValue>;
}

type AuditWriter = Pick<Db, "auditEvent"> | Prisma.TransactionClient;

export async function recordAudit(db: AuditWriter, event: AuditEventInput): Promise<void> {
  await db.auditEvent.create({ data: { ...event, detail: (event.detail ?? {}) as Prisma.InputJsonObject } });
}

/**
 * What an auth kind says about itself, apart from what it does: its `auth`
 * section in a connector file, what it needs of the rest of the file, what
 * the broker must hold of its own at the upstream, and how the picker
 * describes it. The file schema, the credential store, the CLI and the
 * connect pages ask this; none of them compares kind names.
 *
 * Descriptors are light (zod and schema-fields.ts only): the file schema is
 * built from them without loading the kinds' implementations, which need
 * openid-client and jose and are loaded once at start (`implementation`).
 */
import type { z } from "zod";
import type { SigningAlgorithm, TokenAuthMethod } from "../schema-fields.js";
import type { AuthKind } from "./types.js";

/** What the broker must hold of its own at the upstream; the client id is always one of them. */
export interface BrokerCredentialNeeds {
  /** A client secret: client_secret_basic or client_secret_post authentication at the token endpoint. */
  clientSecret: boolean;
  /**
   * A private key to sign with, the algorithm `authbroker credentials keygen` makes it for when the file names one,
   * and whether it must come with the certificate the upstream registered (its thumbprint goes in the assertion header).
   */
  privateKey?: { algorithm?: SigningAlgorithm; certificate?: boolean };
}

/** The `auth` section of a connector of one kind: a strict object whose `kind` is the kind's name. */
export type AuthSectionSchema<Name extends string = string> = z.ZodObject<{ kind: z.ZodLiteral<Name> } & z.core.$ZodLooseShape, z.core.$strict>;

export interface AuthKindDescriptor<Name extends string = string, Auth extends AuthSectionSchema<Name> = AuthSectionSchema<Name>> {
  /** `auth.kind` in a connector file. */
  readonly name: Name;
  /** The rest of the `auth` section. */
  readonly auth: Auth;
  /** Why the file must have `identity.url`, for kinds that cannot learn who connected without it (the error says it). */
  readonly identityUrlRequired?: string;
  /** Who connected comes from OIDC claims (the ID token, userinfo), so `identity.*` default to the claim names. */
  readonly identityFromClaims?: boolean;
  /** How the proxy sends the account's credential when `api.credentials` is absent. @defaultValue "bearer" */
  readonly defaultApiCredentials?: "bearer" | "basic";
  /**
   * What the broker must hold of its own at the upstream for this section.
   * Absent for kinds whose end users bring their own credentials: the broker
   * has no client there, and their servers cannot be registered with it.
   */
  brokerCredentials?(auth: z.output<Auth>): BrokerCredentialNeeds;
  /** How the end user will connect, in a few words, for the connector picker. */
  describeConnect(connector: { name: string; perServer: boolean }): string;
  /** The kind's capabilities (types.ts), loaded at start by kinds/index.ts. */
  implementation(): Promise<AuthKind>;
}

/** What a client authentication method at the token endpoint needs besides the client id (RFC 6749 §2.3, RFC 7523 §2.2). */
export function credentialNeedsOf(method: TokenAuthMethod | "none", options: { certificate?: boolean } = {}): BrokerCredentialNeeds {
  if (method === "private_key_jwt") return { clientSecret: false, privateKey: options.certificate ? { certificate: true } : {} };
  return { clientSecret: method !== "none" };
}

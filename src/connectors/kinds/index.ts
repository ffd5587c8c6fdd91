/**
 * The built-in auth kinds. This file, and the composition root that calls
 * it, are the only places that import a kind; adding a kind is one module
 * in this directory and one line here.
 */
import { createClientCredentialsKind } from "./client-credentials.js";
import { createJwtBearerKind } from "./jwt-bearer.js";
import { createOAuth2Kind } from "./oauth2.js";
import { createPasswordGrantKind } from "./password-grant.js";
import { createApiKeyKind, createBasicKind } from "./static-credentials.js";
import { createOidcKind, type OidcKindOptions } from "./oidc.js";
import { AuthKinds } from "./registry.js";

export interface BuiltInKindsOptions {
  oidc?: OidcKindOptions;
}

export function createBuiltInKinds(options: BuiltInKindsOptions = {}): AuthKinds {
  return new AuthKinds([
    createOAuth2Kind(),
    createOidcKind(options.oidc),
    createJwtBearerKind(),
    createClientCredentialsKind(),
    createBasicKind(),
    createApiKeyKind(),
    createPasswordGrantKind(),
  ]);
}

export { AuthKinds } from "./registry.js";
export * from "./types.js";

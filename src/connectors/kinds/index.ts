/**
 * The implementations of the auth kinds of the catalog (catalog.ts), loaded
 * once by the composition root. Core code gets the registry passed in and
 * never imports a kind.
 */
import { AUTH_KINDS } from "./catalog.js";
import { AuthKinds } from "./registry.js";

/** Every kind of the catalog, implemented: its descriptor loads its capabilities (and openid-client, jose) here, once. */
export async function loadBuiltInKinds(): Promise<AuthKinds> {
  const implementations = await Promise.all(
    AUTH_KINDS.map(async (descriptor) => {
      const kind = await descriptor.implementation();
      if (kind.kind !== descriptor.name) throw new TypeError(`the implementation of auth kind "${descriptor.name}" says it is "${kind.kind}"`);
      return kind;
    }),
  );
  return new AuthKinds(implementations);
}

export { AuthKinds } from "./registry.js";
export * from "./types.js";

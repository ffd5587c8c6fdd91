/**
 * Connector files (docs/connectors.md): what a valid file
 * loads as, and that every mistake is refused with one line naming the file
 * and the field.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { checkConnectorDir, checkConnectorText, loadConnectors, parseConnectorText } from "../../../src/connectors/loader.js";
import { ConnectorConfigError } from "../../../src/connectors/errors.js";
import { ConfigError } from "../../../src/config.js";
import { isKind } from "../../../src/connectors/schema.js";

const FILE = "connectors/acme.yaml";

/** A valid oauth2 connector as a plain object; tests change one thing. */
function acme(): Record<string, any> {
  return {
    id: "acme-drive",
    name: "Acme Drive",
    auth: {
      kind: "oauth2",
      authorizationUrl: "https://acme.example/oauth/authorize",
      tokenUrl: "https://acme.example/oauth/token",
      clientId: "${env:ACME_CLIENT_ID}",
      clientSecret: "${env:ACME_CLIENT_SECRET}",
    },
    scopes: { "files.read": ["drive.read"], "files.write": ["drive.read", "drive.write"] },
    defaultScopes: ["files.read"],
    api: { baseUrl: "https://acme.example/api/v2", credentials: "bearer" },
    identity: { url: "https://acme.example/api/v2/me", subject: "id", email: "email", name: "name" },
  };
}

const ENV = { ACME_CLIENT_ID: "acme-id", ACME_CLIENT_SECRET: "acme-secret" };

function parse(doc: unknown, env: NodeJS.ProcessEnv = ENV, file = FILE) {
  return parseConnectorText(file, typeof doc === "string" ? doc : stringify(doc), env);
}

/** Asserts the file is refused with one line `<file>: <field>: <problem>`. */
function refused(doc: unknown, field: string, problem: RegExp, env: NodeJS.ProcessEnv = ENV, file = FILE): void {
  assert.throws(
    () => parse(doc, env, file),
    (err: unknown) => {
      assert.ok(err instanceof ConnectorConfigError, `expected a ConnectorConfigError, got ${String(err)}`);
      assert.ok(err instanceof ConfigError, "a connector file error is a configuration error");
      assert.equal(err.file, file);
      assert.equal(err.field, field, err.message);
      assert.match(err.message, new RegExp(`^${file.replace(/[.]/g, "\\.")}: ${field.replace(/[.[\]]/g, "\\$&")}: `));
      assert.match(err.message, problem);
      assert.ok(!err.message.includes("\n"), `one line expected, got ${JSON.stringify(err.message)}`);
      return true;
    },
  );
}

function edit(change: (doc: Record<string, any>) => void): Record<string, any> {
  const doc = acme();
  change(doc);
  return doc;
}

describe("a valid connector file", () => {
  it("loads with the documented defaults (pkce on, space-separated scopes, basic client auth, 300 s margin)", () => {
    const connector = parse(acme());
    assert.equal(connector.id, "acme-drive");
    assert.ok(isKind(connector, "oauth2"));
    assert.equal(connector.auth.pkce, true);
    assert.equal(connector.auth.scopeSeparator, " ");
    assert.equal(connector.auth.tokenAuthMethod, "client_secret_basic");
    assert.deepEqual(connector.auth.authorizationParams, {});
    assert.equal(connector.allowRawScopes, false);
    assert.equal(connector.refresh.marginSeconds, 300);
    assert.equal(connector.source.file, FILE);
  });

  it("loads the same connector from JSON", () => {
    const connector = parseConnectorText("connectors/acme.json", JSON.stringify(acme()), ENV);
    assert.equal(connector.name, "Acme Drive");
  });

  it("loads an oidc connector with only an issuer, and overrides when given", () => {
    const connector = parse({
      id: "corp",
      name: "Corp SSO",
      auth: {
        kind: "oidc",
        issuer: "https://login.corp.example",
        authorizationParams: { access_type: "offline", prompt: "consent" },
        tokenAuthMethod: "client_secret_post",
      },
      scopes: { profile: ["openid", "email"] },
    });
    assert.ok(isKind(connector, "oidc"));
    assert.equal(connector.auth.issuer, "https://login.corp.example");
    assert.equal(connector.auth.tokenAuthMethod, "client_secret_post");
    assert.deepEqual(connector.auth.authorizationParams, { access_type: "offline", prompt: "consent" });
  });

  it("accepts the other kinds with their own fields", () => {
    const base = { scopes: {} };
    // basic and api_key check what the end user types at identity.url.
    const identity = { url: "https://k.example/me", subject: "id" };
    assert.equal(
      parse({
        ...base,
        id: "k1",
        name: "Key",
        auth: { kind: "api_key", fields: [{ name: "apiKey", label: "API key", secret: true }] },
        api: { baseUrl: "https://k.example", credentials: "header:X-Api-Key" },
        identity,
      }).auth.kind,
      "api_key",
    );
    const basic = parse({ ...base, id: "b1", name: "Basic", auth: { kind: "basic" }, api: { baseUrl: "https://b.example", credentials: "basic" }, identity });
    assert.ok(isKind(basic, "basic"));
    assert.deepEqual(
      basic.auth.fields.map((f) => [f.name, f.secret]),
      [
        ["username", false],
        ["password", true],
      ],
    );
    assert.equal(
      parse({
        ...base,
        id: "j1",
        name: "JWT",
        auth: { kind: "jwt_bearer", tokenUrl: "https://j.example/token", algorithm: "ES256", subject: { label: "User id" } },
      }).auth.kind,
      "jwt_bearer",
    );
    assert.equal(
      parse({ ...base, id: "c1", name: "CC", auth: { kind: "client_credentials", tokenUrl: "https://c.example/token", tokenParams: { audience: "api" } } }).auth
        .kind,
      "client_credentials",
    );
    assert.equal(parse({ ...base, id: "p1", name: "PW", auth: { kind: "password_grant", tokenUrl: "https://p.example/token" } }).auth.kind, "password_grant");
  });

  it("accepts http only for loopback and private addresses (development and tests)", () => {
    const local = parse(
      edit((d) => {
        d.auth.tokenUrl = "http://127.0.0.1:8080/token";
        d.auth.authorizationUrl = "http://localhost:8080/authorize";
      }),
    );
    assert.ok(isKind(local, "oauth2"));
    assert.equal(local.auth.tokenUrl, "http://127.0.0.1:8080/token");
  });

  it("is per-server when its URLs use {hostname} and it has hostname.pattern", () => {
    const connector = parse(
      edit((d) => {
        d.auth.authorizationUrl = "https://{hostname}/oauth/authorize";
        d.api.baseUrl = "https://{hostname}/api/v4";
        d.hostname = { pattern: "^[a-z0-9.-]+\\.example$" };
      }),
    );
    assert.equal(connector.hostname?.pattern, "^[a-z0-9.-]+\\.example$");
  });

  it("may leave out hostname.pattern when its servers are registered one by one, and lists servers sharing its credentials", () => {
    const connector = parse(
      edit((d) => {
        d.auth.tokenUrl = "https://{hostname}/oauth/token";
        d.hostname = { sharedCredentialHosts: ["Git.Acme.example", "*.acme.example", "git.acme.example:8443"] };
      }),
    );
    assert.equal(connector.hostname?.pattern, undefined);
    assert.deepEqual(connector.hostname?.sharedCredentialHosts, ["git.acme.example", "*.acme.example", "git.acme.example:8443"]);
    assert.deepEqual(
      parse(
        edit((d) => {
          d.auth.tokenUrl = "https://{hostname}/oauth/token";
          d.hostname = {};
        }),
      ).hostname?.sharedCredentialHosts,
      [],
    );
  });

  it("admits servers under a path only with hostname.pathPrefix (off by default)", () => {
    const perServer = (pathPrefix?: boolean) =>
      parse(
        edit((d) => {
          d.auth.tokenUrl = "https://{hostname}/oauth/token";
          d.api.baseUrl = "https://{hostname}/api/v4";
          d.hostname = pathPrefix === undefined ? {} : { pathPrefix };
        }),
      ).hostname?.pathPrefix;
    assert.equal(perServer(), false);
    assert.equal(perServer(true), true);
  });

  it("an oauth2 connector may name its issuer identifier (RFC 9207 iss)", () => {
    const { auth } = parse(edit((d) => (d.auth.issuer = "https://acme.example")));
    assert.equal("issuer" in auth ? auth.issuer : undefined, "https://acme.example");
  });
});

describe("${env:NAME} references", () => {
  it("are replaced by the variable from the env passed in, also inside a longer string", () => {
    const connector = parse(
      edit((d) => (d.api.baseUrl = "https://${env:ACME_HOST}/api")),
      { ...ENV, ACME_HOST: "eu.acme.example" },
    );
    assert.equal(connector.api?.baseUrl, "https://eu.acme.example/api");
    assert.ok(isKind(connector, "oauth2"));
    assert.equal(connector.auth.clientId, "acme-id");
    assert.equal(connector.auth.clientSecret, "acme-secret");
    assert.deepEqual(connector.source.missingEnv, []);
  });

  it("unset in clientId/clientSecret is not an error: the fields are left out and the variables recorded", () => {
    const connector = parse(acme(), {});
    assert.ok(isKind(connector, "oauth2"));
    assert.equal(connector.auth.clientId, undefined);
    assert.equal(connector.auth.clientSecret, undefined);
    assert.deepEqual(connector.source.missingEnv, ["ACME_CLIENT_ID", "ACME_CLIENT_SECRET"]);
  });

  it("an empty variable counts as unset", () => {
    const connector = parse(acme(), { ACME_CLIENT_ID: "", ACME_CLIENT_SECRET: "s" });
    assert.deepEqual(connector.source.missingEnv, ["ACME_CLIENT_ID"]);
  });

  it("unset in a required field (a URL) is an error naming the file, the field and the variable", () => {
    refused(
      edit((d) => (d.auth.tokenUrl = "https://${env:ACME_HOST}/token")),
      "auth.tokenUrl",
      /environment variable ACME_HOST is not set/,
    );
  });

  it("${env:NAME:-default} stands for the default when the variable is unset or empty, and for the variable when set", () => {
    const withDefault = edit((d) => (d.auth.tokenUrl = "https://login.example/${env:ACME_TENANT:-organizations}/token"));
    for (const env of [{}, { ACME_TENANT: "" }]) {
      const connector = parse(withDefault, { ACME_CLIENT_ID: "id", ACME_CLIENT_SECRET: "s", ...env });
      assert.ok(isKind(connector, "oauth2"));
      assert.equal(connector.auth.tokenUrl, "https://login.example/organizations/token");
    }
    const set = parse(withDefault, { ACME_CLIENT_ID: "id", ACME_CLIENT_SECRET: "s", ACME_TENANT: "contoso" });
    assert.ok(isKind(set, "oauth2"));
    assert.equal(set.auth.tokenUrl, "https://login.example/contoso/token");
  });

  it("auth.certificate is refused without private_key_jwt: a certificate names a signing key", () => {
    refused(
      edit((d) => (d.auth.certificate = true)),
      "auth.certificate",
      /is for tokenAuthMethod private_key_jwt/,
    );
  });

  it("any other ${…} reference is an error", () => {
    refused(
      edit((d) => (d.name = "Acme ${secret:x}")),
      "name",
      /unknown reference \$\{secret:x\}/,
    );
  });

  it("a value from the environment is never read as a placeholder (a secret may contain braces)", () => {
    const connector = parse(acme(), { ACME_CLIENT_ID: "id", ACME_CLIENT_SECRET: "s{cr}t" });
    assert.ok(isKind(connector, "oauth2"));
    assert.equal(connector.auth.clientSecret, "s{cr}t");
  });
});

describe("a connector file is refused, naming the file and the field", () => {
  it("an unknown auth kind", () =>
    refused(
      edit((d) => (d.auth.kind = "saml")),
      "auth.kind",
      /must be one of oauth2, oidc, jwt_bearer, client_credentials, basic, api_key, password_grant/,
    ));
  it("a missing auth kind", () =>
    refused(
      edit((d) => delete d.auth.kind),
      "auth.kind",
      /must be one of/,
    ));
  it("an id outside [a-z0-9-]+", () =>
    refused(
      edit((d) => (d.id = "Acme_Drive")),
      "id",
      /must match \[a-z0-9-\]\+/,
    ));
  it("a missing name", () =>
    refused(
      edit((d) => delete d.name),
      "name",
      /is required/,
    ));
  it("an unknown top-level field (a typo)", () =>
    refused(
      edit((d) => (d.defaultScope = ["files.read"])),
      "defaultScope",
      /unknown field/,
    ));
  it("an unknown field inside auth (typos are caught per kind)", () =>
    refused(
      edit((d) => (d.auth.tokenURL = "https://acme.example/t")),
      "auth.tokenURL",
      /unknown field/,
    ));
  it("a field of another kind (fields on oauth2)", () =>
    refused(
      edit((d) => (d.auth.fields = [])),
      "auth.fields",
      /unknown field/,
    ));
  it("a missing tokenUrl for oauth2", () =>
    refused(
      edit((d) => delete d.auth.tokenUrl),
      "auth.tokenUrl",
      /is required/,
    ));
  it("an oidc connector without issuer", () => refused({ id: "x", name: "X", auth: { kind: "oidc" } }, "auth.issuer", /is required/));
  it("a plain http URL to a public host", () =>
    refused(
      edit((d) => (d.auth.tokenUrl = "http://acme.example/token")),
      "auth.tokenUrl",
      /must be an https URL/,
    ));
  it("a URL that is not one", () =>
    refused(
      edit((d) => (d.identity.url = "/me")),
      "identity.url",
      /must be an absolute https URL/,
    ));
  it("a URL with credentials in it", () =>
    refused(
      edit((d) => (d.auth.tokenUrl = "https://u:p@acme.example/token")),
      "auth.tokenUrl",
      /must not carry credentials/,
    ));
  it("a placeholder other than {hostname}", () =>
    refused(
      edit((d) => (d.api.baseUrl = "https://{tenant}.acme.example/api")),
      "api.baseUrl",
      /unknown placeholder \{tenant\}: only \{hostname\}, \{values.<name>\} \(and \{tid\} in auth.idTokenIssuer, \{clientId\} in auth.revocation.url, \{token\} in identity.url and auth.revocation.url\) are supported/,
    ));
  it("{hostname} in a field that is never filled", () =>
    refused(
      edit((d) => {
        d.name = "Acme at {hostname}";
        d.api.baseUrl = "https://{hostname}/api";
        d.hostname = { pattern: "^a$" };
      }),
      "name",
      /\{hostname\} is only filled in/,
    ));
  for (const [where, url] of [
    ["inside a host name", "https://api.{hostname}/v4"],
    ["after a path", "https://gateway.example/{hostname}/api"],
    ["followed by a port", "https://{hostname}:8443/api"],
  ] as const) {
    it(`{hostname} ${where} with hostname.pathPrefix (a path prefix there would change the host)`, () =>
      refused(
        edit((d) => {
          d.auth.tokenUrl = "https://{hostname}/oauth/token";
          d.api.baseUrl = url;
          d.hostname = { pathPrefix: true };
        }),
        "api.baseUrl",
        /with hostname.pathPrefix, \{hostname\} must come right after https:\/\/ and be followed by \/ or the end/,
      ));
  }
  it("{hostname} without a hostname section", () =>
    refused(
      edit((d) => (d.auth.tokenUrl = "https://{hostname}/oauth/token")),
      "auth.tokenUrl",
      /uses \{hostname\}, so a hostname section/,
    ));
  it("a basic or api_key per-server connector without hostname.pattern (its servers are never registered)", () =>
    refused(
      {
        ...edit((d) => {
          d.api.baseUrl = "https://{hostname}/api";
          d.identity.url = "https://{hostname}/me";
          d.hostname = {};
        }),
        auth: { kind: "basic" },
      },
      "hostname.pattern",
      /is required for basic connectors/,
    ));
  it("sharedCredentialHosts on a kind without client credentials", () =>
    refused(
      {
        ...edit((d) => {
          d.api.baseUrl = "https://{hostname}/api";
          d.identity.url = "https://{hostname}/me";
          d.hostname = { pattern: "^a\\.example$", sharedCredentialHosts: ["a.example"] };
        }),
        auth: { kind: "api_key", fields: [{ name: "key", label: "Key" }] },
      },
      "hostname.sharedCredentialHosts",
      /end users enter their own/,
    ));
  for (const entry of ["https://git.acme.example", "git.acme.example/path", "*", "*.", "user@git.acme.example", "git.acme.example:port"]) {
    it(`a sharedCredentialHosts entry "${entry}"`, () =>
      refused(
        edit((d) => {
          d.auth.tokenUrl = "https://{hostname}/oauth/token";
          d.hostname = { sharedCredentialHosts: [entry] };
        }),
        "hostname.sharedCredentialHosts[0]",
        /must be a host name/,
      ));
  }
  it("hostname.pattern without any {hostname}", () =>
    refused(
      edit((d) => (d.hostname = { pattern: "^a\\.example$" })),
      "hostname",
      /no URL uses \{hostname\}/,
    ));
  it("an invalid hostname.pattern regex", () =>
    refused(
      edit((d) => {
        d.api.baseUrl = "https://{hostname}/api";
        d.hostname = { pattern: "^[a-z+$" };
      }),
      "hostname.pattern",
      /is not a valid regular expression/,
    ));
  it("an unanchored hostname.pattern", () =>
    refused(
      edit((d) => {
        d.api.baseUrl = "https://{hostname}/api";
        d.hostname = { pattern: "acme\\.example" };
      }),
      "hostname.pattern",
      /must be anchored/,
    ));
  it("a default scope that is not a key of scopes", () =>
    refused(
      edit((d) => (d.defaultScopes = ["files.read", "files.admin"])),
      "defaultScopes[1]",
      /"files.admin" is not a key of scopes/,
    ));
  it("a scope description for a scope the connector does not have", () =>
    refused(
      edit((d) => (d.scopeDescriptions = { "files.read": "See your files", "files.admin": "Manage your files" })),
      "scopeDescriptions.files.admin",
      /"files.admin" is not a key of scopes/,
    ));
  it("a scope description that is empty, or more than one line", () => {
    refused(
      edit((d) => (d.scopeDescriptions = { "files.read": "" })),
      "scopeDescriptions.files.read",
      /must not be empty/,
    );
    refused(
      edit((d) => (d.scopeDescriptions = { "files.read": "See your files\nand delete them" })),
      "scopeDescriptions.files.read",
      /must be one line/,
    );
  });
  it("an upstream scope with a space in it", () =>
    refused(
      edit((d) => (d.scopes["files.read"] = ["drive.read drive.write"])),
      "scopes.files.read[0]",
      /one upstream scope without spaces/,
    ));
  it("an authorization parameter the broker sets itself", () =>
    refused(
      edit((d) => (d.auth.authorizationParams = { state: "fixed" })),
      "auth.authorizationParams.state",
      /set by the broker/,
    ));
  it("an unknown tokenAuthMethod", () =>
    refused(
      edit((d) => (d.auth.tokenAuthMethod = "client_secret_jwt")),
      "auth.tokenAuthMethod",
      /must be one of client_secret_basic, client_secret_post, private_key_jwt/,
    ));
  it("an unknown api.credentials style", () =>
    refused(
      edit((d) => (d.api.credentials = "cookie")),
      "api.credentials",
      /bearer, basic, aws_sigv4, header:<Name> or query:<param>/,
    ));
  it("an oauth2 connector that cannot learn who connected", () =>
    refused(
      edit((d) => delete d.identity),
      "identity.url",
      /is required for oauth2/,
    ));
  it("identity.url without identity.subject", () =>
    refused(
      edit((d) => delete d.identity.subject),
      "identity.subject",
      /is required with identity.url/,
    ));
  it("identity.emailVerified that is not a dotted JSON path", () =>
    refused(
      edit((d) => (d.identity.emailVerified = "email verified")),
      "identity.emailVerified",
      /must be a dotted JSON path/,
    ));
  it("identity.emailVerified without identity.email to speak of", () =>
    refused(
      edit((d) => {
        delete d.identity.email;
        d.identity.emailVerified = "email_verified";
      }),
      "identity.emailVerified",
      /needs identity.email/,
    ));
  it("a negative refresh margin", () =>
    refused(
      edit((d) => (d.refresh = { marginSeconds: -1 })),
      "refresh.marginSeconds",
      />= 0/,
    ));
  it("pkce that is not a boolean", () =>
    refused(
      edit((d) => (d.auth.pkce = "yes")),
      "auth.pkce",
      /must be a boolean/,
    ));
  it("api_key without fields", () => refused({ id: "k", name: "K", auth: { kind: "api_key" } }, "auth.fields", /is required/));
  it("a YAML syntax error, with its line", () => refused("id: acme\nname: [Acme\nauth:\n  kind: oauth2\n", "line 3", /YAML syntax error/));
  it("a YAML key given twice", () => refused("id: acme\nname: Acme\nname: Other\n", "line 3", /YAML syntax error: Map keys must be unique/));
  it("JSON that does not parse", () =>
    assert.throws(
      () => parseConnectorText("connectors/a.json", '{ "id": ', {}),
      (err: unknown) => err instanceof ConnectorConfigError && /^connectors\/a\.json: invalid JSON/.test(err.message),
    ));
  it("a file that is not a map", () =>
    assert.throws(
      () => parseConnectorText(FILE, "- a\n- b\n", {}),
      (err: unknown) => err instanceof ConnectorConfigError && /must contain one connector/.test(err.message),
    ));
  it("a __proto__ key stays a refused field", () =>
    refused('{"id":"a","name":"A","auth":{"kind":"basic"},"__proto__":{"x":1}}', "__proto__", /unknown field/, {}, "connectors/p.json"));

  it("every problem of a file is collected for `connectors validate`", () => {
    const { connector, errors } = checkConnectorText(
      FILE,
      stringify(
        edit((d) => {
          d.id = "Bad";
          d.auth.tokenUrl = "http://acme.example/t";
          d.extra = 1;
        }),
      ),
      ENV,
    );
    assert.equal(connector, undefined);
    assert.deepEqual(errors.map((e) => e.field).sort(), ["auth.tokenUrl", "extra", "id"]);
  });
});

describe("a directory of connector files", () => {
  function dirWith(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "connectors-"));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it("loads *.yaml, *.yml and *.json and ignores other files", async () => {
    const dir = dirWith({
      "a.yaml": stringify({ ...acme(), id: "a" }),
      "b.yml": stringify({ ...acme(), id: "b" }),
      "c.json": JSON.stringify({ ...acme(), id: "c" }),
      "README.md": "# not a connector {x}",
    });
    try {
      const registry = await loadConnectors(dir, ENV);
      assert.deepEqual(
        registry.list().map((c) => c.id),
        ["a", "b", "c"],
      );
      assert.equal(registry.get("b")?.name, "Acme Drive");
      assert.equal(registry.has("README"), false);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("refuses an id used by two files, naming the second file and the first", async () => {
    const dir = dirWith({ "a.yaml": stringify(acme()), "b.json": JSON.stringify(acme()) });
    try {
      await assert.rejects(loadConnectors(dir, ENV), (err: unknown) => {
        assert.ok(err instanceof ConnectorConfigError);
        assert.equal(err.field, "id");
        assert.match(err.file, /b\.json$/);
        assert.match(err.message, /"acme-drive" is already used by .*a\.yaml/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("collects the problems of every file, and loadConnectors throws the first", async () => {
    const dir = dirWith({ "a.yaml": "id: A\n", "b.yaml": stringify(acme()), "c.yaml": "name: [\n" });
    try {
      const { connectors, errors } = await checkConnectorDir(dir, ENV);
      assert.deepEqual(
        connectors.map((c) => c.id),
        ["acme-drive"],
      );
      assert.ok(errors.some((e) => /a\.yaml$/.test(e.file) && e.field === "id"));
      assert.ok(errors.some((e) => /c\.yaml$/.test(e.file) && /YAML syntax error/.test(e.message)));
      await assert.rejects(loadConnectors(dir, ENV), (err: unknown) => err instanceof ConnectorConfigError && /a\.yaml$/.test(err.file));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("a missing directory is one error naming it", async () => {
    await assert.rejects(
      loadConnectors("/nonexistent/connectors", {}),
      (err: unknown) => err instanceof ConnectorConfigError && /^\/nonexistent\/connectors: cannot be read \(CONNECTORS_DIR\)/.test(err.message),
    );
  });
});

describe("what real providers need: the format fields of issue 20", () => {
  const oidcFile = (auth: Record<string, unknown>) => ({ id: "x", name: "X", auth: { kind: "oidc", issuer: "https://idp.example", ...auth } });

  it("auth.idTokenIssuer: a URL with {tid}, or none, loads", () => {
    const templated = parse(edit((d) => (d.auth.idTokenIssuer = "https://login.example/{tid}/v2.0")));
    assert.equal(templated.auth.kind === "oauth2" && templated.auth.idTokenIssuer, "https://login.example/{tid}/v2.0");
    assert.equal(parse(edit((d) => (d.auth.idTokenIssuer = "none"))).auth.kind, "oauth2");
  });
  it("auth.idTokenIssuer that is neither a URL nor none", () =>
    refused(
      edit((d) => (d.auth.idTokenIssuer = "login.example/{tid}")),
      "auth.idTokenIssuer",
      /must be an absolute https URL, or none/,
    ));
  it("auth.idTokenIssuer: none for an oidc connector", () =>
    refused(oidcFile({ idTokenIssuer: "none" }), "auth.idTokenIssuer", /cannot be none for oidc connectors/));
  it("{tid} anywhere but auth.idTokenIssuer", () =>
    refused(
      edit((d) => (d.auth.tokenUrl = "https://login.example/{tid}/token")),
      "auth.tokenUrl",
      /\{tid\} is only filled in auth.idTokenIssuer/,
    ));

  it("identity.email and identity.name take fallbacks, tried in order", () => {
    const connector = parse(edit((d) => (d.identity.email = ["mail", "userPrincipalName"])));
    assert.deepEqual(connector.identity?.email, ["mail", "userPrincipalName"]);
  });
  it("an empty list of identity fallbacks", () =>
    refused(
      edit((d) => (d.identity.email = [])),
      "identity.email",
      /must list at least one path/,
    ));
  it("an identity fallback that is not a JSON path", () =>
    refused(
      edit((d) => (d.identity.name = ["displayName", "a b"])),
      "identity.name[1]",
      /dotted JSON path/,
    ));

  it("headers: sent names are lower-cased", () => {
    const connector = parse(edit((d) => (d.headers = { "User-Agent": "web:acme:v1 (by /u/acme)", "X-GitHub-Api-Version": "2022-11-28" })));
    assert.deepEqual(connector.headers, { "user-agent": "web:acme:v1 (by /u/acme)", "x-github-api-version": "2022-11-28" });
  });
  it("a header the broker sets itself", () =>
    refused(
      edit((d) => (d.headers = { Authorization: "Bearer x" })),
      "headers.Authorization",
      /is set by the broker/,
    ));
  it("a header name that is not an HTTP token", () =>
    refused(
      edit((d) => (d.headers = { "User Agent": "x" })),
      "headers.User Agent",
      /HTTP tokens/,
    ));
  it("a header value with a line break", () =>
    refused(
      edit((d) => (d.headers = { "User-Agent": "a\r\nX-Injected: 1" })),
      "headers.User-Agent",
      /visible ASCII characters/,
    ));

  it("identity.emailLookup loads, with select defaulted", () => {
    const connector = parse(edit((d) => (d.identity.emailLookup = { url: "https://acme.example/api/v2/me/emails", email: "address" })));
    assert.deepEqual(connector.identity?.emailLookup, { url: "https://acme.example/api/v2/me/emails", select: {}, email: "address" });
  });
  it("identity.emailLookup without identity.url", () =>
    refused(
      edit((d) => (d.identity = { subject: "sub", emailLookup: { url: "https://acme.example/emails", email: "email" } })),
      "identity.emailLookup",
      /needs identity.url/,
    ));
  it("identity.emailLookup without the path of its email", () =>
    refused(
      edit((d) => (d.identity.emailLookup = { url: "https://acme.example/emails" })),
      "identity.emailLookup.email",
      /is required/,
    ));

  it("auth.revocation: GitHub's grant deletion loads, with its defaults", () => {
    const connector = parse(
      edit((d) => (d.auth.revocation = { method: "DELETE", url: "https://api.acme.example/applications/{clientId}/grant", body: "json" })),
    );
    assert.ok(connector.auth.kind === "oauth2");
    assert.deepEqual(connector.auth.revocation, {
      method: "DELETE",
      url: "https://api.acme.example/applications/{clientId}/grant",
      body: "json",
      tokenParameter: "token",
      token: "any",
      clientAuth: "client_secret_basic",
      tokenIn: "body",
    });
  });
  it("auth.revocation beside auth.revocationUrl", () =>
    refused(
      edit((d) => {
        d.auth.revocationUrl = "https://acme.example/oauth/revoke";
        d.auth.revocation = { url: "https://acme.example/revoke" };
      }),
      "auth.revocation",
      /keep one/,
    ));
  it("auth.revocation with a method other than POST or DELETE", () =>
    refused(
      edit((d) => (d.auth.revocation = { method: "PUT", url: "https://acme.example/revoke" })),
      "auth.revocation.method",
      /must be one of POST, DELETE/,
    ));
  it("auth.revocation.url over plain http to a public host", () =>
    refused(
      edit((d) => (d.auth.revocation = { url: "http://acme.example/revoke" })),
      "auth.revocation.url",
      /must be an https URL/,
    ));
});

describe("api.rateLimits: the upstream's rate limits", () => {
  const withLimits = (rateLimits: unknown) => edit((d) => (d.api.rateLimits = rateLimits));

  it("loads per-connector and per-account limits, and none by default", () => {
    const limits = [
      { per: "connector", requests: 100, intervalSeconds: 1 },
      { per: "account", requests: 5000, intervalSeconds: 3600 },
    ];
    assert.deepEqual(parse(withLimits(limits)).api?.rateLimits, limits);
    assert.deepEqual(parse(acme()).api?.rateLimits, []);
  });

  it("a limit per something else", () =>
    refused(withLimits([{ per: "app", requests: 1, intervalSeconds: 1 }]), "api.rateLimits[0].per", /must be one of connector, account/));
  it("no requests", () => refused(withLimits([{ per: "account", intervalSeconds: 1 }]), "api.rateLimits[0].requests", /is required/));
  it("requests of text", () =>
    refused(withLimits([{ per: "account", requests: "ten", intervalSeconds: 1 }]), "api.rateLimits[0].requests", /must be a number/));
  it("zero requests", () => refused(withLimits([{ per: "account", requests: 0, intervalSeconds: 1 }]), "api.rateLimits[0].requests", /must be >= 1/));
  it("a fraction of a request", () =>
    refused(withLimits([{ per: "account", requests: 1.5, intervalSeconds: 1 }]), "api.rateLimits[0].requests", /whole number/));
  it("more requests than the broker logs", () =>
    refused(withLimits([{ per: "account", requests: 10_001, intervalSeconds: 1 }]), "api.rateLimits[0].requests", /must be <= 10000/));
  it("no interval", () => refused(withLimits([{ per: "account", requests: 1 }]), "api.rateLimits[0].intervalSeconds", /is required/));
  it("an interval of zero", () =>
    refused(withLimits([{ per: "account", requests: 1, intervalSeconds: 0 }]), "api.rateLimits[0].intervalSeconds", /must be >= 1/));
  it("an interval over a day", () =>
    refused(withLimits([{ per: "account", requests: 1, intervalSeconds: 86_401 }]), "api.rateLimits[0].intervalSeconds", /must be <= 86400/));
  it("an interval in fractions", () =>
    refused(withLimits([{ per: "account", requests: 1, intervalSeconds: 0.5 }]), "api.rateLimits[0].intervalSeconds", /whole number/));
  it("an unknown field of a limit", () =>
    refused(withLimits([{ per: "account", requests: 1, intervalSeconds: 1, burst: 2 }]), "api.rateLimits[0].burst", /unknown field/));
  it("a limit that is not a map", () => refused(withLimits(["100/min"]), "api.rateLimits[0]", /.+/));
  it("limits that are not a list", () => refused(withLimits({ per: "account", requests: 1, intervalSeconds: 1 }), "api.rateLimits", /.+/));
  it("two limits of the same kind over the same interval", () =>
    refused(
      withLimits([
        { per: "account", requests: 1, intervalSeconds: 60 },
        { per: "account", requests: 2, intervalSeconds: 60 },
      ]),
      "api.rateLimits[1]",
      /repeats a account limit over 60 s/,
    ));
  it("more than four limits", () =>
    refused(withLimits([1, 2, 3, 4, 5].map((intervalSeconds) => ({ per: "account", requests: 1, intervalSeconds }))), "api.rateLimits", /at most 4 limits/));
});

describe("values: what the upstream hands out at connect, filled as {values.<name>}", () => {
  const instance = { from: "token", path: "instance_url", as: "origin", hosts: ["*.my.acme.example"] };
  const cloud = { from: "call", url: "https://api.acme.example/accessible-resources", path: "0.id", as: "segment" };

  it("an origin from the token response and a segment from a call load, and fill api.baseUrl", () => {
    const connector = parse(
      edit((d) => {
        d.values = { instanceUrl: instance, cloudId: cloud };
        d.api.baseUrl = "{values.instanceUrl}/ex/{values.cloudId}/api";
      }),
    );
    assert.deepEqual(connector.values.instanceUrl, instance);
    assert.equal(connector.api?.baseUrl, "{values.instanceUrl}/ex/{values.cloudId}/api");
  });
  it("a connector without values has an empty map", () => assert.deepEqual(parse(acme()).values, {}));
  it("{values.<name>} that is not declared", () =>
    refused(
      edit((d) => (d.api.baseUrl = "{values.instanceUrl}/api")),
      "api.baseUrl",
      /\{values.instanceUrl\} is not a key of values/,
    ));
  it("an origin value in the middle of a URL", () =>
    refused(
      edit((d) => {
        d.values = { instanceUrl: instance };
        d.api.baseUrl = "https://acme.example/{values.instanceUrl}";
      }),
      "api.baseUrl",
      /is an origin: it may only start the URL/,
    ));
  it("a segment value in place of the origin", () =>
    refused(
      edit((d) => {
        d.values = { cloudId: cloud };
        d.api.baseUrl = "{values.cloudId}/api";
      }),
      "api.baseUrl",
      /is a path segment/,
    ));
  it("an origin value without hosts", () =>
    refused(
      edit((d) => (d.values = { instanceUrl: { ...instance, hosts: [] } })),
      "values.instanceUrl.hosts",
      /must list at least one host/,
    ));
  it("a host that is not a host", () =>
    refused(
      edit((d) => (d.values = { instanceUrl: { ...instance, hosts: ["acme.example/path"] } })),
      "values.instanceUrl.hosts[0]",
      /must be a host name/,
    ));
  it("a call value without its URL", () =>
    refused(
      edit((d) => (d.values = { cloudId: { ...cloud, url: undefined } })),
      "values.cloudId.url",
      /is required with from: call/,
    ));
  it("{values.<name>} in a field that is never filled with them", () =>
    refused(
      edit((d) => {
        d.values = { instanceUrl: instance };
        d.auth.tokenUrl = "{values.instanceUrl}/oauth/token";
      }),
      "auth.tokenUrl",
      /is only filled in api.baseUrl/,
    ));
  it("a value name that is not a name", () =>
    refused(
      edit((d) => (d.values = { "instance-url": instance })),
      "values.instance-url",
      /value names must be/,
    ));
});

describe("api.bases: more APIs of the same upstream, by name", () => {
  it("loads, with {hostname} and {values.<name>} like api.baseUrl", () => {
    const connector = parse(
      edit((d) => {
        d.values = { instanceUrl: { from: "token", path: "instance_url", as: "origin", hosts: ["*.acme.example"] } };
        d.api.bases = { upload: "https://acme.example/upload/v2", apex: "{values.instanceUrl}/apexrest" };
      }),
    );
    assert.deepEqual(connector.api?.bases, { upload: "https://acme.example/upload/v2", apex: "{values.instanceUrl}/apexrest" });
    assert.deepEqual(parse(acme()).api?.bases, {});
  });
  it("a base name that is not a name", () =>
    refused(
      edit((d) => (d.api.bases = { "Up load": "https://acme.example/upload" })),
      "api.bases.Up load",
      /base names must match/,
    ));
  it("a base that is not an https URL", () =>
    refused(
      edit((d) => (d.api.bases = { upload: "http://acme.example/upload" })),
      "api.bases.upload",
      /must be an https URL/,
    ));
  it("a base with {hostname} needs the hostname section", () =>
    refused(
      edit((d) => (d.api.bases = { upload: "https://{hostname}/upload" })),
      "api.bases.upload",
      /uses \{hostname\}, so a hostname section/,
    ));
  it("a base with an undeclared value", () =>
    refused(
      edit((d) => (d.api.bases = { apex: "{values.instanceUrl}/apexrest" })),
      "api.bases.apex",
      /is not a key of values/,
    ));
});

describe("auth.session: a key exchanged for a session token (api_key)", () => {
  const b2 = () => ({
    id: "b2",
    name: "B2",
    auth: {
      kind: "api_key",
      fields: [
        { name: "keyId", label: "keyID" },
        { name: "applicationKey", label: "applicationKey", secret: true },
      ],
      session: { url: "https://api.b2.example/b2api/v3/b2_authorize_account", token: "authorizationToken", lifetimeSeconds: 86400 },
    },
    api: { baseUrl: "https://api.b2.example/b2api/v3", credentials: "header:Authorization" },
    identity: { subject: "accountId" },
  });
  it("loads with its defaults, and needs no identity.url", () => {
    const connector = parse(b2());
    assert.ok(connector.auth.kind === "api_key");
    assert.deepEqual(connector.auth.session, {
      url: "https://api.b2.example/b2api/v3/b2_authorize_account",
      method: "GET",
      credentials: "basic",
      token: "authorizationToken",
      lifetimeSeconds: 86400,
    });
  });
  it("without identity.subject", () => refused({ ...b2(), identity: undefined }, "identity.subject", /is required with auth.session/));
  it("without its lifetime", () => {
    const doc = b2();
    delete (doc.auth.session as { lifetimeSeconds?: number }).lifetimeSeconds;
    refused(doc, "auth.session.lifetimeSeconds", /expected number|Invalid input|required/i);
  });
  it("a lifetime under a minute", () => {
    const doc = b2();
    doc.auth.session.lifetimeSeconds = 10;
    refused(doc, "auth.session.lifetimeSeconds", /must be >= 60/);
  });
  it("a token path that is not a JSON path", () => {
    const doc = b2();
    doc.auth.session.token = "a b";
    refused(doc, "auth.session.token", /dotted JSON path/);
  });
  it("on a basic connector", () => refused({ ...b2(), auth: { kind: "basic", session: b2().auth.session } }, "auth.session", /unknown field/));
});

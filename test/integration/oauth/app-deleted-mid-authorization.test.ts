/**
 * An app deleted while one of its authorizations is finishing: after the
 * connect callback's own checks, before the broker's last page or response.
 * The end user still gets a page that makes sense (the device is connected,
 * the account is connected on demand) and the app gets no tokens. The
 * deletion is made at the exact point of the race, inside the lookup of the
 * app that ends the authorization (a hook on the real client store, the
 * deletion itself as the admin API makes it), not left to timing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Request, Response } from "express";
import { createTestServices, type TestServices } from "../../support/services.js";
import { finishAuthorization, issueAuthorizationResponse, type PendingAuthorization } from "../../../src/oauth/authorization-response.js";
import { createDeviceCode } from "../../../src/oauth/device-codes.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { ServerError } from "../../../src/errors.js";
import type { Services } from "../../../src/services.js";

describe("an app deleted while its authorization finishes", () => {
  let services: TestServices;

  before(async () => {
    services = await createTestServices();
  });

  after(async () => {
    await services?.teardown();
  });

  const newApp = async () =>
    (await services.clients.create({ name: "Soon Gone", redirectUris: ["http://127.0.0.1:9/cb"], grantTypes: ["authorization_code"], scopes: ["proxy"] }))
      .client;

  /** The services as the authorization sees them: the app is deleted the moment it is looked up. */
  function deletedOnLookup(appId: string): Services {
    const clients = Object.create(services.clients) as typeof services.clients;
    clients.find = async (id) => {
      if (id === appId) {
        await services.db.app.deleteMany({ where: { id } });
        services.clients.invalidate(id);
      }
      return services.clients.find(id);
    };
    return { ...services, clients };
  }

  const pendingFor = (appId: string, extra: Partial<PendingAuthorization> = {}): PendingAuthorization => ({
    clientId: appId,
    redirectUri: "http://127.0.0.1:9/cb",
    responseType: "code",
    responseMode: "query",
    scope: "proxy",
    connectorId: "gone",
    ...extra,
  });

  /** The page `finishAuthorization` answers, through a real HTTP response. */
  async function finishPage(view: Services, pending: PendingAuthorization): Promise<{ status: number; body: string }> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const request = Object.assign(req, { log: services.log }) as unknown as Request;
      finishAuthorization(view, request, res as unknown as Response, pending, "acct_none").catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      return { status: response.status, body: await response.text() };
    } finally {
      server.close();
    }
  }

  it("the app's response is refused with a server error, and no code is issued", async () => {
    const app = await newApp();
    await assert.rejects(issueAuthorizationResponse(deletedOnLookup(app.id), pendingFor(app.id), "acct_none"), (err: unknown) => {
      assert.ok(err instanceof ServerError);
      assert.equal(err.description, "the app was deleted during the authorization");
      return true;
    });
    assert.equal(await services.db.authorizationCode.count({ where: { appId: app.id } }), 0);
  });

  it("a device approved just before: the end user is told the device is connected, to an app it no longer names", async () => {
    const app = await newApp();
    const { deviceCode } = await createDeviceCode(services.db, { appId: app.id, scope: "proxy" });
    const page = await finishPage(deletedOnLookup(app.id), pendingFor(app.id, { deviceCodeHash: hashSecret(deviceCode) }));
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /Your account is connected to <strong>the app<\/strong>\. Return to your device/);
  });

  it("a connect on demand: the page names the connector by its id when its file is gone, and the app as 'The app'", async () => {
    const app = await newApp();
    const page = await finishPage(deletedOnLookup(app.id), pendingFor(app.id, { onDemand: { userId: "user-1", requestedBy: app.id } }));
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /<h1>Your gone account is connected<\/h1>/);
    assert.match(page.body, /<strong>The app<\/strong> can now use it for you/);
  });
});

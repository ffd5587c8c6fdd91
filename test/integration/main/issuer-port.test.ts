/**
 * The issuer and the port a newcomer sets (issue 22): with BROKER_ISSUER
 * unset, `PORT=4000` gives a broker whose issuer is http://localhost:4000
 * (discovery names endpoints that answer); a BROKER_ISSUER on this machine
 * naming another port than PORT gets one warning line at start.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTestServices, type TestServices } from "../../support/services.js";
import { brokerProcessEnv, startBrokerProcess, type BrokerProcess } from "../../support/broker-process.js";
import { freePort } from "../../support/ports.js";
import { fileURLToPath } from "node:url";

const REPO_CONNECTORS = fileURLToPath(new URL("../../../connectors", import.meta.url));

const MISMATCH = /^BROKER_ISSUER \(.*\) names port \d+ on this machine, but the broker listens on PORT \d+/;

describe("the issuer follows PORT; a disagreeing BROKER_ISSUER is warned about", () => {
  let services: TestServices;
  const processes: BrokerProcess[] = [];

  before(async () => {
    services = await createTestServices({ CONNECTORS_DIR: REPO_CONNECTORS });
  });

  after(async () => {
    for (const p of processes) await p.stop();
    await services?.teardown();
  });

  it("BROKER_ISSUER unset: discovery names http://localhost:<PORT>, and nothing is warned", async () => {
    const port = await freePort();
    const broker = await startBrokerProcess("serve", brokerProcessEnv(services, { PORT: String(port), BROKER_ISSUER: "" }));
    processes.push(broker);
    const discovery = (await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json()) as { issuer: string; token_endpoint: string };
    assert.equal(discovery.issuer, `http://localhost:${port}`);
    assert.equal(discovery.token_endpoint, `http://localhost:${port}/oauth/token`);
    assert.equal(broker.logLines().filter((l) => MISMATCH.test(String(l.msg))).length, 0);
    await broker.stop();
  });

  it("BROKER_ISSUER on localhost with another port than PORT: one warning line naming both", async () => {
    const port = await freePort();
    const broker = await startBrokerProcess("serve", brokerProcessEnv(services, { PORT: String(port), BROKER_ISSUER: "http://localhost:1" }));
    processes.push(broker);
    await broker.waitForLog(MISMATCH);
    const warnings = broker.logLines().filter((l) => MISMATCH.test(String(l.msg)));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.level, 40, "pino's warn");
    assert.equal(warnings[0]!.issuer, "http://localhost:1");
    assert.equal(warnings[0]!.port, port);
    await broker.stop();
  });
});

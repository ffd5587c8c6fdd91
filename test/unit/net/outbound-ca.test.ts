/**
 * BROKER_OUTBOUND_CA_FILE: an upstream whose certificate a private CA signed
 * is trusted only when the operator names that CA, and then beside Node's
 * built-in roots, never instead of them (src/net/outbound.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { rootCertificates } from "node:tls";
import { AddressPolicy } from "../../../src/net/address-policy.js";
import { CidrList, parseCidr } from "../../../src/net/cidr-list.js";
import { Outbound } from "../../../src/net/outbound.js";
import { makeTestCertificates, type TestCertificates } from "../../support/tls.js";

const loopback = new AddressPolicy(new CidrList([parseCidr("127.0.0.0/8")!]));

describe("outbound TLS with an operator's CA", () => {
  let certificates: TestCertificates;
  let server: Server;
  let url: string;

  before(async () => {
    certificates = makeTestCertificates();
    server = createServer({ key: certificates.key, cert: certificates.cert }, (_req, res) => res.end("private"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
    certificates.remove();
  });

  it("refuses the server's certificate without the CA", async () => {
    const outbound = new Outbound(loopback);
    try {
      await assert.rejects(outbound.fetch(url), (err: Error & { cause?: { code?: string } }) => {
        assert.match(String(err.cause?.code ?? err.message), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED|unable to verify/i);
        return true;
      });
    } finally {
      await outbound.close();
    }
  });

  it("trusts it with the CA given as extraCa", async () => {
    const outbound = new Outbound(loopback, { extraCa: certificates.caPem });
    try {
      const answer = await outbound.fetch(url);
      assert.equal(answer.status, 200);
      assert.equal(await answer.text(), "private");
    } finally {
      await outbound.close();
    }
  });

  it("keeps Node's roots beside the operator's CA", () => {
    const outbound = new Outbound(loopback, { extraCa: certificates.caPem });
    const ca = (outbound as unknown as { ca: string[] }).ca;
    assert.equal(ca.length, rootCertificates.length + 1);
    assert.ok(ca.includes(rootCertificates[0]!));
  });
});

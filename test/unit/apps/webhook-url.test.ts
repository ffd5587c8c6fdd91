/** Webhook URLs an app may register: https to a public host; http and private addresses only inside BROKER_ALLOW_PRIVATE_HOSTS. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkWebhookUrl } from "../../../src/apps/webhook-url.js";
import { CidrList, parseCidr } from "../../../src/net/cidr-list.js";

const none = new CidrList([]);
const loopback = new CidrList([parseCidr("127.0.0.0/8")!, parseCidr("::1/128")!]);

describe("webhook URLs", () => {
  it("takes https to a public host or address", () => {
    assert.equal(checkWebhookUrl("https://hooks.example.com/authbroker?app=1", none), undefined);
    assert.equal(checkWebhookUrl("https://93.184.215.14/hooks", none), undefined);
  });

  it("refuses what is no URL, other schemes, credentials and fragments", () => {
    assert.match(checkWebhookUrl("hooks.example.com/x", none)!, /not an absolute URL/);
    assert.match(checkWebhookUrl("ftp://hooks.example.com/x", none)!, /must use https/);
    assert.match(checkWebhookUrl("javascript:alert(1)", none)!, /must use https/);
    assert.match(checkWebhookUrl("https://u:p@hooks.example.com/x", none)!, /user name or password/);
    assert.match(checkWebhookUrl("https://hooks.example.com/x#f", none)!, /fragment/);
  });

  it("refuses http and private addresses outside BROKER_ALLOW_PRIVATE_HOSTS", () => {
    assert.match(checkWebhookUrl("http://hooks.example.com/x", loopback)!, /must use https/);
    assert.match(checkWebhookUrl("http://127.0.0.1:8080/x", none)!, /must use https/);
    for (const url of ["https://10.0.0.1/x", "https://169.254.169.254/latest", "https://[::1]/x", "https://[fd00::1]/x", "https://127.0.0.1/x"])
      assert.match(checkWebhookUrl(url, none)!, /private or reserved/, url);
  });

  it("allows http and private addresses inside BROKER_ALLOW_PRIVATE_HOSTS (development, tests)", () => {
    assert.equal(checkWebhookUrl("http://127.0.0.1:8080/hooks", loopback), undefined);
    assert.equal(checkWebhookUrl("http://[::1]:8080/hooks", loopback), undefined);
    assert.equal(checkWebhookUrl("http://localhost:8080/hooks", loopback), undefined);
    assert.match(checkWebhookUrl("http://10.0.0.1/hooks", loopback)!, /must use https/);
  });
});

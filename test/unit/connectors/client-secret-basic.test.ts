/**
 * The Basic header of `client_secret_basic` (RFC 6749 §2.3.1, RFC 7617) in
 * each encoding a connector may choose.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { clientSecretBasicHeader } from "../../../src/connectors/kinds/client-secret-basic.js";

function decoded(header: string): string {
  assert.match(header, /^Basic [A-Za-z0-9+/]+=*$/);
  return Buffer.from(header.slice("Basic ".length), "base64").toString("utf8");
}

describe("the client_secret_basic header", () => {
  it("minimal: letters, digits and -._~!*'() as they are; the rest form-urlencoded, a space as +", () => {
    assert.equal(decoded(clientSecretBasicHeader("app-1.x_y~z", "a!b*c'(d)", "minimal")), "app-1.x_y~z:a!b*c'(d)");
    assert.equal(decoded(clientSecretBasicHeader("id:with colon", "p+/=%é", "minimal")), "id%3Awith+colon:p%2B%2F%3D%25%C3%A9");
  });

  it("full: every character but letters and digits encoded, as openid-client does", () => {
    assert.equal(decoded(clientSecretBasicHeader("app-1.x_y~z", "a b", "full")), "app%2D1%2Ex%5Fy%7Ez:a+b");
  });

  it("none: as written", () => {
    assert.equal(decoded(clientSecretBasicHeader("app-1", "p+/=%", "none")), "app-1:p+/=%");
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { loadConfig } from "../../../src/config.js";
import { Keyring } from "../../../src/crypto/keyring.js";
import { browserUserOf, sealUserCookie, setUserCookie, userCookieName, USER_COOKIE_MAX_AGE_SECONDS } from "../../../src/oauth/user-cookie.js";

const entry = (kid: string) => `${kid}:${randomBytes(32).toString("base64")}`;

async function keyringOf(...entries: string[]): Promise<Keyring> {
  return Keyring.create(loadConfig({ BROKER_ENCRYPTION_KEYS: entries.join(",") }).encryptionKeys);
}

function responseOf(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

function requestWith(cookie: string): IncomingMessage {
  return { headers: { cookie } } as IncomingMessage;
}

/** The `name=value` of a Set-Cookie header. */
function cookiePair(setCookie: string): string {
  return setCookie.split(";")[0]!;
}

describe("the user cookie of connect on demand", () => {
  it("is httpOnly, SameSite=Lax, sent to the on-demand pages only, for 30 days, Secure under an https issuer, and added to the response's other cookies", async () => {
    const keyring = await keyringOf(entry("k1"));
    const res = responseOf();
    res.setHeader("Set-Cookie", "other=1; Path=/");
    setUserCookie({ keyring, config: { issuer: "https://broker.example" } as never }, res, "app_1", "acc_1");
    const cookies = res.getHeader("Set-Cookie") as string[];
    assert.equal(cookies.length, 2);
    assert.equal(cookies[0], "other=1; Path=/");
    const attributes = cookies[1]!.split("; ").slice(1);
    assert.deepEqual(attributes, ["Path=/connect/on-demand", "HttpOnly", "SameSite=Lax", `Max-Age=${USER_COOKIE_MAX_AGE_SECONDS}`, "Secure"]);
    assert.equal(USER_COOKIE_MAX_AGE_SECONDS, 30 * 24 * 3600);
    assert.ok(cookies[1]!.startsWith(`${userCookieName("app_1")}=`));
    assert.doesNotMatch(cookies[1]!, /acc_1/, "the user id is sealed, not shown");
    assert.equal(browserUserOf(keyring, requestWith(cookiePair(cookies[1]!)), "app_1"), "acc_1");

    const plain = responseOf();
    setUserCookie({ keyring, config: { issuer: "http://127.0.0.1:3000" } as never }, plain, "app_1", "acc_1");
    assert.doesNotMatch(String(plain.getHeader("Set-Cookie")), /Secure/);
  });

  it("is one cookie per app: another app's name reads nothing, and a value moved under it does not open", async () => {
    const keyring = await keyringOf(entry("k1"));
    assert.notEqual(userCookieName("app_1"), userCookieName("app_2"));
    assert.match(userCookieName("app with spaces; and=signs"), /^ab_user_[0-9a-f]{16}$/);
    const sealed = sealUserCookie(keyring, "app_1", "acc_1", Date.now() + 60_000);
    assert.equal(browserUserOf(keyring, requestWith(`${userCookieName("app_1")}=${sealed}`), "app_2"), undefined);
    assert.equal(browserUserOf(keyring, requestWith(`${userCookieName("app_2")}=${sealed}`), "app_2"), undefined);
  });

  it("reads nothing from a missing, empty, tampered, expired or unknown-key cookie; keeps opening under a key rotated out of first place", async () => {
    const old = entry("k1");
    const keyring = await keyringOf(old);
    const name = userCookieName("app_1");
    const sealed = sealUserCookie(keyring, "app_1", "acc_1", Date.now() + 60_000);
    assert.equal(browserUserOf(keyring, requestWith("unrelated=1"), "app_1"), undefined);
    assert.equal(browserUserOf(keyring, requestWith(`${name}=`), "app_1"), undefined);
    assert.equal(browserUserOf(keyring, requestWith(`${name}=not-sealed`), "app_1"), undefined);
    const parts = sealed.split(".");
    const ciphertext = Buffer.from(parts[3]!, "base64url");
    ciphertext[0]! ^= 0x01;
    const tampered = [...parts.slice(0, 3), ciphertext.toString("base64url")].join(".");
    assert.equal(browserUserOf(keyring, requestWith(`${name}=${tampered}`), "app_1"), undefined);
    const expired = sealUserCookie(keyring, "app_1", "acc_1", Date.now() - 1);
    assert.equal(browserUserOf(keyring, requestWith(`${name}=${expired}`), "app_1"), undefined);

    const rotated = await keyringOf(entry("k2"), old);
    assert.equal(browserUserOf(rotated, requestWith(`${name}=${sealed}`), "app_1"), "acc_1");
    const removed = await keyringOf(entry("k2"));
    assert.equal(browserUserOf(removed, requestWith(`${name}=${sealed}`), "app_1"), undefined);
  });
});

/** The connect pages' wording around a connector's name: "an Acme Cloud server", not "a Acme Cloud server". */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withArticle } from "../../../src/connect/hostname.js";

describe("a connector's name with its article", () => {
  it("takes “an” before a vowel letter, in either case, and “a” otherwise", () => {
    assert.equal(withArticle("Acme Cloud (self-hosted)"), "an Acme Cloud (self-hosted)");
    assert.equal(withArticle("Outlook"), "an Outlook");
    assert.equal(withArticle("ec2 fleet"), "an ec2 fleet");
    assert.equal(withArticle("GitLab"), "a GitLab");
    assert.equal(withArticle("Self-hosted Forge"), "a Self-hosted Forge");
  });
});

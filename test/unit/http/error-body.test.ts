/**
 * The JSON of an error response: `error` and `error_description`, the
 * request id for API routes, and an error's own extra fields (`body`) only
 * when it is exposed — never replacing the standard ones.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BrokerError, ConnectionRequired } from "../../../src/errors.js";
import { errorBody } from "../../../src/http/error-handler.js";

describe("errorBody", () => {
  it("adds an exposed error's extra fields beside the standard ones", () => {
    const error = new ConnectionRequired("connect it first", { body: { elicitations: [{ mode: "url" }], error: "overridden?" } });
    assert.deepEqual(errorBody(error, "req-1", "oauth"), {
      elicitations: [{ mode: "url" }],
      error: "connection_required",
      error_description: "connect it first",
    });
    assert.deepEqual(errorBody(error, "req-1", "api"), {
      elicitations: [{ mode: "url" }],
      error: "connection_required",
      error_description: "connect it first",
      request_id: "req-1",
    });
  });

  it("never sends the extra fields of an error that is not exposed", () => {
    const error = new BrokerError(500, "boom", "secret detail", { body: { leaked: true } });
    assert.deepEqual(errorBody(error, undefined, "oauth"), { error: "server_error", error_description: "internal error" });
  });
});

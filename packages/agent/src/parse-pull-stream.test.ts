import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createPullStreamParser, parsePullStream } from "./parse-pull-stream.js";

// As podman 4.3.1 streams them (recorded).
const REFUSED = [
  '{"stream":"Trying to pull 127.0.0.1:5055/e2e/x@sha256:00…\\n"}',
  '{"error":"initializing source docker://127.0.0.1:5055/e2e/x@sha256:00…: reading manifest sha256:00… in 127.0.0.1:5055/e2e/x: unauthorized: authentication required"}',
  "",
].join("\n");
const PULLED = [
  '{"stream":"Trying to pull 127.0.0.1:5055/e2e/x@sha256:ab…\\n"}',
  '{"stream":"Writing manifest to image destination\\n"}',
  '{"images":["6b2a726b22e5"],"id":"6b2a726b22e5"}',
  "",
].join("\n");

describe("parsePullStream", () => {
  it("finds the error a 200 answer carries in its stream", () => {
    assert.deepEqual(parsePullStream(REFUSED), {
      error:
        "initializing source docker://127.0.0.1:5055/e2e/x@sha256:00…: reading manifest sha256:00… in 127.0.0.1:5055/e2e/x: unauthorized: authentication required",
      images: [],
    });
  });

  it("reads the image id of a successful pull", () => {
    assert.deepEqual(parsePullStream(PULLED), { id: "6b2a726b22e5", images: ["6b2a726b22e5"] });
  });

  it("keeps the first error and ignores lines that are not JSON objects", () => {
    const text = 'garbage\n[1,2]\n"str"\n{"error":"first"}\n{"error":"second"}\n{"error":""}';
    assert.deepEqual(parsePullStream(text), { error: "first", images: [] });
  });

  it("skips an overlong line instead of buffering it", () => {
    const parser = createPullStreamParser();
    parser.push(`{"stream":"${"x".repeat(70_000)}`);
    parser.push(`${"y".repeat(10)}"}\n{"error":"after"}\n`);
    assert.deepEqual(parser.finish(), { error: "after", images: [] });
  });

  it("gives the same outcome however the stream is chunked, multi-byte characters included", () => {
    const bytes = Buffer.from(`${PULLED}{"error":"näh ✗"}\n`);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 20 }), (cuts) => {
        const parser = createPullStreamParser();
        let at = 0;
        for (const point of [...cuts].sort((a, b) => a - b)) {
          parser.push(bytes.subarray(at, point));
          at = point;
        }
        parser.push(bytes.subarray(at));
        assert.deepEqual(parser.finish(), {
          error: "näh ✗",
          id: "6b2a726b22e5",
          images: ["6b2a726b22e5"],
        });
      }),
    );
  });
});

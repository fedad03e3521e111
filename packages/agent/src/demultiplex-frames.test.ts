import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createFrameDemultiplexer } from "./demultiplex-frames.js";

function frame(stream: number, text: string | Buffer): Buffer {
  const body = typeof text === "string" ? Buffer.from(text) : text;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function demux(chunks: readonly Buffer[], max = 1024 * 1024) {
  const demultiplexer = createFrameDemultiplexer(max);
  for (const chunk of chunks) demultiplexer.push(chunk);
  return demultiplexer.finish();
}

describe("createFrameDemultiplexer", () => {
  it("splits stdout and stderr frames", () => {
    const out = demux([
      Buffer.concat([frame(1, "out\n"), frame(2, "err\n"), frame(1, "out2\n"), frame(0, "in")]),
    ]);
    assert.deepEqual(out, { stdout: "out\nout2\n", stderr: "err\n", truncated: false });
  });

  it("reads frames split anywhere across chunks, a byte at a time included", () => {
    const whole = Buffer.concat([frame(1, "héllo "), frame(2, Buffer.alloc(0)), frame(1, "wörld")]);
    const bytes = [...whole].map((byte) => Buffer.from([byte]));
    assert.deepEqual(demux(bytes), { stdout: "héllo wörld", stderr: "", truncated: false });
  });

  it("takes a stream without a header as raw stdout (a TTY)", () => {
    assert.deepEqual(demux([Buffer.from("plain "), Buffer.from("text\n")]), {
      stdout: "plain text\n",
      stderr: "",
      truncated: false,
    });
    assert.deepEqual(demux([Buffer.from("hi")]), { stdout: "hi", stderr: "", truncated: false });
  });

  it("keeps at most maxBytes over both streams and says it stopped", () => {
    const demultiplexer = createFrameDemultiplexer(10);
    assert.equal(demultiplexer.push(frame(1, "123456")), true);
    assert.equal(demultiplexer.push(frame(2, "abcdef")), false);
    assert.deepEqual(demultiplexer.finish(), { stdout: "123456", stderr: "abcd", truncated: true });
  });

  it("reports a frame cut short as truncated", () => {
    const cut = frame(1, "complete?").subarray(0, 12);
    assert.deepEqual(demux([cut]), { stdout: "comp", stderr: "", truncated: true });
  });

  it("gives the same output however the stream is chunked", () => {
    const frames = fc.array(
      fc.tuple(fc.constantFrom(1, 2), fc.string({ maxLength: 40, unit: "grapheme-ascii" })),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(frames, fc.array(fc.nat(), { maxLength: 30 }), (items, cuts) => {
        const whole = Buffer.concat(items.map(([stream, text]) => frame(stream, text)));
        const points = [...new Set(cuts.map((cut) => cut % (whole.length + 1)))].sort(
          (a, b) => a - b,
        );
        const chunks: Buffer[] = [];
        let at = 0;
        for (const point of [...points, whole.length]) {
          chunks.push(whole.subarray(at, point));
          at = point;
        }
        const expected = {
          stdout: items
            .filter(([stream]) => stream === 1)
            .map(([, text]) => text)
            .join(""),
          stderr: items
            .filter(([stream]) => stream === 2)
            .map(([, text]) => text)
            .join(""),
          truncated: false,
        };
        assert.deepEqual(demux(chunks), expected);
      }),
    );
  });
});

/** What a libpod image pull reported, read from its stream. */
export interface PullStreamOutcome {
  /** The first error the stream reported (the pull failed although the status was 200). */
  readonly error?: string;
  /** The image id, once the pull finished. */
  readonly id?: string;
  /** Image ids the pull resolved to. */
  readonly images: readonly string[];
}

/** Consumes the pull stream chunk by chunk. */
export interface PullStreamParser {
  push(chunk: Uint8Array | string): void;
  finish(): PullStreamOutcome;
}

/** A longer line than this is progress noise, not a report: it is skipped, not buffered. */
const MAX_LINE_BYTES = 64 * 1024;
const MAX_ERROR_CHARS = 8 * 1024;

/**
 * Reads `POST /libpod/images/pull`, which answers 200 at once and then streams one JSON object per
 * line: `{"stream": "…"}` progress, `{"error": "…"}` when the pull fails, and
 * `{"id": "…", "images": ["…"]}` at the end of a successful pull. The HTTP status says nothing
 * about the outcome: an `error` line does.
 *
 * @example
 * const parser = createPullStreamParser();
 * parser.push('{"stream":"Trying to pull …"}\n{"error":"manifest unknown"}\n');
 * parser.finish().error // "manifest unknown"
 */
export function createPullStreamParser(): PullStreamParser {
  const decoder = new TextDecoder();
  let buffered = "";
  let skipping = false;
  let error: string | undefined;
  let id: string | undefined;
  const images: string[] = [];

  const readLine = (line: string): void => {
    const trimmed = line.trim();
    if (trimmed.length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return;
    const record = parsed as Record<string, unknown>;
    if (typeof record.error === "string" && record.error.length > 0 && error === undefined) {
      error = record.error.slice(0, MAX_ERROR_CHARS);
    }
    if (typeof record.id === "string" && record.id.length > 0) id = record.id;
    if (Array.isArray(record.images)) {
      for (const image of record.images) if (typeof image === "string") images.push(image);
    }
  };

  const take = (text: string): void => {
    let rest = text;
    for (;;) {
      const newline = rest.indexOf("\n");
      if (newline < 0) break;
      const line = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      if (skipping) skipping = false;
      else readLine(buffered + line);
      buffered = "";
    }
    if (skipping) return;
    buffered += rest;
    if (buffered.length > MAX_LINE_BYTES) {
      buffered = "";
      skipping = true;
    }
  };

  return {
    push(chunk) {
      take(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
    },
    finish() {
      take(decoder.decode());
      if (!skipping) readLine(buffered);
      buffered = "";
      return {
        ...(error !== undefined ? { error } : {}),
        ...(id !== undefined ? { id } : {}),
        images: [...images],
      };
    },
  };
}

/**
 * Parses a whole pull stream at once.
 *
 * @example
 * parsePullStream('{"id":"abc","images":["abc"]}\n').id // "abc"
 */
export function parsePullStream(text: string): PullStreamOutcome {
  const parser = createPullStreamParser();
  parser.push(text);
  return parser.finish();
}

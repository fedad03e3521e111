import { DOCUMENT_LIMITS, escapePointerToken } from "@gpuaas/contract";

/** One problem {@link parseJsonText} found, at an offset (UTF-16 code units) into the text. */
export interface JsonProblem {
  readonly kind: "syntax" | "duplicate_key";
  readonly message: string;
  readonly offset: number;
  /** The JSON pointer of a duplicate member; empty for a syntax error. */
  readonly pointer: string;
}

/** The outcome of {@link parseJsonText}. */
export type JsonParse =
  | {
      readonly ok: true;
      readonly value: unknown;
      /** Where each value starts, by JSON pointer; an object member starts at its key. */
      readonly offsets: ReadonlyMap<string, number>;
    }
  | { readonly ok: false; readonly problems: readonly JsonProblem[] };

interface ObjectFrame {
  readonly kind: "object";
  readonly value: Record<string, unknown>;
  /** Undefined below the depth the contract accepts: nothing there needs a position. */
  readonly pointer: string | undefined;
  readonly keys: Set<string>;
  key: string;
}

interface ArrayFrame {
  readonly kind: "array";
  readonly value: unknown[];
  readonly pointer: string | undefined;
}

type Frame = ObjectFrame | ArrayFrame;

class JsonFailure {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/**
 * Parses strict JSON (RFC 8259) and reports every duplicate key and the line-addressable offset
 * of each value.
 *
 * `JSON.parse` is not enough for a linter: it keeps the last of two duplicate keys silently, its
 * messages change between Node versions, carry no line or column and may quote the whole input.
 * The parser is iterative, so no nesting depth can overflow the stack; pointers and offsets are
 * recorded only within the contract's document limits, which bound memory on hostile input.
 *
 * @example parseJsonText('{"a": 1, "a": 2}') // { ok: false, problems: [{ kind: "duplicate_key", … }] }
 */
export function parseJsonText(text: string): JsonParse {
  const offsets = new Map<string, number>();
  const duplicates: JsonProblem[] = [];
  const stack: Frame[] = [];
  let position = 0;

  const recordOffset = (pointer: string | undefined, offset: number): void => {
    if (pointer !== undefined && offsets.size < DOCUMENT_LIMITS.maxValues)
      offsets.set(pointer, offset);
  };
  const childPointer = (frame: Frame, token: string | number): string | undefined =>
    frame.pointer === undefined || stack.length > DOCUMENT_LIMITS.maxDepth
      ? undefined
      : `${frame.pointer}/${escapePointerToken(token)}`;
  const skipWhitespace = (): void => {
    for (;;) {
      const code = text.charCodeAt(position);
      if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) position += 1;
      else return;
    }
  };
  const fail = (message: string, offset = position): never => {
    throw new JsonFailure(message, offset);
  };
  const found = (): string => {
    const codePoint = text.codePointAt(position);
    return codePoint === undefined
      ? "the end of the text"
      : JSON.stringify(String.fromCodePoint(codePoint));
  };

  const readString = (): string => {
    const start = position;
    position += 1;
    let result = "";
    let chunkStart = position;
    for (;;) {
      const code = text.charCodeAt(position);
      if (Number.isNaN(code)) return fail("unterminated string", start);
      if (code === 0x22) {
        result += text.slice(chunkStart, position);
        position += 1;
        return result;
      }
      if (code < 0x20) return fail("control character in a string; write it as an escape");
      if (code !== 0x5c) {
        position += 1;
        continue;
      }
      result += text.slice(chunkStart, position);
      const escaped = text[position + 1];
      if (escaped === "u") {
        const hex = text.slice(position + 2, position + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) return fail("\\u is followed by four hex digits");
        result += String.fromCharCode(Number.parseInt(hex, 16));
        position += 6;
      } else {
        const replacement = escaped === undefined ? undefined : ESCAPES[escaped];
        if (replacement === undefined) return fail("invalid escape in a string");
        result += replacement;
        position += 2;
      }
      chunkStart = position;
    }
  };

  const readKey = (frame: ObjectFrame): void => {
    skipWhitespace();
    if (text[position] !== '"') fail(`expected a quoted key, found ${found()}`);
    const start = position;
    const key = readString();
    const pointer = childPointer(frame, key);
    if (frame.keys.has(key)) {
      duplicates.push({
        kind: "duplicate_key",
        message: `duplicate key ${JSON.stringify(key)}`,
        offset: start,
        pointer: pointer ?? "",
      });
    }
    frame.keys.add(key);
    frame.key = key;
    recordOffset(pointer, start);
    skipWhitespace();
    if (text[position] !== ":") fail(`expected ":" after the key, found ${found()}`);
    position += 1;
  };

  const readScalar = (): unknown => {
    const char = text[position];
    if (char === '"') return readString();
    for (const [literal, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(literal, position)) {
        position += literal.length;
        return value;
      }
    }
    if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) {
      NUMBER.lastIndex = position;
      const match = NUMBER.exec(text);
      if (match === null) return fail("invalid number");
      position += match[0].length;
      return Number(match[0]);
    }
    return fail(`expected a value, found ${found()}`);
  };

  const put = (frame: Frame, value: unknown): void => {
    if (frame.kind === "array") frame.value.push(value);
    // Assigning "__proto__" would replace the prototype; JSON.parse defines an own property.
    else if (frame.key === "__proto__")
      Object.defineProperty(frame.value, frame.key, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    else frame.value[frame.key] = value;
  };

  try {
    for (;;) {
      skipWhitespace();
      const parent = stack.at(-1);
      let pointer: string | undefined = "";
      if (parent?.kind === "object") pointer = childPointer(parent, parent.key);
      else if (parent?.kind === "array") {
        pointer = childPointer(parent, parent.value.length);
        recordOffset(pointer, position);
      } else recordOffset(pointer, position);

      let value: unknown;
      const char = text[position];
      if (char === "{") {
        position += 1;
        skipWhitespace();
        const frame: ObjectFrame = {
          kind: "object",
          value: {},
          pointer,
          keys: new Set<string>(),
          key: "",
        };
        if (text[position] === "}") {
          position += 1;
          value = frame.value;
        } else {
          stack.push(frame);
          readKey(frame);
          continue;
        }
      } else if (char === "[") {
        position += 1;
        skipWhitespace();
        if (text[position] === "]") {
          position += 1;
          value = [];
        } else {
          stack.push({ kind: "array", value: [], pointer });
          continue;
        }
      } else {
        value = readScalar();
      }

      // Close every container the value completes, then read the next member or finish.
      for (;;) {
        const frame = stack.at(-1);
        if (frame === undefined) {
          skipWhitespace();
          if (position < text.length) fail(`unexpected ${found()} after the document`);
          return duplicates.length > 0
            ? { ok: false, problems: duplicates }
            : { ok: true, value, offsets };
        }
        put(frame, value);
        skipWhitespace();
        const close = frame.kind === "object" ? "}" : "]";
        if (text[position] === ",") {
          position += 1;
          if (frame.kind === "object") readKey(frame);
          break;
        }
        if (text[position] !== close) fail(`expected "," or "${close}", found ${found()}`);
        position += 1;
        stack.pop();
        value = frame.value;
      }
    }
  } catch (error) {
    if (!(error instanceof JsonFailure)) throw error;
    return {
      ok: false,
      problems: [
        ...duplicates,
        { kind: "syntax", message: error.message, offset: error.offset, pointer: "" },
      ],
    };
  }
}

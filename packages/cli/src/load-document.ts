import type { Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { extname } from "node:path";
import { createInputIssue, type InputIssue, type InputIssueCode } from "./input-issues.js";
import { createLineIndex } from "./line-index.js";
import {
  type DocumentFormat,
  type ParsedDocument,
  parseDocumentText,
} from "./parse-document-text.js";

/** The largest manifest file read, in bytes (1 MiB); a real profile is a few KiB. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** The file extensions a manifest may have, and the format each one means. */
export const DOCUMENT_EXTENSIONS: Readonly<Record<string, DocumentFormat>> = {
  ".yaml": "yaml",
  ".yml": "yaml",
  ".json": "json",
};

/** The outcome of {@link loadDocument}: the parsed document, or every reason it is unusable. */
export type DocumentLoad =
  | { readonly ok: true; readonly file: string; readonly document: ParsedDocument }
  | { readonly ok: false; readonly file: string; readonly issues: readonly InputIssue[] };

/** Options of {@link loadDocument}. */
export interface LoadDocumentOptions {
  /** The size bound in bytes; {@link MAX_DOCUMENT_BYTES} unless given. */
  readonly maxBytes?: number;
}

/** The format a file name implies by its extension (case-insensitive), if any. */
export function toDocumentFormat(file: string): DocumentFormat | undefined {
  const extension = extname(file).toLowerCase();
  return Object.hasOwn(DOCUMENT_EXTENSIONS, extension) ? DOCUMENT_EXTENSIONS[extension] : undefined;
}

/**
 * Reads and parses one manifest file (YAML or JSON, by extension). Never throws for bad input:
 * a missing, unreadable, oversized, non-UTF-8 or malformed file comes back as issues with stable
 * `input.*` codes. The size is checked before the content is read, and the read itself is bounded
 * in case the file grows in between.
 *
 * @example
 * const loaded = await loadDocument("profiles/jupyterlab.yaml");
 * if (loaded.ok) validateProfile(loaded.document.value);
 */
export async function loadDocument(
  file: string,
  options: LoadDocumentOptions = {},
): Promise<DocumentLoad> {
  const maxBytes = options.maxBytes ?? MAX_DOCUMENT_BYTES;
  let stats: Stats;
  try {
    stats = await stat(file);
  } catch (error) {
    return { ok: false, file, issues: [toFileIssue(error)] };
  }
  // Checked before opening: opening a FIFO for reading would block until a writer appears.
  if (!stats.isFile()) return failed(file, "input.unreadable", describeNonFile(stats));
  const format = toDocumentFormat(file);
  if (format === undefined) {
    return failed(
      file,
      "input.unsupported_type",
      "a profile manifest file name ends in .yaml, .yml or .json",
    );
  }
  if (stats.size > maxBytes) {
    return failed(
      file,
      "input.too_large",
      `the file is ${stats.size} bytes; the limit is ${maxBytes} bytes`,
    );
  }
  const read = await readBounded(file, stats.size, maxBytes);
  if (!read.ok) return { ok: false, file, issues: [read.issue] };
  const text = decodeUtf8(read.bytes);
  if (typeof text !== "string") return { ok: false, file, issues: [text] };
  const parsed = parseDocumentText(text, format);
  return parsed.ok
    ? { ok: true, file, document: parsed.document }
    : { ok: false, file, issues: parsed.issues };
}

function failed(file: string, code: InputIssueCode, message: string): DocumentLoad {
  return { ok: false, file, issues: [createInputIssue(code, message)] };
}

type BoundedRead =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly issue: InputIssue };

/** Reads at most `maxBytes`, whatever the size the file claimed: it may grow, or be a /proc file. */
async function readBounded(file: string, size: number, maxBytes: number): Promise<BoundedRead> {
  try {
    const handle = await open(file, "r");
    try {
      let buffer = new Uint8Array(Math.min(size, maxBytes) + 1);
      let length = 0;
      while (length <= maxBytes) {
        if (length === buffer.length) {
          const grown = new Uint8Array(Math.min(buffer.length * 2, maxBytes + 1));
          grown.set(buffer);
          buffer = grown;
        }
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) return { ok: true, bytes: buffer.subarray(0, length) };
        length += bytesRead;
      }
      return {
        ok: false,
        issue: createInputIssue(
          "input.too_large",
          `the file is more than ${maxBytes} bytes; the limit is ${maxBytes} bytes`,
        ),
      };
    } finally {
      await handle.close();
    }
  } catch (error) {
    return { ok: false, issue: toFileIssue(error) };
  }
}

function describeNonFile(stats: Stats): string {
  return stats.isDirectory()
    ? "a directory, not a file"
    : "not a regular file (a device, socket or pipe)";
}

/** The input issue for an error the file system raised while reading a path. */
export function toFileIssue(error: unknown): InputIssue {
  const code =
    typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  switch (code) {
    case "ENOENT":
      return createInputIssue("input.not_found", "no such file or directory");
    case "ENOTDIR":
      return createInputIssue("input.not_found", "a part of the path is not a directory");
    case "EACCES":
    case "EPERM":
      return createInputIssue("input.unreadable", "permission denied");
    case "ELOOP":
      return createInputIssue("input.unreadable", "too many levels of symbolic links");
    case "ENAMETOOLONG":
      return createInputIssue("input.unreadable", "the path is too long");
    default:
      return createInputIssue(
        "input.unreadable",
        code === "" ? `cannot read it: ${String(error)}` : `cannot read it (${code})`,
      );
  }
}

/** The text of UTF-8 bytes (a leading byte order mark is dropped), or an issue that says where not. */
function decodeUtf8(bytes: Uint8Array): string | InputIssue {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Decode again leniently only to say where the first bad byte is: it becomes U+FFFD.
    const lenient = new TextDecoder("utf-8").decode(bytes);
    const offset = lenient.indexOf("\uFFFD");
    return createInputIssue(
      "input.encoding",
      "the file is not valid UTF-8; save it as UTF-8",
      offset === -1 ? undefined : createLineIndex(lenient)(offset),
    );
  }
}

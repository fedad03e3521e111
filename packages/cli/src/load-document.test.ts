import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { expandDocumentPaths } from "./expand-document-paths.js";
import { type DocumentLoad, loadDocument, MAX_DOCUMENT_BYTES } from "./load-document.js";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "gpuaas-load-document-"));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function codesOf(loaded: DocumentLoad): string[] {
  assert.ok(!loaded.ok, "expected the file to be unusable");
  return loaded.issues.map((issue) => issue.code);
}

describe("loadDocument", () => {
  it("loads YAML and JSON by extension, in any letter case", async () => {
    for (const name of ["a.yaml", "b.yml", "c.YAML"]) {
      const loaded = await loadDocument(write(name, "profile:\n  slug: demo\n"));
      assert.ok(loaded.ok);
      assert.equal(loaded.document.format, "yaml");
      assert.deepEqual(loaded.document.value, { profile: { slug: "demo" } });
    }
    const loaded = await loadDocument(write("d.json", '{"profile": {}}'));
    assert.ok(loaded.ok);
    assert.equal(loaded.document.format, "json");
  });

  it("drops a UTF-8 byte order mark", async () => {
    const loaded = await loadDocument(write("bom.json", '\uFEFF{"a": 1}'));
    assert.ok(loaded.ok);
    assert.deepEqual(loaded.document.value, { a: 1 });
  });

  it("refuses a path that is missing, a directory or of another type", async () => {
    assert.deepEqual(codesOf(await loadDocument(join(dir, "missing.yaml"))), ["input.not_found"]);
    assert.deepEqual(codesOf(await loadDocument(join(dir, "missing/deeper.yaml"))), [
      "input.not_found",
    ]);
    mkdirSync(join(dir, "folder.yaml"));
    assert.deepEqual(codesOf(await loadDocument(join(dir, "folder.yaml"))), ["input.unreadable"]);
    assert.deepEqual(codesOf(await loadDocument(write("notes.txt", "a: 1\n"))), [
      "input.unsupported_type",
    ]);
  });

  it("refuses a FIFO without blocking on it", async (context) => {
    const fifo = join(dir, "pipe.yaml");
    if (spawnSync("mkfifo", [fifo]).status !== 0) {
      context.skip("mkfifo is not available");
      return;
    }
    assert.deepEqual(codesOf(await loadDocument(fifo)), ["input.unreadable"]);
  });

  it("refuses a file over the size bound before reading it, and accepts one at the bound", async () => {
    const header = "a: 1\n#";
    const atBound = write("at-bound.yaml", header + "x".repeat(MAX_DOCUMENT_BYTES - header.length));
    assert.equal((await loadDocument(atBound)).ok, true);
    const over = write("over.yaml", header + "x".repeat(MAX_DOCUMENT_BYTES - header.length + 1));
    const loaded = await loadDocument(over);
    assert.deepEqual(codesOf(loaded), ["input.too_large"]);
    assert.ok(!loaded.ok);
    assert.match(loaded.issues[0]?.message ?? "", /1048577 bytes; the limit is 1048576 bytes/);
    assert.deepEqual(codesOf(await loadDocument(atBound, { maxBytes: 10 })), ["input.too_large"]);
  });

  it("bounds the read even when the file claims a smaller size", async (context) => {
    // Files under /proc report a size of 0 but have content.
    if (!existsSync("/proc/version")) {
      context.skip("no /proc/version here");
      return;
    }
    const link = join(dir, "proc-version.yaml");
    symlinkSync("/proc/version", link);
    assert.deepEqual(codesOf(await loadDocument(link)), ["input.not_object"]);
    const bounded = await loadDocument(link, { maxBytes: 10 });
    assert.ok(!bounded.ok);
    assert.equal(
      bounded.issues[0]?.message,
      "the file is more than 10 bytes; the limit is 10 bytes",
    );
  });

  it("refuses bytes that are not UTF-8 and says where", async () => {
    const loaded = await loadDocument(
      write("latin1.yaml", Uint8Array.from([...Buffer.from("a: 1\nb: caf"), 0xe9, 0x0a])),
    );
    assert.ok(!loaded.ok);
    assert.deepEqual(loaded.issues, [
      {
        pointer: "",
        code: "input.encoding",
        message: "the file is not valid UTF-8; save it as UTF-8",
        severity: "error",
        line: 2,
        column: 7,
      },
    ]);
  });
});

describe("expandDocumentPaths", () => {
  it("expands a directory to its manifest files, sorted, skipping hidden and other files", async () => {
    const profiles = join(dir, "profiles");
    mkdirSync(profiles);
    for (const name of ["b.yml", "a.yaml", "C.json", ".hidden.yaml", "README.md", "z.yaml.bak"]) {
      writeFileSync(join(profiles, name), "{}");
    }
    mkdirSync(join(profiles, "nested.yaml"));
    symlinkSync(join(profiles, "a.yaml"), join(profiles, "d.yaml"));
    const expanded = await expandDocumentPaths([profiles, join(profiles, "a.yaml")]);
    assert.deepEqual(
      expanded.map((entry) => [entry.file.slice(profiles.length + 1), entry.issue]),
      [
        ["C.json", undefined],
        ["a.yaml", undefined],
        ["b.yml", undefined],
        ["d.yaml", undefined],
      ],
    );
  });

  it("keeps files as given, missing ones included, and reports an empty directory", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const expanded = await expandDocumentPaths(["x.yaml", empty, "./x.yaml"]);
    assert.deepEqual(
      expanded.map((entry) => [entry.file, entry.issue?.code]),
      [
        ["x.yaml", undefined],
        [empty, "input.empty_directory"],
      ],
    );
  });
});

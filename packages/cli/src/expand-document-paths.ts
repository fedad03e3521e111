import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInputIssue, type InputIssue } from "./input-issues.js";
import { toDocumentFormat, toFileIssue } from "./load-document.js";

/** One file to check, or a path argument that cannot yield any (with the reason). */
export interface DocumentPath {
  readonly file: string;
  readonly issue: InputIssue | undefined;
}

/**
 * Expands command-line paths into the manifest files to check: a file stays as given, a directory
 * becomes its `.yaml`, `.yml` and `.json` files (not recursively, hidden files skipped), sorted by
 * name. A path named twice is checked once. A path that does not exist is kept, so that loading it
 * reports it.
 *
 * @example await expandDocumentPaths(["profiles/"]) // [{ file: "profiles/jupyterlab.yaml", … }]
 */
export async function expandDocumentPaths(paths: readonly string[]): Promise<DocumentPath[]> {
  const expanded: DocumentPath[] = [];
  const seen = new Set<string>();
  const add = (file: string, issue?: InputIssue): void => {
    const key = resolve(file);
    if (seen.has(key)) return;
    seen.add(key);
    expanded.push({ file, issue });
  };
  for (const path of paths) {
    const isDirectory = await stat(path).then(
      (stats) => stats.isDirectory(),
      () => false,
    );
    if (!isDirectory) {
      add(path);
      continue;
    }
    let names: string[];
    try {
      names = (await readdir(path, { withFileTypes: true }))
        .filter(
          (entry) =>
            !entry.name.startsWith(".") &&
            (entry.isFile() || entry.isSymbolicLink()) &&
            toDocumentFormat(entry.name) !== undefined,
        )
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      add(path, toFileIssue(error));
      continue;
    }
    if (names.length === 0) {
      add(
        path,
        createInputIssue(
          "input.empty_directory",
          "the directory holds no .yaml, .yml or .json file",
        ),
      );
    }
    for (const name of names) add(join(path, name));
  }
  return expanded;
}

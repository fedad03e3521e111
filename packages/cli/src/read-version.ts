import { readFileSync } from "node:fs";

/** The version of the `gpuaas` command, from its package.json. */
export function readVersion(): string {
  // src/ and dist/ both sit beside package.json.
  const manifest: unknown = JSON.parse(
    readFileSync(new URL("../package.json", import.meta.url), "utf8"),
  );
  const version =
    typeof manifest === "object" && manifest !== null && "version" in manifest
      ? manifest.version
      : undefined;
  if (typeof version !== "string") throw new Error("packages/cli/package.json has no version");
  return version;
}

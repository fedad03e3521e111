// A platform registry for trying the control plane by hand: Debian's docker-registry (the CNCF
// distribution registry) on 127.0.0.1:5055, the address `gpuaas up` expects by default, with a
// stand-in for JupyterLab's CPU runtime pushed as jupyterlab/runtime-cpu (busybox httpd serving
// /api on 8888, since the real notebook image cannot be fetched here; without busybox-static, a
// placeholder that cannot start). Prints the digest to register; Ctrl-C stops it.
// Run: npm run dev:registry [-- --port 5055]
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushImage } from "../packages/server/test/registry-fixture.js";
import {
  buildJupyterStandInImage,
  OCI_MANIFEST_TYPE,
  pushImage as pushRunnableImage,
} from "../test/e2e/fixtures/workload-image.js";

const portFlag = process.argv.indexOf("--port");
const port = portFlag > 0 ? Number(process.argv[portFlag + 1]) : 5055;
const dir = await mkdtemp(join(tmpdir(), "gpuaas-dev-registry-"));
const config = join(dir, "config.yml");
await writeFile(
  config,
  [
    "version: 0.1",
    "log: { level: error, accesslog: { disabled: true } }",
    `storage: { filesystem: { rootdirectory: ${join(dir, "data")} } }`,
    `http: { addr: 127.0.0.1:${port} }`,
    "",
  ].join("\n"),
);
const registry = spawn("docker-registry", ["serve", config], {
  stdio: ["ignore", "inherit", "inherit"],
});
registry.once("error", (error) => {
  console.error(`cannot start docker-registry (apt-get install docker-registry): ${error.message}`);
  process.exit(1);
});
const url = `http://127.0.0.1:${port}`;
const deadline = Date.now() + 10_000;
while (Date.now() < deadline) {
  try {
    if ((await fetch(`${url}/v2/`)).ok) break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
let digest: string;
let what: string;
try {
  const standIn = await buildJupyterStandInImage(`dev registry ${new Date().toISOString()}`);
  digest = await pushRunnableImage(url, "jupyterlab/runtime-cpu", "dev", standIn, "oci");
  what = "a JupyterLab stand-in (busybox httpd serving /api on 8888)";
} catch (error) {
  digest = (await pushImage(url, "jupyterlab/runtime-cpu", { tag: "dev" })).digest;
  what = `a placeholder that cannot start (${error instanceof Error ? error.message : String(error)})`;
}
console.log(`registry on ${url} (pid ${registry.pid}); pushed jupyterlab/runtime-cpu: ${what}`);
console.log(`  repository: 127.0.0.1:${port}/jupyterlab/runtime-cpu`);
console.log(`  digest:     ${digest}`);
console.log(`  media type: ${OCI_MANIFEST_TYPE}`);
console.log("Ctrl-C stops it and deletes its storage.");
const stop = async () => {
  registry.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());

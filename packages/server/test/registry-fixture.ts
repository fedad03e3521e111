// A real CNCF distribution registry (Debian's docker-registry 2.8.2) on 127.0.0.1 with a free port
// and a temporary storage directory, and a helper that pushes a tiny image to it over the
// distribution API from Node (no podman, no skopeo).
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running registry. */
export interface RegistryFixture {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>`: the registry part of a repository. */
  readonly host: string;
  readonly pid: number;
  /** Stops the registry (SIGTERM, then SIGKILL after 5 s) and removes its storage. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `docker-registry serve` and waits until `GET /v2/` answers. */
export async function startRegistry(): Promise<RegistryFixture> {
  let lastError: unknown;
  // The port may be taken between finding and binding it; try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      return await startOnce(await findFreePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(port: number): Promise<RegistryFixture> {
  const dir = await mkdtemp(join(tmpdir(), "gpuaas-registry-"));
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log: { level: error, accesslog: { disabled: true } }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      "",
    ].join("\n"),
  );
  const child = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once("error", reject));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopChild(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([waitForV2(url, child), spawnFailed]);
  } catch (error) {
    await stop();
    throw new Error(`docker-registry did not start on ${url}: ${String(error)}\n${stderr}`);
  }
  if (child.pid === undefined) throw new Error("docker-registry has no pid");
  return { url, host: `127.0.0.1:${port}`, pid: child.pid, stop };
}

async function waitForV2(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no answer from ${url}/v2/ within ${START_TIMEOUT_MS} ms`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  process.kill(child.pid, "SIGTERM");
  const timer = new Promise<"timeout">((resolve) =>
    setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref(),
  );
  if ((await Promise.race([exited, timer])) === "timeout") {
    process.kill(child.pid, "SIGKILL");
    await exited;
  }
}

/** The manifest formats {@link pushImage} can write. */
export type ImageFormat = "oci" | "docker";

/** What a push produced. */
export interface PushedImage {
  readonly name: string;
  readonly tag: string;
  /** The manifest digest the registry reported (and the sha256 of the bytes sent). */
  readonly digest: string;
  readonly media_type: string;
  readonly size: number;
}

const FORMATS = {
  oci: {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar",
  },
  docker: {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar",
  },
} as const;

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A one-file tar archive (512-byte header, content, padding, two zero blocks). */
function makeTar(fileName: string, content: string): Uint8Array {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(fileName, 0, 100, "utf8");
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, padding, Buffer.alloc(1024)]);
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status !== status) {
    throw new Error(
      `${what}: expected ${status}, got ${response.status}: ${await response.text()}`,
    );
  }
}

/** Uploads one blob: `POST /v2/<name>/blobs/uploads/`, then `PUT <location>&digest=`. */
async function pushBlob(registryUrl: string, name: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`${registryUrl}/v2/${name}/blobs/uploads/`, {
    method: "POST",
    signal: AbortSignal.timeout(5_000),
  });
  await expectStatus(start, 202, `start upload to ${name}`);
  await start.body?.cancel();
  const location = start.headers.get("location");
  if (location === null) throw new Error("the registry gave no upload location");
  const target = new URL(location, registryUrl);
  target.searchParams.set("digest", digest);
  const put = await fetch(target, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
    signal: AbortSignal.timeout(5_000),
  });
  await expectStatus(put, 201, `finish upload of ${digest}`);
  await put.body?.cancel();
  return digest;
}

/**
 * Pushes a tiny single-layer image (a config blob, a layer blob, then a manifest under `tag`) and
 * returns the manifest digest the registry reports. `seed` makes the content, and so the digest,
 * distinct.
 */
export async function pushImage(
  registryUrl: string,
  name: string,
  options: { readonly tag?: string; readonly format?: ImageFormat; readonly seed?: string } = {},
): Promise<PushedImage> {
  const tag = options.tag ?? "latest";
  const format = FORMATS[options.format ?? "oci"];
  const layer = makeTar("hello.txt", `hello from ${name} ${options.seed ?? ""}\n`);
  const layerDigest = await pushBlob(registryUrl, name, layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["/hello"] },
      rootfs: { type: "layers", diff_ids: [layerDigest] },
    }),
  );
  const configDigest = await pushBlob(registryUrl, name, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: format.manifest,
      config: { mediaType: format.config, digest: configDigest, size: config.length },
      layers: [{ mediaType: format.layer, digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await fetch(`${registryUrl}/v2/${name}/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": format.manifest },
    body: manifest,
    signal: AbortSignal.timeout(5_000),
  });
  await expectStatus(put, 201, `put manifest ${name}:${tag}`);
  await put.body?.cancel();
  const digest = put.headers.get("docker-content-digest") ?? "";
  if (digest !== sha256(manifest))
    throw new Error(`the registry reported ${digest} for a manifest of ${sha256(manifest)}`);
  return { name, tag, digest, media_type: format.manifest, size: manifest.length };
}

// Launch overhead: for the same image on the same machine, the time from `POST app-instances` to
// `running` through `gpuaas up` and its in-process agent on podman, against the raw floor:
// `podman run -d` with exactly the flags the agent renders, plus polling the same readiness URL
// until it answers. 20 runs of each, interleaved (the order alternates), after a warm-up that
// pulls the image. Also the resident memory of an idle agent (`gpuaas agent run`, registered and
// long-polling) and of `gpuaas up`, and of the `podman system service` each runs for the podman
// API driver. A benchmark, not a test: it prints figures and asserts nothing.
// Run: npm run bench:launch   (needs podman, docker-registry and busybox-static: npm run setup)
// The agents drive podman through its libpod API, the default; GPUAAS_AGENT_PODMAN_DRIVER=cli
// npm run bench:launch measures the CLI driver instead.
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  loadAgentConfig,
  renderCreateArgs,
  SERVICE_PID_FILE,
  toCreateRequest,
  toPodmanSocketPath,
} from "@gpuaas/agent";
import { resolveLaunch, validateProfile } from "@gpuaas/contract";
import { renderOciLaunch } from "@gpuaas/engines";
import YAML from "yaml";
import { findFreePort } from "../packages/server/test/registry-fixture.js";
import { startTokenRegistry } from "../packages/server/test/token-registry-fixture.js";
import { createApiClient } from "../test/e2e/fixtures/api-client.js";
import { type Spawned, startAgent, startUp } from "../test/e2e/fixtures/gpuaas-processes.js";
import {
  buildHttpEchoImage,
  hostArchitecture,
  MANIFEST_TYPE,
  pushImage,
} from "../test/e2e/fixtures/workload-image.js";

const RUNS = 20;
const WARMUP_RUNS = 2;
/** How often the raw floor polls the readiness URL. */
const POLL_MS = 5;
const IDLE_SETTLE_MS = 8_000;
/** Seconds to wait at most for other work on the machine to stop before measuring. */
const QUIET_WAIT_SECONDS = 60;
const execFileAsync = promisify(execFile);
const PROFILE = new URL("../test/fixtures/profiles/http-echo.yaml", import.meta.url);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function readMachineCpu(): { busy: number; total: number } | undefined {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length < 5) return undefined;
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** Waits until the machine is quiet (under a quarter of a core busy for 2 s); returns the last busy %. */
async function waitForQuietMachine(limitSeconds: number): Promise<number> {
  let quiet = 0;
  let busy = Number.NaN;
  for (let second = 0; second < limitSeconds; second += 1) {
    const before = readMachineCpu();
    await sleep(1_000);
    const after = readMachineCpu();
    if (before === undefined || after === undefined) return Number.NaN;
    busy =
      ((after.busy - before.busy) / Math.max(1, after.total - before.total)) * cpus().length * 100;
    quiet = busy < 25 ? quiet + 1 : 0;
    if (quiet >= 2) break;
  }
  return busy;
}

async function rssMib(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round((kib / 1024) * 10) / 10;
}

/** RSS of the podman API service an agent with this state directory runs, if it runs one. */
async function serviceRssMib(stateDir: string): Promise<number | null> {
  const pidFile = join(dirname(toPodmanSocketPath(stateDir)), SERVICE_PID_FILE);
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 1) return null;
  return rssMib(pid).catch(() => null);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(POLL_MS);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  if (spawnSync("podman", ["--version"], { stdio: "ignore" }).status !== 0) {
    console.error("launch-overhead: podman is not installed; run npm run setup first");
    process.exitCode = 1;
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "gpuaas-bench-launch-"));
  const run = randomBytes(3).toString("hex");
  const agentDir = join(dir, "data", "agent");
  const podmanEnv = { ...process.env, CONTAINERS_CONF: join(agentDir, "containers.conf") };
  const podman = (args: readonly string[]) =>
    execFileAsync("podman", [...args], { env: podmanEnv, encoding: "utf8", timeout: 60_000 });
  const registryPort = await findFreePort();
  const cleanups: (() => Promise<unknown>)[] = [];
  const rawNames: string[] = [];
  let idleAgent: Spawned | undefined;
  try {
    const up = await startUp({
      dataDir: join(dir, "data"),
      registryUrl: `http://127.0.0.1:${registryPort}`,
      agentRuntime: "podman",
      env: { GPUAAS_LOG_LEVEL: "warn" },
    });
    cleanups.push(() => up.stop());
    const registry = await startTokenRegistry({
      realm: `${up.url}/api/v1/registry/token`,
      service: "gpuaas-registry",
      issuer: "gpuaas-control-plane",
      rootCertBundle: up.certFile,
      port: registryPort,
    });
    cleanups.push(() => registry.stop());
    const image = await buildHttpEchoImage(`bench ${run}`);
    const digest = await pushImage(registry.pushUrl, "e2e/http-echo", "1", image);
    const imageRef = `${registry.host}/e2e/http-echo@${digest}`;
    cleanups.push(() => podman(["rmi", "-f", imageRef]).catch(() => undefined));

    const api = createApiClient(up.url, up.operatorToken);
    const me = await api.expect(200, "GET", "/me");
    const projectId = (me.json.projects as { id: string; slug: string }[])[0]?.id ?? "";
    const allocation = (await api.expect(200, "GET", `/projects/${projectId}/allocations`)).json
      .items[0] as { id: string; node_id: string };
    const manifest = YAML.parse(await readFile(PROFILE, "utf8")) as Record<string, unknown>;
    await api.expect(201, "POST", "/apps/catalog/http-echo/versions", {
      version: "1.0.0",
      manifest,
      published: true,
    });
    const artifact = await api.expect(
      201,
      "POST",
      "/apps/catalog/http-echo/versions/1.0.0/artifacts",
      {
        artifact_name: "e2e/http-echo",
        repository: `${registry.host}/e2e/http-echo`,
        digest,
        media_type: MANIFEST_TYPE,
        platform: { os: "linux", architecture: hostArchitecture() },
        accelerator: { vendor: "none" },
      },
    );
    await api.expect(200, "POST", `/artifacts/${artifact.json.id}/verify`);
    await api.expect(200, "POST", `/artifacts/${artifact.json.id}/transitions`, {
      to: "published",
    });
    await api.expect(200, "PUT", `/projects/${projectId}/apps/entitlements/http-echo`, {
      enabled: true,
    });

    // The raw floor runs what the agent runs: the spec the control plane renders for this
    // profile, turned into the agent's own create argv, with `create` made `run -d`.
    const { profile } = validateProfile(manifest);
    if (profile === undefined) throw new Error("http-echo does not validate");
    const { config } = loadAgentConfig(
      {
        workloadsRoot: join(dir, "raw", "workloads"),
        projectStorageRoot: join(dir, "raw", "projects"),
        secretsDir: join(dir, "raw", "secrets"),
      },
      process.arch,
    );
    if (config === undefined) throw new Error("agent configuration");
    const rawArgs = async (index: number, hostPort: number): Promise<string[]> => {
      const resolved = resolveLaunch(profile, {
        app_slug: "http-echo",
        app_version: "1.0.0",
        placement_intent: { target_allocation_id: allocation.id },
        config: { workspace_mount: "scratch", host_port: hostPort },
        resource_overrides: {},
      });
      if (resolved.launch === undefined) throw new Error(JSON.stringify(resolved.issues));
      const instance = `bench-raw-${run}-${index}`;
      const spec = renderOciLaunch({
        profile,
        launch: resolved.launch,
        identity: {
          project_id: projectId,
          instance_id: instance,
          generation: 1,
          correlation_id: instance,
        },
        placement: {
          allocation_id: allocation.id,
          node_id: allocation.node_id,
          cpu_architecture: hostArchitecture(),
          accelerator_vendor: "none",
          gpu_indices: [],
          gpu_mask: [],
        },
        artifact: {
          artifact_id: artifact.json.id,
          registry: registry.host,
          repository: "e2e/http-echo",
          digest,
          media_type: MANIFEST_TYPE,
        },
      });
      const request = toCreateRequest(spec, config);
      for (const mount of request.mounts) {
        await mkdir(mount.source, { recursive: true });
        await chown(mount.source, 65534, 65534);
      }
      rawNames.push(request.name);
      const args = renderCreateArgs("podman", request);
      return ["run", "-d", ...args.slice(1)];
    };

    const managedOnce = async (index: number): Promise<number> => {
      const port = await findFreePort();
      const started = Date.now();
      const created = await api.expect(202, "POST", `/projects/${projectId}/app-instances`, {
        app_slug: "http-echo",
        app_version: "1.0.0",
        placement_intent: { target_allocation_id: allocation.id },
        config: { workspace_mount: "scratch", host_port: port },
        display_name: `bench ${index}`,
      });
      const id = created.json.id as string;
      let instance: { state: string; state_changed_at: string } | undefined;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        instance = (await api.expect(200, "GET", `/projects/${projectId}/app-instances/${id}`))
          .json;
        if (instance?.state === "running" || instance?.state === "failed") break;
        await sleep(50);
      }
      if (instance?.state !== "running") throw new Error(`instance ${id} is ${instance?.state}`);
      // The control plane's own clock (same machine) says when the instance became running, so
      // the API poll's interval adds nothing to the figure.
      const elapsed = Date.parse(instance.state_changed_at) - started;
      await api.expect(202, "POST", `/projects/${projectId}/app-instances/${id}/decommission`);
      let state = "";
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        state = (await api.expect(200, "GET", `/projects/${projectId}/app-instances/${id}`)).json
          .state;
        if (state === "decommissioned" || state === "failed") break;
        await sleep(50);
      }
      if (state !== "decommissioned") throw new Error(`decommissioning ${id} ended ${state}`);
      return elapsed;
    };

    const rawOnce = async (index: number): Promise<number> => {
      const port = await findFreePort();
      const args = await rawArgs(index, port);
      const started = Date.now();
      await podman(args);
      await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000);
      const elapsed = Date.now() - started;
      await podman(["rm", "-f", "--time", "0", rawNames[rawNames.length - 1] ?? ""]);
      return elapsed;
    };

    console.log(
      `launch-overhead: ${cpus().length}× ${cpus()[0]?.model ?? "cpu"}, Linux ${release()}, Node ${process.version}, ${RUNS} runs each, interleaved`,
    );
    for (let index = 0; index < WARMUP_RUNS; index += 1) {
      await managedOnce(-1 - index);
      await rawOnce(-1 - index);
    }
    const busy = await waitForQuietMachine(QUIET_WAIT_SECONDS);
    const contended = !(busy < 25);
    if (contended) {
      console.log(
        `other work kept the machine ${Math.round(busy)}% busy (of one core) for ${QUIET_WAIT_SECONDS} s: the figures below are contended`,
      );
    }
    const managed: number[] = [];
    const raw: number[] = [];
    for (let index = 0; index < RUNS; index += 1) {
      if (index % 2 === 0) {
        managed.push(await managedOnce(index));
        raw.push(await rawOnce(index));
      } else {
        raw.push(await rawOnce(index));
        managed.push(await managedOnce(index));
      }
      process.stdout.write(
        `  run ${String(index + 1).padStart(2)}: managed ${managed.at(-1)} ms, raw ${raw.at(-1)} ms\n`,
      );
    }

    // An idle agent of its own: registered, heartbeating, long-polling, nothing to do.
    const node = await api.expect(201, "POST", "/nodes", { name: `bench-idle-${run}` });
    const token = await api.expect(201, "POST", `/nodes/${node.json.id}/bootstrap-tokens`, {});
    idleAgent = await startAgent({
      server: up.url,
      stateDir: join(dir, "idle-agent"),
      runtime: "podman",
      hostname: `bench-idle-${run}`,
      bootstrapToken: token.json.token,
      plainHttpRegistry: registry.host,
    });
    await sleep(IDLE_SETTLE_MS);
    const agentRss = await rssMib(idleAgent.pid);
    // With the podman API driver (the default) an agent also runs `podman system service`.
    const agentServiceRss = await serviceRssMib(join(dir, "idle-agent"));
    const leftovers = (
      await podman([
        "ps",
        "-a",
        "--filter",
        `label=dev.gpuaas.node=${allocation.node_id}`,
        "--format",
        "{{.Names}}",
      ])
    ).stdout
      .split("\n")
      .filter((name) => name.trim().length > 0);
    const upRss = await rssMib(up.pid);
    const upServiceRss = await serviceRssMib(agentDir);

    const figures = {
      runs: RUNS,
      contended,
      load_average: loadavg().map((value) => Math.round(value * 100) / 100),
      managed_ms: { median: median(managed), p90: quantile(managed, 0.9), all: managed },
      raw_ms: { median: median(raw), p90: quantile(raw, 0.9), all: raw },
      ratio_median: Math.round((median(managed) / median(raw)) * 100) / 100,
      overhead_median_ms: median(managed) - median(raw),
      overhead_p90_ms: quantile(managed, 0.9) - quantile(raw, 0.9),
      idle_agent_rss_mib: agentRss,
      idle_agent_podman_service_rss_mib: agentServiceRss,
      managed_containers_left: leftovers.length,
      gpuaas_up_rss_mib: upRss,
      gpuaas_up_podman_service_rss_mib: upServiceRss,
    };
    console.log("");
    console.log("| path | median | p90 |");
    console.log("| --- | --- | --- |");
    console.log(
      `| POST app-instances → running (gpuaas up, in-process agent, podman) | ${figures.managed_ms.median} ms | ${figures.managed_ms.p90} ms |`,
    );
    console.log(
      `| raw floor: podman run -d + readiness poll | ${figures.raw_ms.median} ms | ${figures.raw_ms.p90} ms |`,
    );
    console.log("");
    console.log(
      `ratio ${figures.ratio_median} at the median; overhead ${figures.overhead_median_ms} ms at the median, ${figures.overhead_p90_ms} ms at p90`,
    );
    console.log(
      `idle agent (gpuaas agent run) RSS ${agentRss} MiB; gpuaas up (control plane + PGlite + agent) RSS ${upRss} MiB`,
    );
    if (agentServiceRss !== null || upServiceRss !== null) {
      console.log(
        `their podman API services (podman system service, one each) RSS ${agentServiceRss ?? "?"} MiB and ${upServiceRss ?? "?"} MiB`,
      );
    }
    await mkdir(new URL("./results/", import.meta.url), { recursive: true });
    const out = new URL(
      `./results/launch-overhead-${new Date().toISOString().slice(0, 10)}.json`,
      import.meta.url,
    );
    await writeFile(
      out,
      `${JSON.stringify({ at: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, ...figures }, null, 2)}\n`,
    );
    console.log(`figures written to ${out.pathname}`);
  } finally {
    await idleAgent?.stop().catch(() => undefined);
    for (const name of rawNames)
      await podman(["rm", "-f", "--time", "0", name]).catch(() => undefined);
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

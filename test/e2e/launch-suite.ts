// One end-to-end suite for every container runtime (STYLE.md: one suite, every backend): the
// built `gpuaas up` with its in-process agent on podman or docker, a CNCF distribution registry in
// token-auth mode on loopback trusting the control plane's token signer, the busybox http-echo
// image pushed to it, and from then on API calls only: register the profile and its artifacts,
// verify and publish them, launch, reach the endpoint on 127.0.0.1, read the logs, stop, start,
// restart, and decommission with nothing left behind. Also an intentional preflight failure in the
// agent, a readiness failure, an agent killed mid-launch, and a grep of everything the run
// produced for the pull passwords and registry JWTs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { openStore } from "@gpuaas/server";
import YAML from "yaml";
import { type PrivateDockerd, startDockerd } from "../../packages/agent/test/fixtures/dockerd.js";
import { findFreePort } from "../../packages/server/test/registry-fixture.js";
import {
  startTokenRegistry,
  type TokenRegistry,
} from "../../packages/server/test/token-registry-fixture.js";
import { type ApiAnswer, type ApiClient, createApiClient } from "./fixtures/api-client.js";
import { type RunningUp, type Spawned, startAgent, startUp } from "./fixtures/gpuaas-processes.js";
import { startTokenTap, type TokenTap } from "./fixtures/token-tap.js";
import {
  buildHttpEchoImage,
  hostArchitecture,
  MANIFEST_TYPE,
  pushImage,
} from "./fixtures/workload-image.js";

const execFileAsync = promisify(execFile);
const PROFILE = new URL("../fixtures/profiles/http-echo.yaml", import.meta.url);
const VERSION = "1.0.0";
const BAD_VERSION = "1.0.0-bad-readiness";
const LEASE_MS = 5_000;

/** The runtime a suite drives. */
export type RuntimeName = "podman" | "docker";

type Manifest = Record<string, unknown> & {
  validation: { readiness: { path: string; timeout_seconds: number }[] };
};

/** Runs the runtime's CLI (the test's own check, independent of the agent). */
async function runtimeCli(
  runtime: RuntimeName,
  env: Record<string, string>,
  args: readonly string[],
): Promise<string> {
  const { stdout } = await execFileAsync(runtime, [...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return stdout;
}

/** Container ids carrying the label `dev.gpuaas.instance=<id>`, running or not. */
async function containersOf(
  runtime: RuntimeName,
  env: Record<string, string>,
  instanceId: string,
): Promise<string[]> {
  const out = await runtimeCli(runtime, env, [
    "ps",
    "-a",
    "--filter",
    `label=dev.gpuaas.instance=${instanceId}`,
    "--format",
    "{{.ID}}",
  ]);
  return out.split("\n").filter((line) => line.trim().length > 0);
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(
    () => true,
    () => false,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Defines the suite for one runtime; `available` false skips it with the reason. */
export function describeLaunchSuite(runtime: RuntimeName, skip: string | false): void {
  describe(`launch end to end through the API on ${runtime}`, { skip }, () => {
    const run = randomBytes(3).toString("hex");
    const correlation = (what: string) => `e2e-${runtime}-${what}-${run}`;
    let dir: string;
    let dockerd: PrivateDockerd | undefined;
    let runtimeEnv: Record<string, string> = {};
    let up: RunningUp | undefined;
    let tap: TokenTap | undefined;
    let registry: TokenRegistry | undefined;
    let api: ApiClient;
    let projectId: string;
    let localAllocation: { id: string; node_id: string };
    const agentRuns: Spawned[] = [];
    const instances: string[] = [];
    const images: string[] = [];
    let restartAgentDir: string;
    const timings: Record<string, number> = {};

    /** Prints one piece of evidence: an event of an instance with its correlation id. */
    function evidence(what: string, event: Record<string, unknown> | undefined): void {
      const data = (event?.data ?? {}) as Record<string, unknown>;
      const reason = data.reason !== undefined ? ` reason ${String(data.reason)}` : "";
      console.log(
        `evidence (${runtime}) ${what}: ${String(event?.type)} instance ${String(event?.instance_id)} correlation_id ${String(event?.correlation_id)}${reason}: ${String(event?.message).slice(0, 240)}`,
      );
    }

    async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const started = Date.now();
      try {
        return await fn();
      } finally {
        timings[name] = Date.now() - started;
      }
    }

    async function getInstance(id: string): Promise<ApiAnswer> {
      return api.expect(200, "GET", `/projects/${projectId}/app-instances/${id}`);
    }

    async function events(id: string): Promise<Record<string, unknown>[]> {
      const answer = await api.expect(
        200,
        "GET",
        `/projects/${projectId}/app-instances/${id}/events?limit=200`,
      );
      return answer.json.items as Record<string, unknown>[];
    }

    /** Polls the instance until it is in `state`; fails at once in an unexpected final state. */
    async function waitForState(id: string, state: string, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < deadline) {
        last = (await getInstance(id)).json.state as string;
        if (last === state) return;
        if (["failed", "decommissioned"].includes(last) && last !== state) break;
        await sleep(100);
      }
      assert.fail(
        `instance ${id} is ${last}, not ${state}; events: ${JSON.stringify(await events(id), null, 1)}`,
      );
    }

    async function launch(
      body: Record<string, unknown>,
      correlationId: string,
      version = VERSION,
    ): Promise<string> {
      const answer = await api.expect(
        202,
        "POST",
        `/projects/${projectId}/app-instances`,
        {
          app_slug: "http-echo",
          app_version: version,
          config: { workspace_mount: "scratch" },
          ...body,
        },
        { "x-correlation-id": correlationId },
      );
      assert.equal(answer.correlationId, correlationId);
      const id = answer.json.id as string;
      instances.push(id);
      return id;
    }

    async function endpointOf(id: string): Promise<{ host_port: number; endpoint_url: string }> {
      const members = await api.expect(
        200,
        "GET",
        `/projects/${projectId}/app-instances/${id}/members`,
      );
      const member = members.json.items[0] as
        | { host_port: number; endpoint_url: string }
        | undefined;
      assert.ok(member?.host_port, `instance ${id} has a member with a host port`);
      assert.match(member.endpoint_url, /^http:\/\/127\.0\.0\.1:\d+\//);
      return member;
    }

    async function registerVersion(
      version: string,
      manifest: Manifest,
      digest: string,
    ): Promise<void> {
      await api.expect(201, "POST", "/apps/catalog/http-echo/versions", { version, manifest });
      const registryHost = registry?.host ?? "";
      for (const [name, vendor] of [
        ["e2e/http-echo", "none"],
        ["e2e/http-echo-nvidia", "nvidia"],
      ] as const) {
        const artifact = await api.expect(
          201,
          "POST",
          `/apps/catalog/http-echo/versions/${version}/artifacts`,
          {
            artifact_name: name,
            repository: `${registryHost}/${name}`,
            digest,
            media_type: MANIFEST_TYPE,
            platform: { os: "linux", architecture: hostArchitecture() },
            accelerator: { vendor },
          },
        );
        const id = artifact.json.id as string;
        const verified = await api.expect(200, "POST", `/artifacts/${id}/verify`);
        assert.equal(verified.json.state, "verified", verified.text);
        await api.expect(200, "POST", `/artifacts/${id}/transitions`, { to: "published" });
      }
      await api.expect(200, "POST", `/apps/catalog/http-echo/versions/${version}/publication`, {
        published: true,
      });
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `gpuaas-e2e-${runtime}-`));
      restartAgentDir = join(dir, "restart-agent");
      if (runtime === "docker") {
        dockerd = await timed("dockerd", startDockerd);
        runtimeEnv = { DOCKER_HOST: dockerd.host };
      } else {
        // The agent's podman settings (runc, lower ulimits), so this test's own podman calls match.
        runtimeEnv = { CONTAINERS_CONF: join(dir, "data", "agent", "containers.conf") };
      }
      const registryPort = await findFreePort();
      up = await timed("gpuaas up", () =>
        startUp({
          dataDir: join(dir, "data"),
          registryUrl: `http://127.0.0.1:${registryPort}`,
          agentRuntime: runtime,
          env: { ...runtimeEnv, GPUAAS_AGENT_LEASE_MS: String(LEASE_MS) },
        }),
      );
      assert.match(up.stdout(), new RegExp(`agent: {4}${runtime} `));
      // The podman API driver is in use, not its silent fallback to the CLI.
      if (runtime === "podman") {
        assert.match(up.stdout(), /agent: {4}podman [^\n]* via its API socket,/);
      }
      assert.match(up.stdout(), /launches: handed to node agents \(enabled by default/);
      tap = await startTokenTap(up.url);
      registry = await timed("registry", async () =>
        startTokenRegistry({
          realm: tap?.realm ?? "",
          service: "gpuaas-registry",
          issuer: "gpuaas-control-plane",
          rootCertBundle: up?.certFile ?? "",
          port: registryPort,
        }),
      );
      const image = await buildHttpEchoImage(`e2e ${runtime} ${run}`);
      const digest = await pushImage(registry.pushUrl, "e2e/http-echo", "1", image);
      assert.equal(await pushImage(registry.pushUrl, "e2e/http-echo-nvidia", "1", image), digest);
      // Artifacts are unique by repository and digest: the second version gets its own image.
      const badImage = await buildHttpEchoImage(`e2e ${runtime} ${run} bad readiness`);
      const badDigest = await pushImage(registry.pushUrl, "e2e/http-echo", "bad", badImage);
      await pushImage(registry.pushUrl, "e2e/http-echo-nvidia", "bad", badImage);
      images.push(
        `${registry.host}/e2e/http-echo@${digest}`,
        `${registry.host}/e2e/http-echo@${badDigest}`,
      );

      api = createApiClient(up.url, up.operatorToken);
      const me = await api.expect(200, "GET", "/me");
      projectId = (me.json.projects as { id: string; slug: string }[]).find(
        (project) => project.slug === "default",
      )?.id as string;
      const allocations = await api.expect(200, "GET", `/projects/${projectId}/allocations`);
      assert.equal(allocations.json.items.length, 1, "gpuaas up made one allocation");
      localAllocation = allocations.json.items[0];

      // The profile, registered and published through the API, with its artifacts verified
      // against the token-auth registry.
      const manifest = YAML.parse(await readFile(PROFILE, "utf8")) as Manifest;
      await registerVersion(VERSION, manifest, digest);
      const bad = structuredClone(manifest);
      const probe = bad.validation.readiness[0];
      assert.ok(probe);
      probe.path = "/missing";
      probe.timeout_seconds = 4;
      await registerVersion(BAD_VERSION, bad, badDigest);
      await api.expect(200, "PUT", `/projects/${projectId}/apps/entitlements/http-echo`, {
        enabled: true,
      });
    });

    after(async () => {
      for (const agent of agentRuns) await agent.kill().catch(() => undefined);
      await up?.stop().catch(() => undefined);
      // Whatever a failed test left: this run's containers and images.
      for (const id of instances) {
        const left = await containersOf(runtime, runtimeEnv, id).catch(() => []);
        if (left.length > 0)
          await runtimeCli(runtime, runtimeEnv, ["rm", "-f", ...left]).catch(() => "");
      }
      if (runtime === "podman") {
        for (const image of images) {
          await runtimeCli(runtime, runtimeEnv, ["rmi", "-f", image]).catch(() => "");
        }
      }
      await registry?.stop().catch(() => undefined);
      await tap?.stop().catch(() => undefined);
      await dockerd?.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      console.log(`e2e ${runtime} timings (ms): ${JSON.stringify(timings)}`);
    });

    let main = "";

    it("launches from the token-auth registry and serves the endpoint on 127.0.0.1", async () => {
      const correlationId = correlation("launch");
      main = await timed("launch to running", async () => {
        const id = await launch(
          { placement_intent: { target_allocation_id: localAllocation.id } },
          correlationId,
        );
        await waitForState(id, "running");
        return id;
      });
      const { host_port, endpoint_url } = await endpointOf(main);
      const page = await fetch(`http://127.0.0.1:${host_port}/`, {
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(page.status, 200);
      assert.equal(await page.text(), "hello gpuaas\n");
      assert.equal(endpoint_url, `http://127.0.0.1:${host_port}/`);
      const launched = (await events(main)).filter((event) => event.type === "instance.launched");
      assert.equal(launched.length, 1);
      assert.equal(
        launched[0]?.correlation_id,
        correlationId,
        "the evidence carries the correlation id",
      );
      evidence("launch", launched[0]);
      assert.ok((tap?.jwts.size ?? 0) >= 1, "the runtime pulled with a JWT from the control plane");
      assert.equal(tap?.statuses.get(401) ?? 0, 0, "no token request was refused");
      assert.equal((await containersOf(runtime, runtimeEnv, main)).length, 1);
    });

    it("reads the container's logs through the API", async () => {
      await fetch(`http://127.0.0.1:${(await endpointOf(main)).host_port}/healthz`);
      const logs = await timed("logs", () =>
        api.expect(200, "GET", `/projects/${projectId}/app-instances/${main}/logs?tail=50`),
      );
      const lines = logs.json.lines as string[];
      assert.ok(
        lines.some((line) => line.includes("http-echo booting: hello from http-echo")),
        lines.join("\n"),
      );
      assert.ok(lines.some((line) => line.includes("http-echo listening on 8080")));
    });

    it("stops, starts and restarts the instance", async () => {
      await timed("stop/start/restart", async () => {
        const stop = correlation("stop");
        await api.expect(
          202,
          "POST",
          `/projects/${projectId}/app-instances/${main}/actions`,
          { action: "stop" },
          { "x-correlation-id": stop },
        );
        await waitForState(main, "stopped");
        const stopped = await runtimeCli(runtime, runtimeEnv, [
          "ps",
          "--filter",
          `label=dev.gpuaas.instance=${main}`,
          "--format",
          "{{.ID}}",
        ]);
        assert.equal(stopped.trim(), "", "no running container after stop");
        for (const action of ["start", "restart"] as const) {
          const id = correlation(action);
          await api.expect(
            202,
            "POST",
            `/projects/${projectId}/app-instances/${main}/actions`,
            { action },
            { "x-correlation-id": id },
          );
          await waitForState(main, "running");
          const { host_port } = await endpointOf(main);
          const page = await fetch(`http://127.0.0.1:${host_port}/healthz`, {
            signal: AbortSignal.timeout(5_000),
          });
          assert.equal(page.status, 200, `${action}: the endpoint answers again`);
          const done = (await events(main)).find(
            (event) => event.type === `instance.${action}_succeeded`,
          );
          assert.equal(done?.correlation_id, id);
        }
      });
    });

    it("refuses a GPU launch in the agent's preflight, before the runtime is touched", async () => {
      // An allocation that claims GPU 0 of this GPU-less host: the control plane's nine checks
      // pass (the shape fits the claim), so only the agent, looking at the host, can refuse.
      const allocation = await api.expect(201, "POST", "/allocations", {
        project_id: projectId,
        node_id: localAllocation.node_id,
        accelerator: { vendor: "nvidia" },
        cpu_architecture: hostArchitecture(),
        gpu_indices: [0],
        cpu_cores: 1,
        memory_gib: 1,
        storage_modes: ["scratch"],
      });
      const correlationId = correlation("gpu");
      const id = await launch(
        {
          placement_intent: { target_allocation_id: allocation.json.id },
          resource_overrides: { gpu_count: 1 },
        },
        correlationId,
      );
      await waitForState(id, "failed");
      const failed = (await events(id)).find((event) => event.type === "instance.launch_failed");
      const data = failed?.data as Record<string, unknown>;
      assert.equal(data.reason, "preflight.gpu_unavailable", JSON.stringify(failed));
      assert.equal(data.phase, "preflight");
      assert.equal(failed?.correlation_id, correlationId);
      assert.match(String(failed?.message), /GPU 0|nvidia/i);
      evidence("preflight failure", failed);
      assert.deepEqual(await containersOf(runtime, runtimeEnv, id), [], "nothing was created");
    });

    it("fails readiness with the reason and the log excerpt in the events", async () => {
      const correlationId = correlation("readiness");
      const id = await timed("readiness failure", async () => {
        const created = await launch(
          { placement_intent: { target_allocation_id: localAllocation.id } },
          correlationId,
          BAD_VERSION,
        );
        await waitForState(created, "failed");
        return created;
      });
      const failed = (await events(id)).find((event) => event.type === "instance.launch_failed");
      const data = failed?.data as { reason: string; log_excerpt?: string[]; message: string };
      assert.equal(data.reason, "readiness.timeout", JSON.stringify(failed));
      assert.equal(failed?.correlation_id, correlationId);
      assert.ok(
        data.log_excerpt?.some((line) => line.includes("http-echo booting")),
        JSON.stringify(data.log_excerpt),
      );
      assert.match(data.message, /\/missing|readiness/);
      evidence("readiness failure", failed);
    });

    it("re-leases a launch whose agent was killed mid-launch, and the instance reaches running", async () => {
      await timed("agent restart mid-launch", async () => {
        const node = await api.expect(201, "POST", "/nodes", { name: `e2e-${runtime}-${run}` });
        const allocation = await api.expect(201, "POST", "/allocations", {
          project_id: projectId,
          node_id: node.json.id,
          accelerator: { vendor: "none" },
          cpu_architecture: hostArchitecture(),
          gpu_indices: [],
          cpu_cores: 2,
          memory_gib: 2,
          storage_modes: ["scratch", "project_storage"],
        });
        const bootstrap = await api.expect(
          201,
          "POST",
          `/nodes/${node.json.id}/bootstrap-tokens`,
          {},
        );
        const agentOptions = {
          server: up?.url ?? "",
          stateDir: restartAgentDir,
          runtime,
          hostname: `e2e-${runtime}-${run}`,
          plainHttpRegistry: registry?.host ?? "",
          env: runtimeEnv,
        };
        const first = await startAgent({ ...agentOptions, bootstrapToken: bootstrap.json.token });
        agentRuns.push(first);
        const correlationId = correlation("restart");
        const id = await launch(
          {
            placement_intent: { target_allocation_id: allocation.json.id },
            config: { workspace_mount: "scratch", startup_delay_seconds: 3 },
          },
          correlationId,
        );
        await waitForState(id, "deploying", 30_000);
        await first.kill();
        // Started again without a bootstrap token: the stored node credential is reused.
        const second = await startAgent(agentOptions);
        agentRuns.push(second);
        assert.match(second.stdout(), /stored credential/);
        await waitForState(id, "running", 60_000);
        const all = await events(id);
        const redelivered = all.find((event) => event.type === "instance.task_redelivered");
        assert.ok(redelivered, JSON.stringify(all.map((event) => event.type)));
        assert.equal(redelivered.correlation_id, correlationId);
        assert.equal((redelivered.data as { attempt: number }).attempt, 2);
        const launched = all.find((event) => event.type === "instance.launched");
        assert.equal(launched?.correlation_id, correlationId);
        assert.equal((launched?.data as { attempt?: number } | undefined)?.attempt, 2);
        evidence("agent restart", redelivered);
        evidence("agent restart", launched);
        const page = await fetch(`http://127.0.0.1:${(await endpointOf(id)).host_port}/`, {
          signal: AbortSignal.timeout(5_000),
        });
        assert.equal(page.status, 200);
        assert.equal(
          (await containersOf(runtime, runtimeEnv, id)).length,
          1,
          "one container, reused",
        );
      });
    });

    it("decommissions every instance and leaves no container, scratch directory or auth file", async () => {
      await timed("decommission", async () => {
        for (const id of instances) {
          await api.expect(
            202,
            "POST",
            `/projects/${projectId}/app-instances/${id}/decommission`,
            undefined,
            {
              "x-correlation-id": correlation(`remove-${id.slice(0, 8)}`),
            },
          );
        }
        for (const id of instances) await waitForState(id, "decommissioned");
      });
      for (const id of instances) {
        assert.deepEqual(await containersOf(runtime, runtimeEnv, id), [], `no container of ${id}`);
        for (const root of [join(dir, "data", "agent"), restartAgentDir]) {
          assert.equal(await exists(join(root, "workloads", id)), false, `no scratch of ${id}`);
        }
        const members = await api.expect(
          200,
          "GET",
          `/projects/${projectId}/app-instances/${id}/members`,
        );
        assert.deepEqual(members.json.items, []);
      }
      for (const root of [join(dir, "data", "agent"), restartAgentDir]) {
        const secrets = await readdir(join(root, "secrets")).catch(() => [] as string[]);
        assert.deepEqual(secrets, [], `no auth file left in ${root}/secrets`);
      }
    });

    it("shows no pull password or registry JWT in any response, event, task result or log line", async () => {
      // Every event of every instance, through the API (recorded with the other answers).
      for (const id of instances) await events(id);
      for (const agent of agentRuns) await agent.stop();
      assert.equal(await up?.stop(), 0, "gpuaas up stops cleanly");
      const store = await openStore({ kind: "pglite", dataDir: join(dir, "data", "pgdata") });
      let dump = "";
      try {
        for (const table of await store.db.introspection.getTables()) {
          const rows = await store.db
            // biome-ignore lint/suspicious/noExplicitAny: every table, whatever its type
            .selectFrom(table.name as any)
            .selectAll()
            .execute();
          dump += `${table.name}: ${JSON.stringify(rows)}\n`;
        }
      } finally {
        await store.close();
      }
      assert.match(dump, /node_tasks: \[\{/, "the task results are in the dump");
      const haystacks: Record<string, string> = {
        "API responses": api.answers.map((answer) => answer.text).join("\n"),
        "gpuaas up stdout": up?.stdout() ?? "",
        "gpuaas up log": up?.stderr() ?? "",
        "agent run output": agentRuns
          .map((agent) => `${agent.stdout()}\n${agent.stderr()}`)
          .join("\n"),
        "store (events, task results, audit)": dump,
      };
      const passwords = [...(tap?.passwords ?? [])];
      const jwts = [...(tap?.jwts ?? [])];
      assert.ok(passwords.length >= 2, "pull passwords were used (one per launch that pulled)");
      assert.ok(jwts.length >= 2, "registry JWTs were minted");
      const needles = [...passwords, ...jwts].flatMap((secret) => [
        secret,
        Buffer.from(secret).toString("base64"),
      ]);
      for (const [where, text] of Object.entries(haystacks)) {
        assert.ok(text.length > 0, `${where} is not empty`);
        for (const needle of needles) {
          assert.ok(!text.includes(needle), `a pull secret or JWT appears in the ${where}`);
        }
        assert.doesNotMatch(
          text,
          /gpuaas_pull_[A-Za-z0-9_-]{8,}/,
          `a pull password in the ${where}`,
        );
        assert.doesNotMatch(
          text,
          /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/,
          `a JWT in the ${where}`,
        );
      }
    });
  });
}

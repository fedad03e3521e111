// The podman API driver (libpod REST over a unix socket, served by the agent's own
// `podman system service`): the shared end-to-end suite, then what is particular to it, on real
// podman with the loopback token registry: the same hardening as the CLI driver read back from
// `podman container inspect`, pull failures, GPU devices failing loudly, exec and logs, the
// service's supervision, and the fallback to the CLI. Skipped only when podman is not installed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ContainerCreateRequest } from "../src/container-runtime.js";
import { RuntimeCommandError } from "../src/container-runtime.js";
import { createPodmanDriver } from "../src/create-podman-driver.js";
import { probeHostGpus } from "../src/gpu-inventory.js";
import { createPodmanApiRuntime, type PodmanApiRuntime } from "../src/podman-api-runtime.js";
import {
  createPodmanRuntime,
  DEFAULT_CONTAINERS_CONF,
  writeContainersConf,
} from "../src/podman-runtime.js";
import {
  createPodmanService,
  type PodmanService,
  pingPodman,
  SERVICE_PID_FILE,
} from "../src/podman-service.js";
import { withPullAuth } from "../src/registry-auth.js";
import { findExecutable, runCommand } from "../src/run-command.js";
import { buildBusyboxImage } from "./fixtures/busybox-image.js";
import { pushImage, startTokenRegistry, type TokenRegistry } from "./fixtures/token-registry.js";
import { defineRuntimeSuite } from "./runtime-suite.js";

const podman = await findExecutable("podman");

/** A supervised service and a pure API driver on it (no CLI fallback: every call is the API). */
async function startApiDriver(
  workDir: string,
  plainHttpRegistries: readonly string[],
): Promise<{ runtime: PodmanApiRuntime; service: PodmanService; containersConf: string }> {
  const containersConf = join(workDir, "containers.conf");
  const conf = { path: containersConf, ...DEFAULT_CONTAINERS_CONF };
  const service = createPodmanService({
    socketPath: join(workDir, "podman", "podman.sock"),
    env: { CONTAINERS_CONF: containersConf },
    beforeStart: () => writeContainersConf(conf),
  });
  await service.ready();
  const runtime = createPodmanApiRuntime({
    socketPath: service.socketPath,
    ensureService: service.ready,
    containersConf: conf,
    plainHttpRegistries,
  });
  return { runtime, service, containersConf };
}

async function rawInspect(name: string, containersConf: string): Promise<Record<string, unknown>> {
  const result = await runCommand({
    file: "podman",
    args: ["container", "inspect", name],
    env: { CONTAINERS_CONF: containersConf },
    timeoutMs: 30_000,
  });
  assert.equal(result.exitCode, 0, result.stderr);
  return (JSON.parse(result.stdout) as Record<string, unknown>[])[0] ?? {};
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`not within ${ms} ms`);
}

/** The settings `podman container inspect` shows that the agent's hardening is about. */
function hardening(inspect: Record<string, unknown>): Record<string, unknown> {
  const host = inspect.HostConfig as Record<string, unknown>;
  const config = inspect.Config as Record<string, unknown>;
  const binds = ((host.Binds as string[] | null) ?? []).map((bind) => {
    const [source, target, options = ""] = bind.split(":");
    return `${source}:${target}:${options.split(",").sort().join(",")}`;
  });
  return {
    privileged: host.Privileged,
    cap_add: host.CapAdd,
    cap_drop: host.CapDrop,
    security_opt: host.SecurityOpt,
    memory: host.Memory,
    memory_swap: host.MemorySwap,
    nano_cpus: host.NanoCpus,
    cpu_quota: host.CpuQuota,
    cpu_period: host.CpuPeriod,
    pids_limit: host.PidsLimit,
    ulimits: host.Ulimits,
    devices: host.Devices,
    readonly_rootfs: host.ReadonlyRootfs,
    binds: binds.sort(),
    port_host_ips: Object.values((host.PortBindings as Record<string, { HostIp: string }[]>) ?? {})
      .flat()
      .map((binding) => binding.HostIp),
    user: config.User,
    working_dir: config.WorkingDir,
    cmd: config.Cmd,
    entrypoint: config.Entrypoint,
    labels: config.Labels,
    env: ((config.Env as string[]) ?? []).filter((entry) => !entry.startsWith("HOSTNAME=")).sort(),
    // The argv after the program, the container's own name left out.
    create_command: ((config.CreateCommand as string[]) ?? [])
      .slice(1)
      .map((arg) => (arg === inspect.Name ? "<name>" : arg)),
    mounts: ((inspect.Mounts as Record<string, unknown>[]) ?? []).map((mount) => [
      mount.Type,
      mount.Source,
      mount.Destination,
      mount.RW,
    ]),
  };
}

if (podman === undefined) {
  describe("agent on podman (libpod API)", () => {
    it("needs podman", (t) => {
      t.skip(
        "podman is not installed (scripts/setup.sh installs it with GPUAAS_SETUP_TEST_DEPS=1)",
      );
    });
  });
} else {
  defineRuntimeSuite(
    "podman",
    async (registry, workDir) => {
      const { runtime, service, containersConf } = await startApiDriver(workDir, [registry.host]);
      return {
        runtime,
        async teardown(images) {
          for (const image of images) {
            await runCommand({
              file: "podman",
              args: ["rmi", "--force", image],
              env: { CONTAINERS_CONF: containersConf },
              timeoutMs: 30_000,
            });
          }
          runtime.close();
          await service.stop();
        },
      };
    },
    "podman (libpod API)",
  );

  describe("podman API driver", { timeout: 180_000 }, () => {
    const run = randomBytes(3).toString("hex");
    const token = `tok-${randomBytes(24).toString("hex")}`;
    const pushPassword = randomBytes(16).toString("hex");
    let registry: TokenRegistry;
    let workDir: string;
    let api: PodmanApiRuntime;
    let service: PodmanService;
    let containersConf: string;
    let image = "";
    const names: string[] = [];

    const request = (name: string, extra: Partial<ContainerCreateRequest> = {}) => {
      names.push(name);
      return {
        name,
        image,
        labels: { "dev.gpuaas.test": run, "dev.gpuaas.managed": "true" },
        env: { GREETING: "hi", EMPTY: "" },
        args: ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
        working_dir: "/www",
        user: "65534:65534",
        ports: [{ container_port: 8080 }],
        cpus: 0.5,
        memory_mib: 64,
        pids_limit: 64,
        gpus: { vendor: "none", indices: [] },
        mounts: [
          { source: join(workDir, "rw"), target: "/scratch", read_only: false },
          { source: join(workDir, "ro"), target: "/data", read_only: true },
        ],
        privileged: false,
        ...extra,
      } satisfies ContainerCreateRequest;
    };

    before(async () => {
      workDir = await mkdtemp(join(tmpdir(), "gpuaas-podman-api-"));
      await mkdir(join(workDir, "rw"));
      await mkdir(join(workDir, "ro"));
      registry = await startTokenRegistry({
        gpuaas: { password: token, actions: ["pull"] },
        pusher: { password: pushPassword, actions: ["pull", "push"] },
      });
      const built = await buildBusyboxImage({ architecture: "amd64", bootNote: `api ${run}\n` });
      const digest = await pushImage(registry, "apps/api-driver", "v1", built, {
        user: "pusher",
        password: pushPassword,
      });
      image = `${registry.host}/apps/api-driver@${digest}`;
      ({ runtime: api, service, containersConf } = await startApiDriver(workDir, [registry.host]));
      await withPullAuth(
        join(workDir, "secrets"),
        "api-driver",
        { registry: registry.host, token },
        "gpuaas",
        (authDir) => api.pullImage(image, { authDir }),
      );
    });

    after(async () => {
      for (const name of names) await api?.removeContainer(name).catch(() => false);
      if (image !== "") {
        await runCommand({
          file: "podman",
          args: ["rmi", "--force", image],
          env: { CONTAINERS_CONF: containersConf },
          timeoutMs: 30_000,
        });
      }
      api?.close();
      await service?.stop();
      await registry?.stop();
      if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
    });

    it("pulled by digest with the credential in X-Registry-Auth", async () => {
      const details = await api.inspectImage(image);
      assert.ok(details);
      assert.equal(details.os, "linux");
      assert.equal(details.architecture, "amd64");
    });

    it("creates a container whose inspect shows exactly the CLI driver's hardening", async () => {
      const cli = createPodmanRuntime({
        containersConf: { path: containersConf, ...DEFAULT_CONTAINERS_CONF },
      });
      const viaApi = request(`gpuaas-apitest-${run}-api`);
      const viaCli = request(`gpuaas-apitest-${run}-cli`);
      await api.createContainer(viaApi);
      await cli.createContainer(viaCli);
      await api.startContainer(viaApi.name);
      await cli.startContainer(viaCli.name);
      const fromApi = hardening(await rawInspect(viaApi.name, containersConf));
      const fromCli = hardening(await rawInspect(viaCli.name, containersConf));
      assert.deepEqual(fromApi, fromCli);
      assert.deepEqual(fromApi.cap_add, []);
      assert.deepEqual(fromApi.security_opt, ["no-new-privileges"]);
      assert.deepEqual(fromApi.port_host_ips, ["127.0.0.1"]);
      assert.deepEqual(fromApi.ulimits, [
        { Name: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024 },
        { Name: "RLIMIT_NPROC", Soft: 1000, Hard: 1000 },
      ]);
      // And the port's normalised view reads the same through either driver.
      const apiDetails = await api.inspectContainer(viaApi.name);
      const cliDetails = await cli.inspectContainer(viaApi.name);
      assert.deepEqual(apiDetails, cliDetails);
      assert.equal(apiDetails?.running, true);
    });

    it("lists by label, stops, restarts, removes like the CLI (304 and 404 included)", async () => {
      const name = `gpuaas-apitest-${run}-api`;
      const listed = await api.listContainers({ "dev.gpuaas.test": run });
      assert.deepEqual(listed.map((item) => item.name).sort(), [
        `gpuaas-apitest-${run}-api`,
        `gpuaas-apitest-${run}-cli`,
      ]);
      await api.stopContainer(name, 1);
      await api.stopContainer(name, 1);
      assert.equal((await api.inspectContainer(name))?.running, false);
      await api.startContainer(name);
      const started = Date.now();
      await api.restartContainer(name, 1);
      // httpd as PID 1 ignores SIGTERM: the 1 s grace period was honoured, not podman's 10 s.
      assert.ok(Date.now() - started < 8_000);
      assert.equal((await api.inspectContainer(name))?.running, true);
      assert.equal(await api.removeContainer(name), true);
      assert.equal(await api.removeContainer(name), false);
      assert.equal(await api.inspectContainer(name), undefined);
      await assert.rejects(api.startContainer(name), (error: unknown) => {
        assert.ok(error instanceof RuntimeCommandError);
        assert.equal(error.kind, "not_found");
        return true;
      });
    });

    it("classifies pull failures from the stream and never shows the credential", async () => {
      const wrong = `wrong-${randomBytes(24).toString("hex")}`;
      const missing = image.replace(/sha256:[0-9a-f]{4}/, "sha256:0000");
      await rm(join(workDir, "secrets"), { recursive: true, force: true });
      await assert.rejects(
        withPullAuth(
          join(workDir, "secrets"),
          "wrong",
          { registry: registry.host, token: wrong },
          "gpuaas",
          (authDir) => api.pullImage(missing, { authDir }),
        ),
        (error: unknown) => {
          assert.ok(error instanceof RuntimeCommandError);
          assert.equal(error.kind, "unauthorized", error.stderr);
          assert.ok(!error.stderr.includes(wrong) && !error.message.includes(wrong));
          return true;
        },
      );
      assert.ok(registry.refusedTokenRequests() > 0, "the wrong credential reached the registry");
      await assert.rejects(
        withPullAuth(
          join(workDir, "secrets"),
          "missing",
          { registry: registry.host, token },
          "gpuaas",
          (authDir) => api.pullImage(missing, { authDir }),
        ),
        (error: unknown) => {
          assert.ok(error instanceof RuntimeCommandError);
          assert.equal(error.kind, "manifest_unknown", error.stderr);
          return true;
        },
      );
    });

    it("never pulls with the service's own login store when the task's auth file lacks the registry", async () => {
      // A service whose `podman login` store ($XDG_RUNTIME_DIR/containers/auth.json) holds a
      // working credential for the registry: it must not stand in for the task's credential.
      const runtimeDir = join(workDir, "xdg-runtime");
      await mkdir(join(runtimeDir, "containers"), { recursive: true, mode: 0o700 });
      const login = Buffer.from(`gpuaas:${token}`).toString("base64");
      await writeFile(
        join(runtimeDir, "containers", "auth.json"),
        JSON.stringify({ auths: { [registry.host]: { auth: login } } }),
        { mode: 0o600 },
      );
      const conf = { path: containersConf, ...DEFAULT_CONTAINERS_CONF };
      const loggedIn = createPodmanService({
        socketPath: join(workDir, "podman-login", "podman.sock"),
        env: { CONTAINERS_CONF: containersConf, XDG_RUNTIME_DIR: runtimeDir },
        beforeStart: () => writeContainersConf(conf),
      });
      const viaLogin = createPodmanApiRuntime({
        socketPath: loggedIn.socketPath,
        ensureService: loggedIn.ready,
        containersConf: conf,
        plainHttpRegistries: [registry.host],
      });
      try {
        // Without an auth file the service's store is used (so this test shows something)…
        await viaLogin.pullImage(image, {});
        // …but with the task's auth file, only that file counts, as with `podman pull --authfile`.
        await assert.rejects(
          withPullAuth(
            join(workDir, "secrets"),
            "other-registry",
            { registry: "other.example:5000", token },
            "gpuaas",
            (authDir) => viaLogin.pullImage(image, { authDir }),
          ),
          (error: unknown) => {
            assert.ok(error instanceof RuntimeCommandError);
            assert.equal(error.kind, "unauthorized", error.stderr);
            return true;
          },
        );
      } finally {
        viaLogin.close();
        await loggedIn.stop();
      }
    });

    it("attaches GPUs as the CLI does: CDI fails at start, AMD at create (no GPU here)", async (t) => {
      const gpus = await probeHostGpus();
      if (gpus.nvidia.tool === "present" || gpus.amd.kfd) {
        t.skip("this host has GPUs; the loud failure cannot be shown here");
        return;
      }
      const nvidia = request(`gpuaas-apitest-${run}-nv`, {
        gpus: { vendor: "nvidia", indices: [0] },
      });
      await api.createContainer(nvidia);
      await assert.rejects(api.startContainer(nvidia.name), (error: unknown) => {
        assert.ok(error instanceof RuntimeCommandError);
        assert.match(error.stderr, /unresolvable CDI devices nvidia\.com\/gpu=0/);
        return true;
      });
      const amd = request(`gpuaas-apitest-${run}-amd`, { gpus: { vendor: "amd", indices: [1] } });
      await assert.rejects(api.createContainer(amd), (error: unknown) => {
        assert.ok(error instanceof RuntimeCommandError);
        assert.match(error.stderr, /\/dev\/kfd/);
        return true;
      });
    });

    it("execs with exit code, both streams, a timeout, and podman's 125 for a missing container", async () => {
      const name = `gpuaas-apitest-${run}-exec`;
      await api.createContainer(request(name));
      await api.startContainer(name);
      const ok = await api.exec(name, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], 10_000);
      assert.deepEqual(ok, {
        exit_code: 3,
        output: "out\n\nerr\n",
        timed_out: false,
        truncated: false,
      });
      const slow = await api.exec(name, ["/bin/busybox", "sleep", "5"], 300);
      assert.equal(slow.timed_out, true);
      assert.equal(slow.exit_code, null);
      const missing = await api.exec(`gpuaas-apitest-${run}-none`, ["/bin/true"], 5_000);
      assert.equal(missing.exit_code, 125);
      assert.match(missing.output, /no container/);
    });

    it("reads logs of both streams, bounded in bytes", async () => {
      const name = `gpuaas-apitest-${run}-logs`;
      await api.createContainer(
        request(name, {
          args: [
            "/bin/sh",
            "-c",
            "echo to-stdout; echo to-stderr >&2; i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done; sleep 60",
          ],
        }),
      );
      await api.startContainer(name);
      await waitFor(async () => (await api.readLogs(name, 500)).includes("line-199"), 10_000);
      const logs = await api.readLogs(name, 500);
      assert.match(logs, /^to-stdout\n/);
      assert.match(logs, /\nto-stderr\n$/);
      // The tail counts lines over both streams; where to-stderr lands among the stdout lines is
      // up to conmon reading two pipes, so only the count and the last stdout line are certain.
      const tail = (await api.readLogs(name, 2)).split("\n").filter((line) => line !== "");
      assert.equal(tail.length, 2, JSON.stringify(tail));
      assert.ok(tail.includes("line-199"), JSON.stringify(tail));
      const small = createPodmanApiRuntime({ socketPath: service.socketPath, maxLogBytes: 100 });
      try {
        // 100 bytes of output over both streams, and the newline that joins them.
        const bounded = await small.readLogs(name, 500);
        assert.ok(Buffer.byteLength(bounded) <= 101, bounded);
        assert.match(bounded, /^to-stdout\nline-0\n/);
      } finally {
        small.close();
      }
      await assert.rejects(
        api.readLogs(`gpuaas-apitest-${run}-none`, 5),
        /logs failed \(not_found/,
      );
    });

    it("restarts a service that died, and the containers it started keep running", async () => {
      const name = `gpuaas-apitest-${run}-exec`;
      const pid = service.pid();
      assert.ok(pid !== undefined && isAlive(pid));
      process.kill(pid, "SIGKILL");
      await waitFor(() => !isAlive(pid), 5_000);
      // The next request waits for the service to come back instead of failing.
      const details = await api.inspectContainer(name);
      assert.equal(details?.running, true);
      assert.notEqual(service.pid(), pid);
    });
  });

  describe("podman driver selection", { timeout: 120_000 }, () => {
    it("drives the API by default and stops its service by pid on close", async () => {
      const workDir = await mkdtemp(join(tmpdir(), "gpuaas-podman-driver-"));
      const socketPath = join(workDir, "podman", "podman.sock");
      const driver = createPodmanDriver({
        socketPath,
        containersConf: { path: join(workDir, "containers.conf"), ...DEFAULT_CONTAINERS_CONF },
      });
      const notices: string[] = [];
      driver.onNotice((message) => notices.push(message));
      try {
        const probe = await driver.probe();
        assert.equal(probe.answering, true, probe.problem);
        assert.equal(probe.problem, undefined);
        assert.equal(driver.activeDriver(), "api");
        assert.deepEqual(notices, []);
        assert.equal((await stat(join(workDir, "podman"))).mode & 0o777, 0o700);
        assert.equal(await pingPodman(socketPath, 1_000), true);
        const pid = Number(await readFile(join(workDir, "podman", SERVICE_PID_FILE), "utf8"));
        assert.ok(isAlive(pid));
        await driver.close();
        await waitFor(() => !isAlive(pid), 5_000);
        assert.equal(await pingPodman(socketPath, 1_000), false);
      } finally {
        await driver.close();
        await rm(workDir, { recursive: true, force: true });
      }
    });

    it("gives the service none of the agent's secrets: /proc/<pid>/environ holds the allowlist only", async () => {
      const workDir = await mkdtemp(join(tmpdir(), "gpuaas-podman-driver-"));
      const planted = `PLANTED_SECRET_${randomBytes(4).toString("hex").toUpperCase()}`;
      const hadDatabaseUrl = process.env.DATABASE_URL;
      process.env[planted] = "postgres://gpuaas:hunter2@db/gpuaas";
      process.env.DATABASE_URL = "postgres://gpuaas:hunter2@db/gpuaas";
      const conf = { path: join(workDir, "containers.conf"), ...DEFAULT_CONTAINERS_CONF };
      const service = createPodmanService({
        socketPath: join(workDir, "podman", "podman.sock"),
        env: { CONTAINERS_CONF: conf.path },
        beforeStart: () => writeContainersConf(conf),
      });
      try {
        await service.ready();
        const pid = service.pid();
        assert.ok(pid !== undefined);
        const environ = (await readFile(`/proc/${pid}/environ`, "utf8"))
          .split("\0")
          .filter((entry) => entry.length > 0);
        const names = environ.map((entry) => entry.slice(0, entry.indexOf("=")));
        assert.ok(!names.includes(planted), names.join(" "));
        assert.ok(!names.includes("DATABASE_URL"), names.join(" "));
        assert.ok(!environ.some((entry) => entry.includes("hunter2")));
        assert.ok(environ.includes(`CONTAINERS_CONF=${conf.path}`));
        assert.ok(names.includes("PATH"));
      } finally {
        delete process.env[planted];
        if (hadDatabaseUrl === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = hadDatabaseUrl;
        await service.stop();
        await rm(workDir, { recursive: true, force: true });
      }
    });

    it("stops a service an agent killed without stopping it left on its socket", async () => {
      const workDir = await mkdtemp(join(tmpdir(), "gpuaas-podman-driver-"));
      const socketPath = join(workDir, "podman", "podman.sock");
      await mkdir(join(workDir, "podman"), { mode: 0o700 });
      // What a SIGKILLed agent leaves: its service, still running, and the pid file.
      const leftover = spawn("podman", ["system", "service", "--time=0", `unix://${socketPath}`], {
        stdio: "ignore",
      });
      const leftoverPid = leftover.pid ?? 0;
      const driver = createPodmanDriver({
        socketPath,
        containersConf: { path: join(workDir, "containers.conf"), ...DEFAULT_CONTAINERS_CONF },
      });
      try {
        await writeFile(join(workDir, "podman", SERVICE_PID_FILE), `${leftoverPid}\n`);
        await waitFor(() => pingPodman(socketPath, 500), 10_000);
        assert.equal((await driver.probe()).answering, true);
        await waitFor(() => !isAlive(leftoverPid), 5_000);
        assert.equal(driver.activeDriver(), "api");
        assert.equal(await pingPodman(socketPath, 1_000), true);
      } finally {
        await driver.close();
        if (isAlive(leftoverPid)) process.kill(leftoverPid, "SIGKILL");
        await rm(workDir, { recursive: true, force: true });
      }
    });

    it("falls back to the CLI when the API socket does not answer, and says so once", async () => {
      const workDir = await mkdtemp(join(tmpdir(), "gpuaas-podman-driver-"));
      const driver = createPodmanDriver({
        socketPath: join(workDir, "nothing-here.sock"),
        startService: false,
        containersConf: { path: join(workDir, "containers.conf"), ...DEFAULT_CONTAINERS_CONF },
      });
      try {
        const probe = await driver.probe();
        const notices: string[] = [];
        driver.onNotice((message) => notices.push(message));
        assert.equal(probe.answering, true);
        assert.match(probe.problem ?? "", /podman API not available, using the CLI/);
        assert.equal(driver.activeDriver(), "cli");
        assert.equal(
          await driver.inspectContainer(`gpuaas-none-${randomBytes(3).toString("hex")}`),
          undefined,
        );
        await driver.probe();
        assert.equal(notices.length, 1, notices.join("\n"));
        assert.match(notices[0] ?? "", /the agent drives the podman CLI/);
      } finally {
        await driver.close();
        await rm(workDir, { recursive: true, force: true });
      }
    });

    it("is the CLI when asked", async () => {
      const workDir = await mkdtemp(join(tmpdir(), "gpuaas-podman-driver-"));
      const driver = createPodmanDriver({
        driver: "cli",
        socketPath: join(workDir, "podman", "podman.sock"),
        containersConf: { path: join(workDir, "containers.conf"), ...DEFAULT_CONTAINERS_CONF },
      });
      try {
        assert.equal((await driver.probe()).answering, true);
        assert.equal(driver.activeDriver(), "cli");
        assert.equal(await pingPodman(join(workDir, "podman", "podman.sock"), 500), false);
      } finally {
        await driver.close();
        await rm(workDir, { recursive: true, force: true });
      }
    });
  });
}

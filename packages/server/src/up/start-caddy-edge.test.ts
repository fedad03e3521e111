import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { request } from "node:http";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  type CaddyEdge,
  type CaddyEdgeOptions,
  redactCaddyLogLine,
  startCaddyEdge,
} from "./start-caddy-edge.js";

const CADDY = "/usr/bin/caddy";
const caddyMissing =
  spawnSync(CADDY, ["version"], { timeout: 10_000 }).status === 0
    ? false
    : "caddy is not installed: GPUAAS_SETUP_TEST_DEPS=1 bash scripts/setup.sh installs it";
if (caddyMissing !== false && process.env.CI === "true") {
  throw new Error(`the Caddy edge tests must run in CI: ${caddyMissing}`);
}

const scratch = mkdtempSync(join(tmpdir(), "gpuaas-edge-"));
const edges: CaddyEdge[] = [];
const servers: Server[] = [];

after(async () => {
  for (const edge of edges) await edge.stop();
  for (const server of servers) server.close();
  // Whatever a failed test left: every Caddy started with a bootstrap config under scratch.
  for (const pid of findCaddies(scratch)) process.kill(pid, "SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
});

/** Pids of the Caddy processes whose command line names a bootstrap config under `dir`. */
function findCaddies(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (
      cmdline.split("\0").some((arg) => arg.startsWith(dir) && arg.endsWith("caddy-bootstrap.json"))
    ) {
      pids.push(Number(name));
    }
  }
  return pids;
}

/** Every Caddy pid under `dir` seen while polling for `ms`. */
async function watchCaddies(dir: string, ms: number): Promise<number[]> {
  const seen = new Set<number>();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    for (const pid of findCaddies(dir)) seen.add(pid);
    await sleep(25);
  }
  return [...seen];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Listens on a free loopback port, so a Caddy told to serve there cannot. */
async function occupyPort(port = 0): Promise<{ port: number; free(): Promise<void> }> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    free: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function freePort(): Promise<number> {
  const busy = await occupyPort();
  await busy.free();
  return busy.port;
}

function edgeOptions(name: string, listen: string, lines: string[]): CaddyEdgeOptions {
  const stateDir = join(scratch, name, "edge");
  return {
    caddyBin: CADDY,
    stateDir,
    admin: {
      endpoint: `unix:${stateDir}/caddy-admin.sock`,
      listen: `unix/${stateDir}/caddy-admin.sock`,
    },
    listen,
    log: (line) => lines.push(line),
  };
}

/** The edge's status for a host no route claims. */
function edgeStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", agent: false, headers: { host: "nope.example.test" } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("startCaddyEdge", { skip: caddyMissing }, () => {
  it("fails a first start whose listener is taken, and leaves no Caddy and no restart behind", async () => {
    const busy = await occupyPort();
    const lines: string[] = [];
    const options = edgeOptions("busy", `127.0.0.1:${busy.port}`, lines);
    await assert.rejects(startCaddyEdge(options), /address already in use/);
    assert.deepEqual(findCaddies(join(scratch, "busy")), [], "the failed Caddy is gone");
    assert.equal(existsSync(join(options.stateDir, "caddy.pid")), false);
    assert.equal(existsSync(join(options.stateDir, "caddy-admin.sock")), false);
    // A restart would come after 1 s: nothing may start in the next 2.5 s.
    assert.deepEqual(await watchCaddies(join(scratch, "busy"), 2_500), [], "nothing restarts");
    assert.deepEqual(
      lines.filter((line) => /again/.test(line)),
      [],
      "no restart is announced for a start that failed",
    );
    await busy.free();
  });

  it("retries a failed restart on one timer, puts the edge back once it can, and stop ends it all", async () => {
    const port = await freePort();
    const lines: string[] = [];
    let reconciles = 0;
    const edge = await startCaddyEdge({
      ...edgeOptions("restart", `127.0.0.1:${port}`, lines),
      onRestart: () => {
        reconciles += 1;
      },
    });
    edges.push(edge);
    const first = edge.pid();
    process.kill(first, "SIGKILL");
    // Take the listener before the restart (1 s later) so that restarts fail for a while.
    let busy: { free(): Promise<void> } | undefined;
    for (let tries = 0; busy === undefined; tries += 1) {
      busy = await occupyPort(port).catch(async (error: unknown) => {
        if (tries > 40) throw error;
        await sleep(20);
        return undefined;
      });
    }
    // Attempts at about 1 s and 3 s; a doubled timer chain would try a third time by 5.5 s.
    await sleep(5_500);
    const failed = lines.filter((line) => line.includes("starting caddy again failed"));
    assert.equal(failed.length, 2, lines.join(""));
    assert.equal(lines.filter((line) => / exited \(/.test(line)).length, 1, lines.join(""));
    assert.match(failed[0] ?? "", /next try in 2000 ms/);
    assert.match(failed[1] ?? "", /next try in 4000 ms/);
    assert.equal(reconciles, 0);

    await busy.free();
    const deadline = Date.now() + 10_000;
    while (reconciles === 0 && Date.now() < deadline) await sleep(50);
    assert.equal(reconciles, 1, lines.join(""));
    assert.equal(edge.restarts(), 1);
    assert.notEqual(edge.pid(), first);
    assert.equal(await edgeStatus(port), 404, "the restarted edge has its base config");

    await edge.stop();
    assert.deepEqual(await watchCaddies(join(scratch, "restart"), 2_500), [], "stop ends it all");
    assert.equal(reconciles, 1);
  });

  it("makes its state directory private on every start and refuses one somebody else owns", async () => {
    const port = await freePort();
    const options = edgeOptions("private", `127.0.0.1:${port}`, []);
    mkdirSync(options.stateDir, { recursive: true });
    chmodSync(options.stateDir, 0o755);
    const edge = await startCaddyEdge(options);
    edges.push(edge);
    assert.equal(
      statSync(options.stateDir).mode & 0o777,
      0o700,
      "an existing loose directory is closed",
    );
    await edge.stop();

    const linked = edgeOptions("linked", `127.0.0.1:${port}`, []);
    mkdirSync(join(scratch, "linked"));
    symlinkSync(options.stateDir, linked.stateDir);
    await assert.rejects(startCaddyEdge(linked), /is not a directory owned by this user/);

    if (process.getuid?.() === 0) {
      chownSync(options.stateDir, 65534, 65534);
      await assert.rejects(startCaddyEdge(options), /is not a directory owned by this user/);
      chownSync(options.stateDir, 0, 0);
    }
    assert.deepEqual(findCaddies(join(scratch, "linked")), []);
  });

  it("accepts only a unix admin socket, in a directory closed to other users", async () => {
    const port = await freePort();
    const tcp = edgeOptions("tcp", `127.0.0.1:${port}`, []);
    await assert.rejects(
      startCaddyEdge({
        ...tcp,
        admin: { endpoint: "http://127.0.0.1:2019", listen: "127.0.0.1:2019" },
      }),
      /must be a unix socket/,
    );
    const open = join(scratch, "open-socket-dir");
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await assert.rejects(
      startCaddyEdge({
        ...tcp,
        admin: { endpoint: `unix:${open}/admin.sock`, listen: `unix/${open}/admin.sock` },
      }),
      /open to other users \(mode 755\)/,
    );
    assert.deepEqual(findCaddies(join(scratch, "tcp")), []);
  });
});

describe("redactCaddyLogLine", () => {
  const bearer = "gpuaas_usr_0123456789abcdefghijklmnop";
  const assertion = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl";
  const ticket = "t1ck3t-0123456789abcdef";

  it("drops request headers and the query string, and redacts credentials elsewhere in the entry", () => {
    // The shape of Caddy 2.6's http.log.error entry for a request it could not proxy.
    const line = JSON.stringify({
      level: "error",
      ts: 1_763_780_000.5,
      logger: "http.log.error",
      msg: `dial tcp 127.0.0.1:0: connect: connection refused (Bearer ${bearer})`,
      request: {
        remote_ip: "127.0.0.1",
        remote_port: "51234",
        proto: "HTTP/1.1",
        method: "GET",
        host: "web-0123456789ab.apps.example.test:8081",
        uri: `/.gpuaas/ingress/callback?ticket=${ticket}&rd=%2Flab`,
        headers: {
          Authorization: [`Bearer ${bearer}`],
          "X-Platform-Jwt-Assertion": [assertion],
          Cookie: ["__Host-gpuaas_app_session=s3cr3t-session"],
        },
      },
      resp_headers: { "Set-Cookie": ["__Host-gpuaas_app_session=s3cr3t-session"] },
      duration: 0.001,
      status: 502,
    });
    const shown = redactCaddyLogLine(line);
    for (const secret of [bearer, assertion, ticket, "s3cr3t-session", "rd=%2Flab"]) {
      assert.ok(!shown.includes(secret), `${secret} is not in ${shown}`);
    }
    const entry = JSON.parse(shown) as {
      msg: string;
      status: number;
      request: Record<string, unknown>;
      resp_headers?: unknown;
    };
    assert.equal(entry.request.headers, undefined);
    assert.equal(entry.resp_headers, undefined);
    assert.equal(entry.request.uri, "/.gpuaas/ingress/callback?[REDACTED]");
    assert.equal(entry.request.host, "web-0123456789ab.apps.example.test:8081");
    assert.equal(entry.status, 502);
    assert.match(
      entry.msg,
      /^dial tcp 127\.0\.0\.1:0: connect: connection refused \(Bearer \[REDACTED\]\)$/,
    );
  });

  it("redacts bearer tokens and JWTs in a line that is not JSON, and leaves a clean line alone", () => {
    const shown = redactCaddyLogLine(
      `Error: loading config: Authorization: Bearer ${bearer} ${assertion}`,
    );
    assert.equal(shown, "Error: loading config: Authorization: Bearer [REDACTED] [REDACTED]");
    const clean = '{"level":"info","msg":"serving initial configuration"}';
    assert.equal(redactCaddyLogLine(clean), clean);
  });
});

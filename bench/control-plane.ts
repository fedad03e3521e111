// Control-plane API throughput: accepted launches per second with p50/p99 latency at 1 and 32
// concurrent clients, and GET throughput (catalog, one instance, a page of instances) at 32
// clients, against the real HTTP API on PGlite and on PostgreSQL, each seeded with 1,000
// allocations and 10,000 instances. A benchmark, not a test: it prints figures and asserts nothing.
// Run: npm run bench:api   (DATABASE_URL picks the PostgreSQL; unreachable, it is skipped)
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import autocannon, { type AutocannonRequest, type AutocannonResult } from "autocannon";
import {
  type BenchReply,
  type BenchRequest,
  SEED,
  type SeedReport,
  toLaunchBody,
} from "./control-plane-protocol.js";

const DATABASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
/** Seconds each measured run lasts; every run is preceded by a discarded warm-up. */
const LAUNCH_SECONDS = 8;
const READ_SECONDS = 5;
const WARMUP_SECONDS = 1;
/** A run also stops after this many responses, whichever comes first. */
const MAX_RESPONSES = 100_000;
/** Seconds to wait at most for other work on the machine to stop before a backend's runs. */
const QUIET_WAIT_SECONDS = 30;

/** One load pattern against one route. */
interface Scenario {
  readonly name: string;
  readonly connections: number;
  readonly seconds: number;
  /** The status that counts: 202 for launches, 200 for reads. */
  readonly ok: number;
  readonly request: (n: number) => AutocannonRequest;
}

/** The figures of one run. */
interface RunFigures {
  readonly scenario: string;
  readonly clients: number;
  readonly seconds: number;
  readonly responses: number;
  readonly ok: number;
  readonly ok_per_second: number;
  /** p50 and p99 of the accepted requests, each connection's first request left out. */
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly mean_ms: number;
  /** The slowest first request of a connection (connection set-up included), not in p50/p99. */
  readonly first_request_max_ms: number;
  readonly non_2xx: number;
  readonly status_codes: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly timeouts: number;
  /** CPU time of the API process over wall time, in percent of one core. */
  readonly api_cpu_percent: number;
  /** Share of wall time the API process's event loop was busy. */
  readonly api_event_loop_percent: number;
  /** CPU time of this (load-generating) process, in percent of one core. */
  readonly loadgen_cpu_percent: number;
  /**
   * CPU time of the whole machine in percent of one core (at most cores × 100): the API, the load
   * generator, PostgreSQL, and anything else running, which makes a run's figures suspect.
   */
  readonly machine_cpu_percent: number;
}

/** The API process of one backend, spoken to over IPC. */
interface ApiProcess {
  readonly child: ChildProcess;
  ask<T extends BenchReply["type"]>(
    request: BenchRequest,
    reply: T,
  ): Promise<Extract<BenchReply, { type: T }>>;
  next<T extends BenchReply["type"]>(...types: T[]): Promise<Extract<BenchReply, { type: T }>>;
}

function startApi(backend: "pglite" | "postgres"): ApiProcess {
  const child = fork(new URL("./control-plane-server.ts", import.meta.url).pathname, [backend], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, DATABASE_URL },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting: {
    types: readonly string[];
    resolve: (reply: BenchReply) => void;
    reject: (error: Error) => void;
  }[] = [];
  const failAll = (error: Error) => {
    for (const entry of waiting.splice(0)) entry.reject(error);
  };
  child.once("exit", (code, signal) =>
    failAll(new Error(`the ${backend} API process exited (${signal ?? code})`)),
  );
  child.on("message", (message: BenchReply) => {
    if (message.type === "failed") {
      failAll(new Error(`${backend} API process: ${message.reason}`));
      return;
    }
    const index = waiting.findIndex((entry) => entry.types.includes(message.type));
    if (index !== -1) waiting.splice(index, 1)[0]?.resolve(message);
  });
  const next = <T extends BenchReply["type"]>(...types: T[]) =>
    new Promise<Extract<BenchReply, { type: T }>>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`the ${backend} API process has exited`));
        return;
      }
      waiting.push({
        types,
        resolve: (reply) => resolve(reply as Extract<BenchReply, { type: T }>),
        reject,
      });
    });
  return {
    child,
    next,
    ask: (request, reply) => {
      const answer = next(reply);
      child.send(request);
      return answer;
    },
  };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** Busy and total jiffies of all cores since boot (Linux); undefined elsewhere. */
function readMachineCpu(): { busy: number; total: number } | undefined {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Waits (at most `limitSeconds`) until the machine has been nearly idle for two seconds, since
 * other work on a 2-core machine halves the figures. Returns the busy percent of one core seen
 * last, for the report; figures measured above ~25% deserve suspicion.
 */
async function waitForQuietMachine(limitSeconds: number): Promise<number> {
  let quiet = 0;
  let busy = Number.NaN;
  for (let second = 0; second < limitSeconds; second += 1) {
    const before = readMachineCpu();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = readMachineCpu();
    if (before === undefined || after === undefined) return Number.NaN;
    busy =
      ((after.busy - before.busy) / Math.max(1, after.total - before.total)) * cpus().length * 100;
    quiet = busy < 25 ? quiet + 1 : 0;
    if (quiet >= 2) break;
  }
  return busy;
}

function cpuMicros(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

/** Runs one scenario with autocannon and measures the API process alongside. */
async function measure(
  api: ApiProcess,
  url: string,
  scenario: Scenario,
  seconds: number,
): Promise<RunFigures> {
  const before = await api.ask({ type: "usage" }, "usage");
  const loadgenBefore = process.cpuUsage();
  const machineBefore = readMachineCpu();
  const wallBefore = performance.now();
  const latencies: number[] = [];
  const codes: Record<string, number> = {};
  let responses = 0;
  let n = 0;
  const served = new WeakSet<object>();
  let firstMax = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: scenario.connections,
        duration: seconds,
        timeout: 30,
        excludeErrorStats: true,
        requests: [{ setupRequest: () => scenario.request(n++) }],
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    instance.on("response", (client, status, _bytes, milliseconds) => {
      responses += 1;
      codes[status] = (codes[status] ?? 0) + 1;
      // A connection's first request also waits for the server to accept the connection, which a
      // saturated PGlite server does one connection at a time: kept apart from the steady state.
      if (!served.has(client as object)) {
        served.add(client as object);
        firstMax = Math.max(firstMax, milliseconds);
      } else if (status === scenario.ok) latencies.push(milliseconds);
      if (responses >= MAX_RESPONSES) instance.stop();
    });
  });
  const wallMicros = (performance.now() - wallBefore) * 1000;
  const loadgen = process.cpuUsage(loadgenBefore);
  const machineAfter = readMachineCpu();
  const after = await api.ask({ type: "usage" }, "usage");
  await api.ask({ type: "settle" }, "settled");
  const busy = after.elu.active - before.elu.active;
  const idle = after.elu.idle - before.elu.idle;
  latencies.sort((a, b) => a - b);
  const ok = codes[scenario.ok] ?? 0;
  const non2xx = Object.entries(codes)
    .filter(([status]) => !status.startsWith("2"))
    .reduce((sum, [, count]) => sum + count, 0);
  return {
    scenario: scenario.name,
    clients: scenario.connections,
    seconds: result.duration,
    responses,
    ok,
    ok_per_second: ok / result.duration,
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    first_request_max_ms: firstMax,
    mean_ms: latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length),
    non_2xx: non2xx,
    status_codes: codes,
    errors: result.errors,
    timeouts: result.timeouts,
    api_cpu_percent: ((cpuMicros(after.cpu) - cpuMicros(before.cpu)) / wallMicros) * 100,
    api_event_loop_percent: (busy / Math.max(1, busy + idle)) * 100,
    loadgen_cpu_percent: (cpuMicros(loadgen) / wallMicros) * 100,
    machine_cpu_percent:
      machineBefore === undefined || machineAfter === undefined
        ? Number.NaN
        : ((machineAfter.busy - machineBefore.busy) /
            Math.max(1, machineAfter.total - machineBefore.total)) *
          cpus().length *
          100,
  };
}

/** The bench's scenarios over a seeded world. */
function toScenarios(seed: SeedReport): Scenario[] {
  const auth = { authorization: `Bearer ${seed.token}` };
  // A stride coprime to the set sizes visits every allocation and instance, out of insertion order.
  const pick = <T>(items: readonly T[], n: number): T => {
    const item = items[(n * 7919) % items.length];
    if (item === undefined) throw new Error("empty set");
    return item;
  };
  const launch = (n: number): AutocannonRequest => {
    const allocation = pick(seed.allocations, n);
    return {
      method: "POST",
      path: `/api/v1/projects/${allocation.project_id}/app-instances`,
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(toLaunchBody(seed.version, allocation.id, n)),
    };
  };
  const read = (path: string): AutocannonRequest => ({ method: "GET", path, headers: auth });
  return [
    {
      name: "POST app-instances (launch)",
      connections: 1,
      seconds: LAUNCH_SECONDS,
      ok: 202,
      request: launch,
    },
    {
      name: "POST app-instances (launch)",
      connections: 32,
      seconds: LAUNCH_SECONDS,
      ok: 202,
      request: launch,
    },
    {
      name: "GET apps/catalog",
      connections: 32,
      seconds: READ_SECONDS,
      ok: 200,
      request: () => read("/api/v1/apps/catalog"),
    },
    {
      name: "GET app-instances/:id",
      connections: 32,
      seconds: READ_SECONDS,
      ok: 200,
      request: (n) => {
        const instance = pick(seed.instances, n);
        return read(`/api/v1/projects/${instance.project_id}/app-instances/${instance.id}`);
      },
    },
    {
      name: "GET app-instances?after= (page of 100)",
      connections: 32,
      seconds: READ_SECONDS,
      ok: 200,
      request: (n) => {
        const cursor = pick(seed.instances, n);
        return read(`/api/v1/projects/${cursor.project_id}/app-instances?after=${cursor.id}`);
      },
    },
  ];
}

/** Everything one backend produced. */
interface BackendReport {
  readonly backend: string;
  readonly skipped?: string;
  readonly server_version?: string;
  /** 1-, 5- and 15-minute load averages when the backend's runs began. */
  readonly load_average?: readonly number[];
  /** Busy percent of one core of the whole machine just before the runs, with the API idle. */
  readonly machine_cpu_before_percent?: number;
  readonly timings_ms?: Readonly<Record<string, number>>;
  readonly rows_seeded?: Readonly<Record<string, number>>;
  readonly rows_after?: Readonly<Record<string, number>>;
  readonly runs?: readonly RunFigures[];
}

async function benchBackend(backend: "pglite" | "postgres", label: string): Promise<BackendReport> {
  console.log(
    `\n${label}: opening the store and seeding ${SEED.allocations.toLocaleString("en-US")} allocations and ${SEED.instances.toLocaleString("en-US")} instances…`,
  );
  const api = startApi(backend);
  try {
    const first = await api.next("ready", "unavailable");
    if (first.type === "unavailable") {
      console.log(`${label}: skipped, ${first.reason}`);
      return { backend: label, skipped: first.reason };
    }
    const seed = first.seed;
    const idleBusy = await waitForQuietMachine(QUIET_WAIT_SECONDS);
    if (!(idleBusy < 25))
      console.log(
        `${label}: other work kept the machine ${Math.round(idleBusy)}% busy (of one core) for ${QUIET_WAIT_SECONDS} s; the figures below are contended`,
      );
    const loadAverage = loadavg().map((value) => Math.round(value * 100) / 100);
    const runs: RunFigures[] = [];
    for (const scenario of toScenarios(seed)) {
      await measure(api, seed.url, scenario, WARMUP_SECONDS);
      runs.push(await measure(api, seed.url, scenario, scenario.seconds));
    }
    const rowsAfter = (await api.ask({ type: "rows" }, "rows")).rows;
    await api.ask({ type: "close" }, "closed");
    const report: BackendReport = {
      backend: label,
      server_version: seed.server_version,
      load_average: loadAverage,
      machine_cpu_before_percent: idleBusy,
      timings_ms: seed.timings,
      rows_seeded: seed.rows,
      rows_after: rowsAfter,
      runs,
    };
    printBackend(report);
    return report;
  } finally {
    if (api.child.exitCode === null && api.child.signalCode === null) {
      await new Promise((resolve) => {
        const timer = setTimeout(() => api.child.kill("SIGKILL"), 10_000);
        api.child.once("exit", () => resolve(clearTimeout(timer)));
      });
    }
  }
}

const integer = (value: number) => Math.round(value).toLocaleString("en-US");
const fixed = (value: number, digits: number) => value.toFixed(digits);
const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;

function printBackend(report: BackendReport): void {
  const timings = report.timings_ms ?? {};
  console.log(
    `\n${report.backend} (${report.server_version ?? "?"}): open ${seconds(timings.open_ms)}, seed tenants/nodes/allocations/catalog ${seconds(timings.seed_world_ms)}, seed ${integer(report.rows_seeded?.instances ?? 0)} instances with tasks, events and audit ${seconds(timings.seed_instances_ms)}, ANALYZE ${seconds(timings.analyze_ms)}`,
  );
  const header = [
    "route",
    "clients",
    "ok/s",
    "p50 ms",
    "p99 ms",
    "1st req max ms",
    "ok",
    "non-2xx",
    "errors",
    "API CPU",
    "loadgen CPU",
    "machine CPU",
  ];
  const rows = (report.runs ?? []).map((run) => [
    run.scenario,
    String(run.clients),
    integer(run.ok_per_second),
    fixed(run.p50_ms, 2),
    fixed(run.p99_ms, 2),
    fixed(run.first_request_max_ms, 0),
    integer(run.ok),
    integer(run.non_2xx),
    integer(run.errors),
    `${integer(run.api_cpu_percent)}%`,
    `${integer(run.loadgen_cpu_percent)}%`,
    `${integer(run.machine_cpu_percent)}%`,
  ]);
  console.log(toMarkdownTable(header, rows));
  console.log(
    `machine ${integer(report.machine_cpu_before_percent ?? Number.NaN)}% busy before the runs, load average ${(report.load_average ?? []).join(", ")} (${cpus().length} cores); machine CPU above API + loadgen is PostgreSQL or other work`,
  );
  console.log(
    `rows after the runs: ${Object.entries(report.rows_after ?? {})
      .map(([table, count]) => `${table} ${integer(count)}`)
      .join(", ")}`,
  );
}

function toMarkdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const numeric = (column: number) => column > 0;
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, column) =>
        numeric(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((width, column) => (numeric(column) ? `${"-".repeat(width + 1)}:` : "-".repeat(width + 2))).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

async function main(): Promise<void> {
  const started = performance.now();
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
  console.log(
    `${machine.cores} cores (${machine.cpu}), ${machine.memory_gib} GiB, node ${machine.node}, ${machine.os}`,
  );
  console.log(
    `launch runs ${LAUNCH_SECONDS} s, read runs ${READ_SECONDS} s, each after a ${WARMUP_SECONDS} s warm-up and capped at ${integer(MAX_RESPONSES)} responses; the API and autocannon run in separate processes on this machine`,
  );
  const backends = [
    await benchBackend("pglite", "PGlite (data directory)"),
    await benchBackend("postgres", "PostgreSQL"),
  ];
  const date = new Date().toISOString().slice(0, 10);
  const path = new URL(`./results/control-plane-${date}.json`, import.meta.url);
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(
    path,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        settings: {
          launch_seconds: LAUNCH_SECONDS,
          read_seconds: READ_SECONDS,
          warmup_seconds: WARMUP_SECONDS,
          max_responses: MAX_RESPONSES,
          seed: SEED,
        },
        backends,
        total_seconds: (performance.now() - started) / 1000,
      },
      null,
      2,
    )}\n`,
  );
  console.log(
    `\nwrote ${path.pathname} (${((performance.now() - started) / 1000).toFixed(0)} s in all)`,
  );
}

await main();

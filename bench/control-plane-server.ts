// The API under test for bench/control-plane.ts, in a process of its own so the load generator
// never shares its event loop: opens a store (PGlite in a temporary data directory, or a fresh
// PostgreSQL schema), seeds it, listens on 127.0.0.1:0 and answers the bench over IPC.
// Run by the bench only: node --import tsx bench/control-plane-server.ts pglite|postgres
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { checkAuthoringGate, validateProfile } from "@gpuaas/contract";
import {
  type AppVersion,
  buildApp,
  createAllocation,
  createArtifact,
  createMembership,
  createNode,
  createOrganization,
  createPgliteTemplate,
  createProject,
  createToken,
  createUser,
  listTasks,
  loadServerConfig,
  MIGRATIONS,
  openStore,
  registerAppVersion,
  type Store,
  type StoreDb,
  type StoreOptions,
  setEntitlement,
  toCuratedVersion,
  transitionArtifact,
} from "@gpuaas/server";
import { sql } from "kysely";
import { parse } from "yaml";
import {
  type BenchReply,
  type BenchRequest,
  SEED,
  type SeedReport,
  toLaunchBody,
} from "./control-plane-protocol.js";

const backend = process.argv[2];
const send = (message: BenchReply): void => {
  process.send?.(message);
};

/** The PGlite template the store suite also uses: initdb and migrations once, cached on disk. */
async function loadPgliteTemplate(): Promise<Blob> {
  const require = createRequire(import.meta.url);
  const pgliteDir = dirname(dirname(require.resolve("@electric-sql/pglite")));
  const { version } = JSON.parse(await readFile(join(pgliteDir, "package.json"), "utf8"));
  const key = createHash("sha256")
    .update(JSON.stringify({ pgliteVersion: version, MIGRATIONS }))
    .digest("hex")
    .slice(0, 16);
  const cacheDir = new URL("../node_modules/.cache/gpuaas/", import.meta.url).pathname;
  const path = join(cacheDir, `pglite-template-${key}.tar`);
  try {
    return new Blob([await readFile(path)]);
  } catch {
    const blob = await createPgliteTemplate();
    await mkdir(cacheDir, { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, new Uint8Array(await blob.arrayBuffer()));
    await rename(temporary, path);
    return blob;
  }
}

/** Opens the store and returns a close that also removes what the bench created. */
async function openBenchStore(): Promise<{ store: Store; close: () => Promise<void> }> {
  if (backend === "pglite") {
    // A data directory, as `gpuaas up` uses, rather than memory: writes go through the filesystem.
    const dataDir = await mkdtemp(join(tmpdir(), "gpuaas-bench-"));
    const options: StoreOptions = { kind: "pglite", dataDir, template: await loadPgliteTemplate() };
    const store = await openStore(options);
    return {
      store,
      close: async () => {
        try {
          await store.close();
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  }
  const url = process.env.DATABASE_URL ?? "";
  const schema = `gpuaas_bench_${process.pid}_${randomBytes(4).toString("hex")}`;
  const store = await openStore({ kind: "postgres", connectionString: url, schema });
  return {
    store,
    close: async () => {
      try {
        await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(store.db);
      } finally {
        await store.close();
      }
    },
  };
}

/** What the launches and reads need to know about the seeded world. */
interface World {
  readonly token: string;
  readonly version: string;
  readonly allocations: readonly { id: string; project_id: string; node_id: string }[];
}

/** Tenants, nodes, allocations and the curated catalog, in one transaction. */
async function seedWorld(db: StoreDb): Promise<World> {
  const profilesDir = new URL("../profiles/", import.meta.url);
  const curated = [];
  for (const name of (await readdir(profilesDir)).filter((file) => file.endsWith(".yaml")).sort()) {
    const manifest = parse(await readFile(new URL(name, profilesDir), "utf8"));
    const validation = validateProfile(manifest);
    if (validation.profile === undefined) throw new Error(`profiles/${name} does not validate`);
    curated.push({ manifest, profile: validation.profile, gate: checkAuthoringGate(manifest) });
  }
  const org = await createOrganization(db, { slug: "bench", display_name: "Bench" });
  const user = await createUser(db, { email: "member@bench.test", display_name: "Member" });
  const projects: string[] = [];
  for (let p = 0; p < SEED.projects; p += 1) {
    const project = await createProject(db, {
      org_id: org.id,
      slug: `team-${p}`,
      display_name: `Team ${p}`,
    });
    await createMembership(db, {
      user_id: user.id,
      project_id: project.id,
      role: "project_member",
    });
    projects.push(project.id);
  }
  const token = await createToken(db, { owner: { kind: "user", user_id: user.id }, name: "bench" });

  let jupyter: AppVersion | undefined;
  for (const { manifest, profile, gate } of curated) {
    const registered = await registerAppVersion(db, {
      version: toCuratedVersion(manifest),
      manifest,
      profile,
      gate_report: gate,
      published: true,
    });
    for (const project of projects)
      await setEntitlement(db, {
        project_id: project,
        app_slug: profile.profile.slug,
        enabled: true,
      });
    if (profile.profile.slug === "jupyterlab") jupyter = registered;
  }
  if (jupyter === undefined) throw new Error("profiles/jupyterlab.yaml is missing");
  for (const gpu of [true, false]) {
    let artifact = await createArtifact(db, {
      app_version_id: jupyter.id,
      artifact_name: gpu ? "jupyterlab/runtime-nvidia-h200" : "jupyterlab/runtime-cpu",
      repository: `127.0.0.1:5055/gpuaas/jupyterlab-${gpu ? "cuda" : "cpu"}`,
      digest: `sha256:${randomBytes(32).toString("hex")}`,
      media_type: "application/vnd.oci.image.manifest.v1+json",
      platform: { os: "linux", architecture: "amd64" },
      ...(gpu ? { accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" } } : {}),
    });
    for (const to of ["verified", "published", "promoted"] as const)
      artifact = await transitionArtifact(db, { id: artifact.id, to });
  }

  // Eight one-GPU allocations per H200 node, dealt round-robin to the projects.
  const allocations: { id: string; project_id: string; node_id: string }[] = [];
  let node = "";
  for (let a = 0; a < SEED.allocations; a += 1) {
    const gpu = a % SEED.gpusPerNode;
    if (gpu === 0) {
      // Left `pending` (no agent has enrolled), as the route tests do: an `online` node without
      // heartbeats would be swept offline during the runs.
      node = (
        await createNode(db, { name: `h200-${String(a / SEED.gpusPerNode).padStart(4, "0")}` })
      ).id;
    }
    const projectId = projects[a % projects.length] ?? "";
    const allocation = await createAllocation(db, {
      project_id: projectId,
      node_id: node,
      accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
      cpu_architecture: "amd64",
      gpu_indices: [gpu],
      cpu_cores: 24,
      memory_gib: 240,
      storage_modes: ["scratch", "project_storage"],
    });
    allocations.push({ id: allocation.id, project_id: projectId, node_id: node });
  }
  return { token: token.plaintext, version: jupyter.version, allocations };
}

/**
 * Seeds `count` instances: one real launch through the API, then `count - 1` copies of every row
 * it wrote (instance, node task, event, audit entry), each re-addressed to fresh ids and dealt
 * round-robin to the allocations, in one transaction of four INSERT … SELECTs. Every copy keeps
 * the launch's invariants: its task and event exist, its allocation belongs to its project, and it
 * claims no GPUs. A copy is the real launch's record with its ids swapped, rendered spec included.
 */
async function seedInstances(
  store: Store,
  url: string,
  world: World,
  count: number,
): Promise<{ id: string; project_id: string }[]> {
  const first = world.allocations[0];
  if (first === undefined) throw new Error("no allocations");
  const response = await fetch(`${url}/api/v1/projects/${first.project_id}/app-instances`, {
    method: "POST",
    headers: { authorization: `Bearer ${world.token}`, "content-type": "application/json" },
    body: JSON.stringify(toLaunchBody(world.version, first.id, 0)),
  });
  if (response.status !== 202)
    throw new Error(`the template launch got ${response.status}: ${await response.text()}`);
  const template = (await response.json()) as { id: string; correlation_id: string };
  const [task] = await listTasks(store.db, { instance_id: template.id });
  if (task === undefined) throw new Error("the template launch wrote no node task");

  // Every id a launch writes is a UUID, so swapping them as text re-addresses a whole record.
  const swaps: readonly (readonly [string, string])[] = [
    [template.id, "instance_id"],
    [template.correlation_id, "correlation_id"],
    [task.id, "task_id"],
    [first.id, "allocation_id"],
    [first.node_id, "node_id"],
    [first.project_id, "project_id"],
  ];
  const readdress = (column: string) =>
    swaps.reduce(
      (expression, [from, to]) =>
        sql<string>`replace(${expression}, ${from}, ${sql.ref(`c.${to}`)})`,
      sql<string>`${sql.ref(`t.${column}`)}::text`,
    );
  // One instance a minute into the past, oldest first, so lists page through a history.
  const createdAt = sql`t.created_at - make_interval(mins => ${count} - c.n)`;
  await store.transaction(async (tx) => {
    await sql`CREATE TEMP TABLE bench_clones ON COMMIT DROP AS
      SELECT g AS n, a.id AS allocation_id, a.node_id, a.project_id,
             gen_random_uuid()::text AS instance_id, gen_random_uuid()::text AS task_id,
             gen_random_uuid()::text AS correlation_id
      FROM generate_series(1, ${count - 1}) AS g
      JOIN (SELECT id, node_id, project_id, row_number() OVER (ORDER BY id) - 1 AS k
            FROM allocations) AS a ON a.k = g % ${world.allocations.length}`.execute(tx);
    await sql`INSERT INTO app_instances (id, project_id, app_version_id, target_allocation_id,
        display_name, engine, desired_state, state, generation, resolved_values, artifact_id,
        resolved_digest, gpu_indices, created_by, correlation_id, created_at, updated_at,
        state_changed_at)
      SELECT c.instance_id, c.project_id, t.app_version_id, c.allocation_id, 'bench ' || c.n,
             t.engine, t.desired_state, t.state, t.generation,
             replace(${readdress("resolved_values")}, '"bench 0"', '"bench ' || c.n || '"')::jsonb,
             t.artifact_id, t.resolved_digest, t.gpu_indices, t.created_by, c.correlation_id,
             ${createdAt}, ${createdAt}, ${createdAt}
      FROM bench_clones c, app_instances t WHERE t.id = ${template.id} ORDER BY c.n`.execute(tx);
    await sql`INSERT INTO node_tasks (id, node_id, instance_id, kind, spec, state, attempts,
        correlation_id, created_at, updated_at)
      SELECT c.task_id, c.node_id, c.instance_id, t.kind,
             replace(${readdress("spec")}, '"bench 0"', '"bench ' || c.n || '"')::jsonb,
             t.state, t.attempts, c.correlation_id, ${createdAt}, ${createdAt}
      FROM bench_clones c, node_tasks t WHERE t.id = ${task.id} ORDER BY c.n`.execute(tx);
    await sql`INSERT INTO events (project_id, instance_id, type, message, data, correlation_id,
        created_at)
      SELECT c.project_id, c.instance_id, t.type, ${readdress("message")},
             ${readdress("data")}::jsonb, c.correlation_id, ${createdAt}
      FROM bench_clones c, events t WHERE t.instance_id = ${template.id}
      ORDER BY c.n, t.id`.execute(tx);
    await sql`INSERT INTO audit_log (actor, action, target, project_id, correlation_id, data,
        created_at)
      SELECT t.actor, t.action, 'instance:' || c.instance_id, c.project_id, c.correlation_id,
             ${readdress("data")}::jsonb, ${createdAt}
      FROM bench_clones c, audit_log t WHERE t.target = ${`instance:${template.id}`}
      ORDER BY c.n, t.id`.execute(tx);
  });
  const { rows } = await sql<{ id: string; project_id: string }>`
    SELECT id, project_id FROM app_instances ORDER BY created_at, id`.execute(store.db);
  return rows;
}

/** Rows of the tables a launch writes. */
async function countRows(db: StoreDb): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, string>>`
    SELECT (SELECT count(*) FROM allocations) AS allocations,
           (SELECT count(*) FROM app_instances) AS instances,
           (SELECT count(*) FROM node_tasks) AS node_tasks,
           (SELECT count(*) FROM events) AS events,
           (SELECT count(*) FROM audit_log) AS audit_log`.execute(db);
  return Object.fromEntries(
    Object.entries(rows[0] ?? {}).map(([key, value]) => [key, Number(value)]),
  );
}

/**
 * Waits until the requests a finished run left behind are done: autocannon drops its sockets when
 * time is up, but the handlers of requests in flight still run. Done when the event loop has been
 * idle for 300 ms (at most 15 s); returns the milliseconds waited.
 */
async function settle(): Promise<number> {
  const started = performance.now();
  let quietSince = started;
  let previous = performance.eventLoopUtilization();
  while (performance.now() - started < 15_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const current = performance.eventLoopUtilization();
    if (performance.eventLoopUtilization(current, previous).utilization > 0.01)
      quietSince = performance.now();
    else if (performance.now() - quietSince >= 300) break;
    previous = current;
  }
  return performance.now() - started;
}

/** The engine's version, e.g. `PostgreSQL 15.20`. */
async function toServerVersion(db: StoreDb): Promise<string> {
  const { rows } = await sql<{ version: string }>`SELECT version()`.execute(db);
  return /^\S+ \S+/.exec(rows[0]?.version ?? "")?.[0] ?? "unknown";
}

async function main(): Promise<void> {
  if (backend !== "pglite" && backend !== "postgres") throw new Error("usage: pglite|postgres");
  const timings: Record<string, number> = {};
  let started = performance.now();
  let opened: Awaited<ReturnType<typeof openBenchStore>>;
  try {
    opened = await openBenchStore();
  } catch (error) {
    send({ type: "unavailable", reason: error instanceof Error ? error.message : String(error) });
    process.disconnect?.();
    return;
  }
  const { store } = opened;
  timings.open_ms = performance.now() - started;
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  let closing: Promise<void> | undefined;
  // Closes once, whether the bench asks, the bench goes away (IPC disconnect) or seeding fails.
  const close = () => {
    closing ??= (async () => {
      try {
        await settle();
        await app?.close();
      } finally {
        await opened.close();
      }
    })();
    return closing;
  };
  process.once("disconnect", () => void close().catch(() => {}));
  // Ctrl-C reaches this process too: drop the schema and the data directory before leaving.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void close().finally(() => process.exit(130)));
  try {
    const loaded = loadServerConfig({
      flags: { host: "127.0.0.1", port: 0, log_level: "warn", oci_node_tasks_enabled: true },
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    app = await buildApp({ store, config: loaded.config });
    const url = await app.listen({ host: loaded.config.host, port: loaded.config.port });

    started = performance.now();
    const world = await store.transaction((tx) => seedWorld(tx));
    timings.seed_world_ms = performance.now() - started;
    started = performance.now();
    const instances = await seedInstances(store, url, world, SEED.instances);
    timings.seed_instances_ms = performance.now() - started;
    // PostgreSQL's autovacuum would analyze the fresh rows soon; PGlite has no autovacuum.
    started = performance.now();
    await sql`ANALYZE`.execute(store.db);
    timings.analyze_ms = performance.now() - started;

    const seed: SeedReport = {
      timings,
      rows: await countRows(store.db),
      server_version: await toServerVersion(store.db),
      url,
      token: world.token,
      version: world.version,
      allocations: world.allocations.map(({ id, project_id }) => ({ id, project_id })),
      instances,
    };
    send({ type: "ready", seed });
  } catch (error) {
    await close();
    throw error;
  }

  process.on("message", (message: BenchRequest) => {
    void (async () => {
      if (message.type === "usage") {
        send({ type: "usage", cpu: process.cpuUsage(), elu: performance.eventLoopUtilization() });
      } else if (message.type === "settle") {
        send({ type: "settled", ms: await settle() });
      } else if (message.type === "rows") {
        send({ type: "rows", rows: await countRows(store.db) });
      } else if (message.type === "close") {
        await close();
        send({ type: "closed" });
        process.disconnect();
      }
    })().catch((error: unknown) => {
      send({ type: "failed", reason: String(error) });
    });
  });
}

main().catch((error: unknown) => {
  send({
    type: "failed",
    reason: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exitCode = 1;
  process.disconnect?.();
});

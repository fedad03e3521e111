// Killing the API (SIGKILL) during a burst of launches leaves no instance without its task, event
// and audit entry, and no task or event without its instance: each launch is one transaction.
// Runs the API as its own process (launch-server.ts) on PostgreSQL; skipped without DATABASE_URL.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import {
  createMembership,
  createOrganization,
  createProject,
  createToken,
  createUser,
  openStore,
  type Store,
} from "../src/index.js";
import { countLaunchRows, launchBody, seedLaunchWorld } from "./instance-fixtures.js";
import { DATABASE_URL, uniqueSchema } from "./store-backends.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const BURST = 120;
const KILL_AFTER = 15;

describe("launch burst interrupted by SIGKILL", {
  skip:
    DATABASE_URL === undefined || DATABASE_URL === ""
      ? "DATABASE_URL is unset: this test runs the API on PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test)"
      : false,
}, () => {
  const schema = uniqueSchema();
  let store: Store;

  before(async () => {
    store = await openStore({
      kind: "postgres",
      connectionString: DATABASE_URL ?? "",
      schema,
      maxConnections: 4,
    });
  });
  after(async () => {
    try {
      await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(store.db);
    } finally {
      await store.close();
    }
  });

  it("keeps every instance with its task, event and audit entry, and vice versa", async (t) => {
    const db = store.db;
    const org = await createOrganization(db, { slug: "fault", display_name: "Fault" });
    const project = await createProject(db, {
      org_id: org.id,
      slug: "burst",
      display_name: "Burst",
    });
    const user = await createUser(db, { email: "burst@fault.test", display_name: "Burst" });
    await createMembership(db, {
      user_id: user.id,
      project_id: project.id,
      role: "project_member",
    });
    const token = (await createToken(db, { owner: { kind: "user", user_id: user.id }, name: "t" }))
      .plaintext;
    const world = await seedLaunchWorld(db, project.id);

    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(new URL("./launch-server.ts", import.meta.url)),
        DATABASE_URL ?? "",
        schema,
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on("exit", (code, signal) => resolve(signal ?? code)),
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        createInterface({ input: child.stdout }).on("line", (line) => {
          resolve((JSON.parse(line) as { port: number }).port);
        });
        void exited.then((code) => reject(new Error(`launch server exited with ${code}`)));
      });
      const url = `http://127.0.0.1:${port}/api/v1/projects/${project.id}/app-instances`;
      const accepted: string[] = [];
      let answered = 0;
      let killed = false;
      const burst = Array.from({ length: BURST }, async (_, index) => {
        try {
          const response = await fetch(url, {
            method: "POST",
            headers: {
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
              "x-correlation-id": `burst-${index}`,
            },
            body: JSON.stringify(launchBody(world.allocation.id)),
          });
          const body = (await response.json()) as { id?: string; code?: string };
          assert.ok(response.status < 500 || killed, `${response.status} ${body.code}`);
          if (response.status === 202 && body.id !== undefined) accepted.push(body.id);
        } catch {
          // The connection died with the server.
        }
        answered += 1;
        if (answered === KILL_AFTER && !killed) {
          killed = true;
          child.kill("SIGKILL");
        }
      });
      await Promise.all(burst);
      assert.equal(await exited, "SIGKILL");
      assert.ok(accepted.length >= 1, "some launches were accepted before the kill");
      assert.ok(accepted.length < BURST, "the kill interrupted the burst");

      const orphans = await sql<{ kind: string; n: string }>`
          SELECT 'instance without launch task' AS kind, count(*) AS n FROM app_instances i
            WHERE NOT EXISTS (SELECT 1 FROM node_tasks t WHERE t.instance_id = i.id
              AND t.kind = 'workload.oci_launch' AND t.correlation_id = i.correlation_id)
          UNION ALL
          SELECT 'instance without launch event', count(*) FROM app_instances i
            WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.instance_id = i.id
              AND e.type = 'instance.launch_requested' AND e.correlation_id = i.correlation_id)
          UNION ALL
          SELECT 'instance without audit entry', count(*) FROM app_instances i
            WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target = 'instance:' || i.id
              AND a.correlation_id = i.correlation_id)
          UNION ALL
          SELECT 'task without instance', count(*) FROM node_tasks t
            WHERE t.instance_id IS NULL
               OR NOT EXISTS (SELECT 1 FROM app_instances i WHERE i.id = t.instance_id)
          UNION ALL
          SELECT 'event without instance', count(*) FROM events e
            WHERE e.instance_id IS NULL
               OR NOT EXISTS (SELECT 1 FROM app_instances i WHERE i.id = e.instance_id)`.execute(
        db,
      );
      for (const row of orphans.rows) assert.equal(Number(row.n), 0, row.kind);
      const counts = await countLaunchRows(db);
      assert.equal(counts.tasks, counts.instances);
      assert.equal(counts.events, counts.instances);
      assert.ok(counts.instances >= accepted.length, "every acknowledged launch is durable");
      const stored = await sql<{ id: string }>`SELECT id FROM app_instances`.execute(db);
      const ids = new Set(stored.rows.map((row) => row.id));
      for (const id of accepted) assert.ok(ids.has(id), `acknowledged launch ${id} was lost`);
      t.diagnostic(`${accepted.length} acknowledged, ${counts.instances} committed of ${BURST}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    }
  });
});

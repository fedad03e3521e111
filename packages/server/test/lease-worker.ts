// A separate control-plane process leasing tasks from a shared PostgreSQL, for the store suite's
// "two leasers never get the same task" test. It opens the store, prints "ready", waits for "go"
// on stdin so both processes start leasing together, leases and completes tasks until the
// queue stays empty, and prints the ids it leased as one JSON line.
import { createInterface } from "node:readline";
import { completeTask, leaseTasks, openStore } from "../src/index.js";

const [connectionString, schema, nodeId, owner] = process.argv.slice(2);
if (
  connectionString === undefined ||
  schema === undefined ||
  nodeId === undefined ||
  owner === undefined
) {
  process.stderr.write("usage: lease-worker <connection-string> <schema> <node-id> <owner>\n");
  process.exit(2);
}

const store = await openStore({ kind: "postgres", connectionString, schema, maxConnections: 2 });
const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\n");
for await (const line of lines) if (line.trim() === "go") break;

const leased: string[] = [];
let emptyRounds = 0;
while (emptyRounds < 3) {
  const tasks = await leaseTasks(store.db, {
    node_id: nodeId,
    owner,
    max: 3,
    lease_ms: 60_000,
  });
  if (tasks.length === 0) {
    emptyRounds += 1;
    continue;
  }
  emptyRounds = 0;
  for (const task of tasks) {
    leased.push(task.id);
    await completeTask(store.db, { id: task.id, owner, outcome: "succeeded", result: { owner } });
  }
}
lines.close();
await store.close();
process.stdout.write(`${JSON.stringify({ owner, leased })}\n`);

// The control plane's HTTP API as a process of its own on a PostgreSQL store, for the fault test
// that SIGKILLs it during a burst of launches. Binds 127.0.0.1 on a free port, enables OCI node
// tasks, and prints `{"port":N}` once it listens.
import { buildApp } from "../src/http/build-app.js";
import { loadServerConfig } from "../src/http/server-config.js";
import { openStore } from "../src/index.js";

const [connectionString, schema] = process.argv.slice(2);
if (connectionString === undefined || schema === undefined) {
  process.stderr.write("usage: launch-server <connection-string> <schema>\n");
  process.exit(2);
}

const loaded = loadServerConfig({
  flags: { host: "127.0.0.1", port: 0, oci_node_tasks_enabled: true, log_level: "silent" },
});
if (!loaded.ok) {
  process.stderr.write(`${JSON.stringify(loaded.problems)}\n`);
  process.exit(2);
}
const store = await openStore({ kind: "postgres", connectionString, schema, maxConnections: 16 });
const app = await buildApp({ store, config: loaded.config });
await app.listen({ host: "127.0.0.1", port: 0 });
const address = app.server.address();
if (address === null || typeof address === "string") throw new Error("no TCP address");
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);

// The registry token service against a real CNCF distribution registry in `auth: token` mode:
// the registry's challenge leads a client to the control plane's token endpoint, the per-task
// pull credential from a lease buys a JWT that pulls the task's own repository and nothing else,
// wrong credentials get 401, the credential dies with its task, and artifact verification works
// against the same registry with a token the control plane mints itself. The last test greps
// every API response, every stored row and every log line of the run for the pull secrets and
// JWTs: only the lease and the token endpoint's own answers may hold them.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { sql } from "kysely";
import { createNode, getInstance, listInstanceMembers, setEntitlement } from "../src/index.js";
import { parseBearerChallenge } from "../src/registry/registry-client.js";
import { loadOrCreateSigningMaterial } from "../src/registry/signing-material.js";
import { callApi, mintBootstrapToken, type RecordedResponse, TestAgent } from "./agent-fixtures.js";
import { type Harness, startHarness } from "./http-harness.js";
import { launchBody, seedAllocation, seedVersion } from "./instance-fixtures.js";
import { findFreePort, type PushedImage, pushImage } from "./registry-fixture.js";
import { BACKENDS } from "./store-backends.js";
import { startTokenRegistry, type TokenRegistry } from "./token-registry-fixture.js";

const SERVICE = "gpuaas-registry";
const ISSUER = "gpuaas-control-plane";
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const HAS_PODMAN = spawnSync("podman", ["--version"], { stdio: "ignore" }).status === 0;
const execFileAsync = promisify(execFile);

/**
 * Runs podman without blocking the event loop (the token endpoint it calls runs in this process),
 * and reports its exit code and output.
 */
async function podman(args: readonly string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync("podman", args, {
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      output: `${failed.stdout ?? ""}${failed.stderr ?? ""}`,
    };
  }
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

for (const backend of BACKENDS) {
  describe(`registry token service with a token-auth registry (${backend.name})`, () => {
    let dir: string;
    let h: Harness;
    let registry: TokenRegistry;
    let realm: string;
    let agent: TestAgent;
    let image: PushedImage;
    let otherImage: PushedImage;
    let allocationId: string;
    /** Every API answer of the run, for the secrets test. */
    const responses: RecordedResponse[] = [];
    const record = (response: RecordedResponse): void => void responses.push(response);
    /** Every pull password a lease handed out and every JWT the token endpoint minted. */
    const secrets = { passwords: new Set<string>(), jwts: new Set<string>() };
    let nodeCredential = "";

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "gpuaas-token-"));
      const keyFile = join(dir, "token", "key.pem");
      const certFile = join(dir, "token", "cert.pem");
      // What `gpuaas up` does at start-up: make the key and certificate the registry trusts.
      const material = await loadOrCreateSigningMaterial({
        keyFile,
        certFile,
        commonName: "test token signer",
        now: new Date(),
      });
      assert.equal(material.created, true);
      const registryPort = await findFreePort();
      h = await startHarness({
        backend,
        config: {
          oci_node_tasks_enabled: true,
          registry_url: `http://127.0.0.1:${registryPort}`,
          registry_token_key_file: keyFile,
          registry_token_cert_file: certFile,
          registry_token_service: SERVICE,
          registry_token_issuer: ISSUER,
          agent_sweep_interval_ms: 0,
        },
      });
      await h.app.listen({ host: "127.0.0.1", port: 0 });
      const address = h.app.server.address();
      if (address === null || typeof address === "string") throw new Error("no TCP address");
      realm = `http://127.0.0.1:${address.port}/api/v1/registry/token`;
      registry = await startTokenRegistry({
        realm,
        service: SERVICE,
        issuer: ISSUER,
        rootCertBundle: certFile,
        port: registryPort,
      });
      image = await pushImage(registry.pushUrl, "gpuaas/busyweb", { seed: backend.name });
      otherImage = await pushImage(registry.pushUrl, "gpuaas/other", { seed: backend.name });

      const version = await seedVersion(h.store.db, "2026.04");
      await setEntitlement(h.store.db, {
        project_id: h.projectId,
        app_slug: "jupyterlab",
        enabled: true,
      });
      const node = await createNode(h.store.db, { name: "token-node" });
      allocationId = (
        await seedAllocation(h.store.db, { project_id: h.projectId, node_id: node.id })
      ).id;
      const token = await mintBootstrapToken(h.app, h.auth("operator"), node.id, record);
      agent = await TestAgent.register(h.app, token, { record });
      nodeCredential = agent.credential;
      assert.equal(version.version, "2026.04");
    });
    after(async () => {
      await h?.close();
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    /** GETs the app's token endpoint over real HTTP, recording the answer. */
    async function getToken(
      url: URL,
      authorization: string | undefined,
    ): Promise<{ status: number; json: Record<string, unknown>; body: string }> {
      const response = await fetch(url, {
        headers: authorization === undefined ? {} : { authorization },
        signal: AbortSignal.timeout(5_000),
      });
      const body = await response.text();
      record({ method: "GET", url: url.pathname, status: response.status, body });
      const json = JSON.parse(body) as Record<string, unknown>;
      if (typeof json.token === "string") secrets.jwts.add(json.token);
      return { status: response.status, json, body };
    }

    /**
     * The distribution client flow: GET the manifest, follow the 401 challenge to the realm
     * with Basic auth, retry with the bearer token. `scope` overrides the challenged scope.
     */
    async function pullManifest(
      name: string,
      digest: string,
      credential: { username: string; password: string },
      scope?: string,
    ): Promise<{ status: number; challenge: string | null; body: Buffer; jwt: string }> {
      const url = `${registry.url}/v2/${name}/manifests/${digest}`;
      const first = await fetch(url, { headers: { accept: ACCEPT } });
      await first.body?.cancel();
      assert.equal(first.status, 401, "the registry asks for a token");
      const challenge = parseBearerChallenge(first.headers.get("www-authenticate"));
      assert.ok(challenge, "a Bearer challenge");
      assert.equal(challenge.realm, realm);
      assert.equal(challenge.service, SERVICE);
      assert.equal(challenge.scope, `repository:${name}:pull`);
      const tokenUrl = new URL(challenge.realm);
      tokenUrl.searchParams.set("service", challenge.service ?? "");
      tokenUrl.searchParams.set("scope", scope ?? challenge.scope ?? "");
      tokenUrl.searchParams.set("account", credential.username);
      const token = await getToken(tokenUrl, basic(credential.username, credential.password));
      assert.equal(token.status, 200, token.body);
      const jwt = String(token.json.token);
      const second = await fetch(url, {
        headers: { accept: ACCEPT, authorization: `Bearer ${jwt}` },
      });
      return {
        status: second.status,
        challenge: second.headers.get("www-authenticate"),
        body: Buffer.from(await second.arrayBuffer()),
        jwt,
      };
    }

    /** Leases the launch of a fresh instance and returns the lease. */
    // biome-ignore lint/suspicious/noExplicitAny: leases are read loosely
    async function launchAndLease(correlationId: string): Promise<any> {
      const launched = await callApi(
        h.app,
        {
          method: "POST",
          url: `/api/v1/projects/${h.projectId}/app-instances`,
          headers: { ...h.auth("project_member"), "x-correlation-id": correlationId },
          body: launchBody(allocationId),
        },
        record,
      );
      assert.equal(launched.status, 202, launched.body);
      const leased = await agent.lease({ max: 1, wait_ms: 1_000 });
      assert.equal(leased.status, 200, leased.body);
      const lease = leased.json.leases[0];
      assert.equal(lease?.instance_id, launched.json.id);
      secrets.passwords.add(lease.pull_credential.password);
      return lease;
    }

    it("verifies and promotes an artifact on the token-auth registry with a self-minted token", async () => {
      const created = await callApi(
        h.app,
        {
          method: "POST",
          url: "/api/v1/apps/catalog/jupyterlab/versions/2026.04/artifacts",
          headers: h.auth("operator"),
          body: {
            artifact_name: "jupyterlab/runtime-cpu",
            repository: `${registry.host}/gpuaas/busyweb`,
            digest: image.digest,
            media_type: image.media_type,
            platform: { os: "linux", architecture: "amd64" },
            accelerator: { vendor: "none" },
          },
        },
        record,
      );
      assert.equal(created.status, 201, created.body);
      // Without a token the registry refuses: the verify succeeds only through the token hook.
      const anonymous = await fetch(`${registry.url}/v2/gpuaas/busyweb/manifests/${image.digest}`);
      await anonymous.body?.cancel();
      assert.equal(anonymous.status, 401);
      const verified = await callApi(
        h.app,
        {
          method: "POST",
          url: `/api/v1/artifacts/${created.json.id}/verify`,
          headers: h.auth("operator"),
        },
        record,
      );
      assert.equal(verified.status, 200, verified.body);
      assert.equal(verified.json.state, "verified");
      for (const to of ["published", "promoted"]) {
        const moved = await callApi(
          h.app,
          {
            method: "POST",
            url: `/api/v1/artifacts/${created.json.id}/transitions`,
            headers: h.auth("operator"),
            body: { to },
          },
          record,
        );
        assert.equal(moved.status, 200, moved.body);
      }
      // A digest the registry lacks is still refused (the token works; the manifest is unknown).
      const missing = await callApi(
        h.app,
        {
          method: "POST",
          url: "/api/v1/apps/catalog/jupyterlab/versions/2026.04/artifacts",
          headers: h.auth("operator"),
          body: {
            artifact_name: "jupyterlab/runtime-cpu",
            repository: `${registry.host}/gpuaas/busyweb`,
            digest: `sha256:${"1".repeat(64)}`,
            media_type: image.media_type,
            platform: { os: "linux", architecture: "amd64" },
            accelerator: { vendor: "none" },
          },
        },
        record,
      );
      const refused = await callApi(
        h.app,
        {
          method: "POST",
          url: `/api/v1/artifacts/${missing.json.id}/verify`,
          headers: h.auth("operator"),
        },
        record,
      );
      assert.equal(refused.status, 422);
      assert.equal(refused.json.details.reason, "manifest_unknown");
    });

    it("a lease's pull credential buys a JWT that pulls the task's repository by digest", async () => {
      const lease = await launchAndLease("corr-token-pull");
      assert.equal(lease.pull_credential.registry, registry.host);
      assert.equal(lease.spec.container.repository, "gpuaas/busyweb");
      const pulled = await pullManifest("gpuaas/busyweb", image.digest, lease.pull_credential);
      assert.equal(pulled.status, 200, pulled.body.toString());
      assert.equal(
        `sha256:${createHash("sha256").update(pulled.body).digest("hex")}`,
        image.digest,
      );

      const header = decodeProtectedHeader(pulled.jwt);
      assert.equal(header.alg, "RS256");
      assert.equal(header.x5c?.length, 1);
      const claims = decodeJwt(pulled.jwt);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, SERVICE, "aud is one string, as distribution 2.8 reads it");
      assert.equal(claims.sub, lease.pull_credential.username);
      assert.ok(typeof claims.exp === "number" && typeof claims.iat === "number");
      assert.ok(claims.exp - claims.iat <= 300, "at most five minutes");
      assert.ok(typeof claims.jti === "string");
      assert.deepEqual(claims.access, [
        { type: "repository", name: "gpuaas/busyweb", actions: ["pull"] },
      ]);
      // Blobs of the same repository are covered by the same token.
      const manifest = JSON.parse(pulled.body.toString()) as { config: { digest: string } };
      const blob = await fetch(
        `${registry.url}/v2/gpuaas/busyweb/blobs/${manifest.config.digest}`,
        {
          headers: { authorization: `Bearer ${pulled.jwt}` },
        },
      );
      await blob.body?.cancel();
      assert.equal(blob.status, 200);
      // Push is never granted, even when asked for.
      const asked = new URL(realm);
      asked.searchParams.set("service", SERVICE);
      asked.searchParams.set("scope", "repository:gpuaas/busyweb:pull,push");
      const pushToken = await getToken(
        asked,
        basic(lease.pull_credential.username, lease.pull_credential.password),
      );
      assert.deepEqual(decodeJwt(String(pushToken.json.token)).access, [
        { type: "repository", name: "gpuaas/busyweb", actions: ["pull"] },
      ]);
      await agent.result(lease.task_id, "succeeded", { container_id: "pulled" });
    });

    it("another repository gets a token without access, and the registry answers insufficient_scope", async () => {
      const lease = await launchAndLease("corr-token-scope");
      const denied = await pullManifest("gpuaas/other", otherImage.digest, lease.pull_credential);
      assert.ok(denied.status === 401 || denied.status === 403, `got ${denied.status}`);
      assert.match(String(denied.challenge), /error="insufficient_scope"/);
      assert.deepEqual(decodeJwt(denied.jwt).access, []);
      // The task's own token used on another repository is refused the same way.
      const own = await pullManifest("gpuaas/busyweb", image.digest, lease.pull_credential);
      assert.equal(own.status, 200);
      const crossed = await fetch(
        `${registry.url}/v2/gpuaas/other/manifests/${otherImage.digest}`,
        {
          headers: { accept: ACCEPT, authorization: `Bearer ${own.jwt}` },
        },
      );
      await crossed.body?.cancel();
      assert.equal(crossed.status, 401);
      assert.match(String(crossed.headers.get("www-authenticate")), /insufficient_scope/);
      await agent.result(lease.task_id, "succeeded", { container_id: "scoped" });
    });

    it("wrong, missing or stale credentials get 401 from the token endpoint", async () => {
      const url = new URL(realm);
      url.searchParams.set("service", SERVICE);
      url.searchParams.set("scope", "repository:gpuaas/busyweb:pull");
      const lease = await launchAndLease("corr-token-wrong");
      const { username, password } = lease.pull_credential;
      const wrong = await getToken(
        url,
        basic(username, `${password.slice(0, -1)}${password.endsWith("A") ? "B" : "A"}`),
      );
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.code, "auth.invalid_token");
      const stranger = await getToken(url, basic("task-nobody", password));
      assert.equal(stranger.status, 401);
      const missing = await getToken(url, undefined);
      assert.equal(missing.status, 401);
      assert.equal(missing.json.code, "auth.missing_token");
      const bearer = await getToken(url, `Bearer ${nodeCredential}`);
      assert.equal(bearer.status, 401);
      const otherService = new URL(url);
      otherService.searchParams.set("service", "someone-else");
      const foreign = await getToken(otherService, basic(username, password));
      assert.equal(foreign.status, 400);
      // Good while the task is leased; dead once its result is in.
      assert.equal((await getToken(url, basic(username, password))).status, 200);
      await agent.result(lease.task_id, "failed", {
        error: { code: "pull.unauthorized", message: "stopping here" },
      });
      const after = await getToken(url, basic(username, password));
      assert.equal(after.status, 401, "the credential expires with its task");
    });

    it("podman pulls the task's image by digest through the token flow", {
      skip: HAS_PODMAN ? false : "podman is not installed",
    }, async () => {
      const lease = await launchAndLease("corr-token-podman");
      const { username, password, registry: host } = lease.pull_credential;
      const storage = join(dir, "podman");
      const authFile = join(dir, "auth.json");
      await writeFile(
        authFile,
        JSON.stringify({
          auths: { [host]: { auth: Buffer.from(`${username}:${password}`).toString("base64") } },
        }),
        { mode: 0o600 },
      );
      const reference = `${host}/gpuaas/busyweb@${image.digest}`;
      const common = ["--root", join(storage, "root"), "--runroot", join(storage, "run")];
      try {
        const pull = await podman([
          ...common,
          "pull",
          "--quiet",
          "--tls-verify=false",
          "--authfile",
          authFile,
          reference,
        ]);
        assert.equal(pull.code, 0, pull.output);
        const other = await podman([
          ...common,
          "pull",
          "--quiet",
          "--tls-verify=false",
          "--authfile",
          authFile,
          `${host}/gpuaas/other@${otherImage.digest}`,
        ]);
        assert.notEqual(other.code, 0, "another repository cannot be pulled");
        assert.match(other.output, /denied|unauthorized/);
        assert.ok(!`${pull.output}${other.output}`.includes(password));
      } finally {
        await podman([...common, "system", "reset", "--force"]);
        await rm(authFile, { force: true });
        await rm(storage, { recursive: true, force: true });
      }
      await agent.result(lease.task_id, "succeeded", { container_id: "podman" });
    });

    it("never lets a pull secret or a registry JWT out, even from a careless agent", async () => {
      const lease = await launchAndLease("corr-token-careless");
      const { username, password } = lease.pull_credential;
      const url = new URL(realm);
      url.searchParams.set("service", SERVICE);
      url.searchParams.set("scope", "repository:gpuaas/busyweb:pull");
      const token = await getToken(url, basic(username, password));
      const jwt = String(token.json.token);
      // An agent that forgot to redact: the secret and the JWT in every part of its result.
      const result = await agent.result(lease.task_id, "succeeded", {
        container_id: "careless",
        container_name: `gpuaas-${lease.instance_id}`,
        ports: [{ endpoint: "web", container_port: 8888, host_port: 8888 }],
        package_install: {
          packages: ["numpy==2.4.4"],
          exit_code: 0,
          excerpt: `pip: using index with token ${jwt} and password=${password}`,
        },
        debug: {
          pull_credential: { username, password },
          authorization: `Bearer ${jwt}`,
          note: `podman login -u ${username} -p ${password}`,
          url: `http://${username}:${password}@${registry.host}/v2/`,
        },
        log_excerpt: [`Authorization: Bearer ${jwt}`, password],
      });
      assert.equal(result.status, 200, result.body);
      await agent.heartbeat({ runtime: { name: "podman" }, note: `leaked ${password}` });
      // A failure whose message and logs quote the secrets.
      const failing = await launchAndLease("corr-token-careless-fail");
      const failingToken = await getToken(
        url,
        basic(failing.pull_credential.username, failing.pull_credential.password),
      );
      await agent.result(failing.task_id, "failed", {
        error: {
          code: "pull.unauthorized",
          message: `login with ${failing.pull_credential.password} failed; token ${String(failingToken.json.token)}`,
        },
        log_excerpt: `Error: unauthorized: ${failing.pull_credential.password}`,
      });
      // Logs through the agent, with the same carelessness.
      const instanceId = String(lease.instance_id);
      const serve = (async () => {
        for (let round = 0; round < 40; round += 1) {
          const leased = await agent.lease({ max: 4, wait_ms: 250 });
          const logs = leased.json.leases.find(
            (item: { kind: string }) => item.kind === "workload.oci_logs",
          );
          if (logs === undefined) continue;
          await agent.result(logs.task_id, "succeeded", {
            // The agent package's log reader answers with `text`.
            ok: true,
            text: `login ok with ${password}\nGET /v2/ Authorization: Bearer ${jwt}\n`,
            truncated: false,
          });
          return;
        }
        throw new Error("no logs task");
      })();
      const logs = await callApi(
        h.app,
        {
          method: "GET",
          url: `/api/v1/projects/${h.projectId}/app-instances/${instanceId}/logs?tail=10`,
          headers: h.auth("project_member"),
        },
        record,
      );
      await serve;
      assert.equal(logs.status, 200, logs.body);
      assert.equal(logs.json.lines.length, 2);
      // Everything a user can read about the instances.
      for (const id of [instanceId, String(failing.instance_id)]) {
        for (const path of ["", "/events", "/members"]) {
          const read = await callApi(
            h.app,
            {
              method: "GET",
              url: `/api/v1/projects/${h.projectId}/app-instances/${id}${path}`,
              headers: h.auth("project_viewer"),
            },
            record,
          );
          assert.equal(read.status, 200, read.body);
        }
      }
      const instance = await getInstance(h.store.db, instanceId);
      assert.equal(instance?.state, "running");
      assert.equal((await listInstanceMembers(h.store.db, instanceId)).length, 1);

      // The grep.
      const needles = [...secrets.passwords, ...secrets.jwts];
      assert.ok(secrets.passwords.size >= 5 && secrets.jwts.size >= 5, "the run minted secrets");
      const leaks: string[] = [];
      const search = (where: string, text: string, allowed: readonly string[] = []): void => {
        for (const needle of needles) {
          if (!allowed.includes(needle) && text.includes(needle)) {
            leaks.push(`${where}: ${needle.slice(0, 16)}…`);
          }
        }
        // Nothing credential-shaped, not even a prefix of one, survives redaction.
        if (!where.startsWith("lease") && !where.startsWith("token endpoint")) {
          if (/gpuaas_pull_[A-Za-z0-9_-]{10}/.test(text))
            leaks.push(`${where}: a pull secret shape`);
          if (/eyJ[A-Za-z0-9_-]{8,}\.eyJ/.test(text)) leaks.push(`${where}: a JWT shape`);
        }
      };
      for (const response of responses) {
        const where =
          response.url === "/api/v1/agent/leases"
            ? "lease"
            : response.url === "/api/v1/registry/token"
              ? "token endpoint"
              : `${response.method} ${response.url}`;
        if (where === "lease" || where === "token endpoint") continue;
        search(where, response.body);
        if (!response.url.endsWith("/agent/register")) {
          assert.ok(!response.body.includes(nodeCredential), `${where} shows the node credential`);
        }
      }
      const tables = await sql<{ table_name: string }>`
        SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(h.store.db);
      assert.ok(tables.rows.length >= 10);
      for (const { table_name } of tables.rows) {
        const rows = await sql<{ row: string }>`
          SELECT row_to_json(t)::text AS row FROM ${sql.table(table_name)} t`.execute(h.store.db);
        for (const { row } of rows.rows) {
          search(`table ${table_name}`, row);
          assert.ok(!row.includes(nodeCredential), `table ${table_name} holds the node credential`);
        }
      }
      const logText = h.logs.join("\n");
      search("app log", logText);
      assert.ok(!logText.includes(nodeCredential));
      assert.ok(!logText.includes(username) || !logText.includes(password));
      assert.deepEqual(leaks, [], `secrets found:\n  ${leaks.join("\n  ")}`);
    });
  });
}

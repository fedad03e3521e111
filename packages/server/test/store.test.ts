// The store suite: every store function, on every backend (PGlite always, PostgreSQL when
// DATABASE_URL is set). One store is opened per backend and shared by the tests, which isolate
// themselves by creating their own organizations, projects and nodes; tests that need a store of
// their own (reopening, migrations) open one.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkAuthoringGate,
  INSTANCE_STATES,
  selectArtifact,
  validateProfile,
  type WorkloadProfile,
} from "@gpuaas/contract";
import { sql } from "kysely";
import { parse } from "yaml";
import {
  ALLOCATION_TRANSITIONS,
  type Allocation,
  type AppVersion,
  ARTIFACT_TRANSITIONS,
  type Artifact,
  appendAudit,
  appendEvent,
  authenticateNode,
  authenticateToken,
  canTransition,
  completeTask,
  createAllocation,
  createArtifact,
  createBootstrapToken,
  createInstanceWithTask,
  createMembership,
  createNode,
  createOrganization,
  createProject,
  createServiceAccount,
  createToken,
  createUser,
  deleteArtifact,
  deleteMembership,
  enqueueTask,
  extendTaskLease,
  GPU_HOLDING_STATES,
  getAllocation,
  getApp,
  getAppVersion,
  getAppVersionById,
  getArtifact,
  getInstance,
  getInstanceMember,
  getNode,
  getOrganization,
  getProject,
  getServiceAccount,
  getTask,
  getToken,
  getUser,
  getUserByEmail,
  hashRequest,
  INSTANCE_TRANSITIONS,
  type InstanceInput,
  inTransaction,
  isEntitled,
  isStoreError,
  leaseTasks,
  listAllocations,
  listApps,
  listAppVersions,
  listArtifacts,
  listAudit,
  listClaimedGpuIndices,
  listEntitlements,
  listEvents,
  listInstanceMembers,
  listInstances,
  listMemberships,
  listNodes,
  listOrganizations,
  listProjects,
  listServiceAccounts,
  listTasks,
  listTokens,
  MIGRATIONS,
  migrateToLatest,
  NODE_TRANSITIONS,
  type Node,
  newId,
  openStore,
  type Project,
  purgeIdempotencyKeys,
  recordHeartbeat,
  redeemBootstrapToken,
  registerAppVersion,
  reviseInstance,
  revokeToken,
  runIdempotent,
  STORE_ERRORS,
  type StoreDb,
  StoreError,
  type StoreErrorCode,
  setAppVersionPublished,
  setEntitlement,
  setNodeState,
  setPlatformRole,
  toLogIdentity,
  transitionAllocation,
  transitionArtifact,
  transitionInstance,
  upsertInstanceMember,
} from "../src/index.js";
import { BACKENDS, loadPgliteTemplate, type TestStore, uniqueSchema } from "./store-backends.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

function unique(): string {
  return randomBytes(4).toString("hex");
}

function randomDigest(): string {
  return `sha256:${randomBytes(32).toString("hex")}`;
}

async function rejectsWith(promise: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStoreError(error), `expected a StoreError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, STORE_ERRORS[code].status);
    return true;
  });
}

const manifest = parse(await readFile(join(repoRoot, "profiles/jupyterlab.yaml"), "utf8"));
const validation = validateProfile(manifest);
assert.ok(validation.ok && validation.profile !== undefined, "the curated profile validates");
const profile: WorkloadProfile = validation.profile;
const gateReport = checkAuthoringGate(manifest);

/** An organization and a project of its own. */
async function seedProject(db: StoreDb): Promise<Project> {
  const org = await createOrganization(db, { slug: `org-${unique()}`, display_name: "Org" });
  return createProject(db, { org_id: org.id, slug: `proj-${unique()}`, display_name: "Proj" });
}

async function seedAppVersion(db: StoreDb): Promise<AppVersion> {
  return registerAppVersion(db, {
    version: `1.0.0-${unique()}`,
    manifest,
    profile,
    gate_report: gateReport,
    published: true,
  });
}

/** Everything a launch needs: project, node, a 4-GPU NVIDIA allocation, an app version, an artifact. */
interface World {
  readonly project: Project;
  readonly node: Node;
  readonly allocation: Allocation;
  readonly version: AppVersion;
  readonly artifact: Artifact;
}

async function seedWorld(db: StoreDb): Promise<World> {
  const project = await seedProject(db);
  const node = await createNode(db, { name: `node-${unique()}` });
  const allocation = await createAllocation(db, {
    project_id: project.id,
    node_id: node.id,
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
    cpu_architecture: "amd64",
    gpu_indices: [0, 1, 2, 3],
    cpu_cores: 32,
    memory_gib: 256,
    storage_modes: ["scratch", "project_storage"],
  });
  const version = await seedAppVersion(db);
  const artifact = await createArtifact(db, {
    app_version_id: version.id,
    artifact_name: "jupyterlab/runtime-nvidia-h200",
    repository: `127.0.0.1:5055/gpuaas/jupyterlab-${unique()}`,
    digest: randomDigest(),
    media_type: "application/vnd.oci.image.manifest.v1+json",
    platform: { os: "linux", architecture: "amd64" },
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
  });
  return { project, node, allocation, version, artifact };
}

function launchInput(world: World, overrides: Partial<InstanceInput> = {}): InstanceInput {
  return {
    project_id: world.project.id,
    app_version_id: world.version.id,
    target_allocation_id: world.allocation.id,
    display_name: "notebook",
    resolved_values: { workspace_mount: "scratch", gpu_count: 1 },
    artifact_id: world.artifact.id,
    resolved_digest: world.artifact.digest,
    gpu_indices: [0],
    created_by: "user:test",
    correlation_id: `corr-${unique()}`,
    ...overrides,
  };
}

async function launch(db: StoreDb, world: World, overrides: Partial<InstanceInput> = {}) {
  return createInstanceWithTask(db, {
    instance: launchInput(world, overrides),
    task: { kind: "workload.oci_launch", spec: { image: world.artifact.digest } },
    event: { type: "instance.launch_accepted", message: "launch accepted" },
  });
}

/**
 * Starts `lease-worker.ts` in its own Node process. `ready` settles once it has opened the store
 * (or it exited first); `leased()` waits for it to exit and returns the task ids it leased.
 */
function startLeaseWorker(args: readonly string[]) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("./lease-worker.ts", import.meta.url)), ...args],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      if (line === "ready") resolve();
    });
    // Ignored once resolved; reported when the worker dies before opening its store.
    void exited.then((code) => reject(new Error(`lease worker exited with ${code} before ready`)));
  });
  return {
    child,
    ready,
    async leased(): Promise<string[]> {
      const code = await exited;
      assert.equal(code, 0, "lease worker exit code");
      return (JSON.parse(lines.at(-1) ?? "{}") as { leased: string[] }).leased;
    },
  };
}

describe("store lifecycles (pure)", () => {
  it("covers every contract instance state, with decommissioned terminal", () => {
    assert.deepEqual(Object.keys(INSTANCE_TRANSITIONS).sort(), [...INSTANCE_STATES].sort());
    assert.deepEqual(INSTANCE_TRANSITIONS.decommissioned, []);
    for (const targets of Object.values(INSTANCE_TRANSITIONS))
      for (const target of targets) assert.ok(INSTANCE_STATES.includes(target));
    assert.ok(!GPU_HOLDING_STATES.includes("failed"));
    assert.ok(GPU_HOLDING_STATES.includes("stopped"));
  });

  it("keeps the documented main paths legal and shortcuts illegal", () => {
    const path = ["pending", "deploying", "running", "stopping", "stopped", "starting", "running"];
    for (let i = 1; i < path.length; i++)
      assert.ok(canTransition(INSTANCE_TRANSITIONS, path[i - 1] as never, path[i] as never));
    assert.ok(!canTransition(INSTANCE_TRANSITIONS, "pending", "running"));
    assert.ok(!canTransition(ARTIFACT_TRANSITIONS, "pending", "promoted"));
    assert.ok(!canTransition(ALLOCATION_TRANSITIONS, "released", "active"));
    assert.ok(!canTransition(NODE_TRANSITIONS, "retired", "online"));
  });

  it("gives every error code a status and a summary", () => {
    for (const [code, entry] of Object.entries(STORE_ERRORS)) {
      assert.match(code, /^[a-z]+\.[a-z_]+$/);
      assert.ok(entry.status >= 400 && entry.status < 600);
      assert.ok(entry.summary.length > 10);
    }
  });
});

for (const backend of BACKENDS) {
  describe(`store on ${backend.name}`, () => {
    let opened: TestStore;
    let db: StoreDb;

    before(async () => {
      opened = await backend.open();
      db = opened.store.db;
    });
    after(async () => {
      await opened.close();
    });

    it("opens migrated, and reports what opening cost", async (t) => {
      assert.equal(opened.store.kind, backend.name);
      assert.deepEqual(
        opened.store.migrated,
        backend.name === "pglite" ? [] : MIGRATIONS.map((migration) => migration.name),
      );
      assert.deepEqual(
        await migrateToLatest(
          db,
          opened.options.kind === "postgres" && opened.options.schema !== undefined
            ? { schema: opened.options.schema }
            : {},
        ),
        [],
      );
      const tables = await db.introspection.getTables();
      const names = tables.map((table) => table.name);
      for (const name of ["organizations", "node_tasks", "events", "idempotency_keys"])
        assert.ok(names.includes(name), `table ${name}`);
      if (backend.name === "pglite") {
        const template = await loadPgliteTemplate();
        t.diagnostic(
          `pglite template ${template.cached ? "read from cache" : "built (initdb + migrations)"} in ${template.ms.toFixed(0)} ms`,
        );
      }
      t.diagnostic(`${backend.name} store opened in ${opened.openMs.toFixed(0)} ms`);
    });

    describe("identity", () => {
      it("creates and reads organizations, refusing a taken slug", async () => {
        const slug = `acme-${unique()}`;
        const org = await createOrganization(db, { slug, display_name: "Acme" });
        assert.equal(org.slug, slug);
        assert.match(org.created_at, /^\d{4}-\d\d-\d\dT/);
        assert.deepEqual(await getOrganization(db, org.id), org);
        assert.equal(await getOrganization(db, "not-an-id"), undefined);
        assert.ok((await listOrganizations(db)).some((o) => o.id === org.id));
        await rejectsWith(
          createOrganization(db, { slug, display_name: "Again" }),
          "store.conflict",
        );
      });

      it("creates and lists projects per organization", async () => {
        const org = await createOrganization(db, { slug: `o-${unique()}`, display_name: "O" });
        const a = await createProject(db, { org_id: org.id, slug: "a", display_name: "A" });
        const b = await createProject(db, { org_id: org.id, slug: "b", display_name: "B" });
        assert.deepEqual(await getProject(db, a.id), a);
        assert.deepEqual(
          (await listProjects(db, org.id)).map((p) => p.id),
          [a.id, b.id],
        );
        await rejectsWith(
          createProject(db, { org_id: org.id, slug: "a", display_name: "A2" }),
          "store.conflict",
        );
        await rejectsWith(
          createProject(db, { org_id: "missing", slug: "x", display_name: "X" }),
          "store.invalid_reference",
        );
      });

      it("creates users with case-insensitive emails and a platform role", async () => {
        const email = `Ada.${unique()}@Example.org`;
        const user = await createUser(db, { email, display_name: "Ada" });
        assert.equal(user.email, email.toLowerCase());
        assert.equal(user.platform_role, null);
        assert.deepEqual(await getUser(db, user.id), user);
        assert.deepEqual(await getUserByEmail(db, email.toUpperCase()), user);
        await rejectsWith(createUser(db, { email, display_name: "Twin" }), "store.conflict");
        const operator = await setPlatformRole(db, user.id, "platform_operator");
        assert.equal(operator.platform_role, "platform_operator");
        assert.equal((await setPlatformRole(db, user.id, null)).platform_role, null);
        await rejectsWith(setPlatformRole(db, "missing", null), "store.not_found");
      });

      it("grants organization and project roles, one per scope", async () => {
        const project = await seedProject(db);
        const user = await createUser(db, { email: `m-${unique()}@x.org`, display_name: "M" });
        const orgRole = await createMembership(db, {
          user_id: user.id,
          org_id: project.org_id,
          role: "org_admin",
        });
        assert.equal(orgRole.project_id, null);
        const projectRole = await createMembership(db, {
          user_id: user.id,
          project_id: project.id,
          role: "project_viewer",
        });
        assert.equal(projectRole.org_id, project.org_id);
        assert.equal(projectRole.role, "project_viewer");
        await rejectsWith(
          createMembership(db, { user_id: user.id, project_id: project.id, role: "project_admin" }),
          "store.conflict",
        );
        await rejectsWith(
          createMembership(db, { user_id: user.id, project_id: "missing", role: "project_admin" }),
          "store.invalid_reference",
        );
        assert.deepEqual(
          (await listMemberships(db, { user_id: user.id })).map((m) => m.id),
          [orgRole.id, projectRole.id],
        );
        assert.deepEqual(
          (await listMemberships(db, { project_id: project.id })).map((m) => m.id),
          [projectRole.id],
        );
        assert.equal((await listMemberships(db, { org_id: project.org_id })).length, 2);
        await deleteMembership(db, projectRole.id);
        await rejectsWith(deleteMembership(db, projectRole.id), "store.not_found");
        assert.equal((await listMemberships(db, { project_id: project.id })).length, 0);
      });

      it("creates project service accounts", async () => {
        const project = await seedProject(db);
        const account = await createServiceAccount(db, {
          project_id: project.id,
          name: "ci",
          role: "project_member",
        });
        assert.equal(account.description, "");
        assert.deepEqual(await getServiceAccount(db, account.id), account);
        assert.deepEqual(await listServiceAccounts(db, project.id), [account]);
        await rejectsWith(
          createServiceAccount(db, { project_id: project.id, name: "ci", role: "project_viewer" }),
          "store.conflict",
        );
      });

      it("stores only the SHA-256 of a token and authenticates by it", async () => {
        const user = await createUser(db, { email: `t-${unique()}@x.org`, display_name: "T" });
        const created = await createToken(db, {
          owner: { kind: "user", user_id: user.id },
          name: "laptop",
        });
        assert.match(created.plaintext, /^gpuaas_pat_[A-Za-z0-9_-]{43}$/);
        const row = await db
          .selectFrom("api_tokens")
          .selectAll()
          .where("id", "=", created.token.id)
          .executeTakeFirstOrThrow();
        const hash = createHash("sha256").update(created.plaintext).digest("hex");
        assert.equal(row.token_hash, hash);
        assert.equal(row.fingerprint, hash.slice(0, 12));
        const secretPart = created.plaintext.slice("gpuaas_pat_".length);
        assert.ok(!JSON.stringify(row).includes(secretPart), "the plaintext is not stored");
        assert.ok(!JSON.stringify(created.token).includes(hash), "the API record has no hash");
        assert.equal(toLogIdentity(created.token.fingerprint), `token:${hash.slice(0, 6)}`);

        const now = new Date();
        const principal = await authenticateToken(db, created.plaintext, now);
        assert.equal(principal?.kind, "user");
        assert.equal(principal?.kind === "user" ? principal.user.id : undefined, user.id);
        assert.equal(principal?.fingerprint, created.token.fingerprint);
        assert.equal((await getToken(db, created.token.id))?.last_used_at, now.toISOString());
        assert.deepEqual(
          (await listTokens(db, { kind: "user", user_id: user.id })).map((t) => t.id),
          [created.token.id],
        );

        assert.equal(await authenticateToken(db, `${created.plaintext}x`), undefined);
        assert.equal(await authenticateToken(db, "gpuaas_pat_short"), undefined);
        assert.equal(await authenticateToken(db, ""), undefined);
        const revoked = await revokeToken(db, created.token.id, now);
        assert.equal(revoked.revoked_at, now.toISOString());
        assert.equal(await authenticateToken(db, created.plaintext), undefined);
        const later = new Date(now.getTime() + 5_000);
        assert.equal(
          (await revokeToken(db, created.token.id, later)).revoked_at,
          now.toISOString(),
        );
        await rejectsWith(revokeToken(db, "missing"), "store.not_found");
      });

      it("refuses expired tokens and resolves service-account tokens", async () => {
        const project = await seedProject(db);
        const account = await createServiceAccount(db, {
          project_id: project.id,
          name: "bot",
          role: "project_admin",
        });
        const now = new Date();
        const created = await createToken(db, {
          owner: { kind: "service_account", service_account_id: account.id },
          name: "deploy",
          expires_at: new Date(now.getTime() + 60_000),
        });
        assert.match(created.plaintext, /^gpuaas_sat_/);
        const principal = await authenticateToken(db, created.plaintext, now);
        assert.equal(principal?.kind, "service_account");
        assert.equal(
          principal?.kind === "service_account" ? principal.service_account.role : undefined,
          "project_admin",
        );
        assert.equal(
          await authenticateToken(db, created.plaintext, new Date(now.getTime() + 60_000)),
          undefined,
        );
        assert.deepEqual(
          (await listTokens(db, { kind: "service_account", service_account_id: account.id })).map(
            (t) => t.owner,
          ),
          [{ kind: "service_account", service_account_id: account.id }],
        );
      });
    });

    describe("catalog", () => {
      it("registers app versions with manifest, profile and gate report", async () => {
        const version = await seedAppVersion(db);
        assert.equal(version.app_slug, "jupyterlab");
        assert.deepEqual(version.profile, profile);
        assert.deepEqual(version.manifest, manifest);
        assert.deepEqual(version.gate_report, gateReport);
        const app = await getApp(db, "jupyterlab");
        assert.equal(app?.display_name, profile.profile.display_name);
        assert.equal(app?.support_level, "platform_curated");
        assert.ok((await listApps(db)).some((a) => a.slug === "jupyterlab"));
        assert.deepEqual(await getAppVersion(db, "jupyterlab", version.version), version);
        assert.deepEqual(await getAppVersionById(db, version.id), version);
        assert.equal(await getAppVersion(db, "jupyterlab", "0.0.0-none"), undefined);
        await rejectsWith(
          registerAppVersion(db, {
            version: version.version,
            manifest,
            profile,
            gate_report: gateReport,
          }),
          "store.conflict",
        );
      });

      it("publishes and unpublishes versions", async () => {
        const version = await seedAppVersion(db);
        const hidden = await setAppVersionPublished(db, version.id, false);
        assert.equal(hidden.published, false);
        const published = await listAppVersions(db, "jupyterlab", { published_only: true });
        assert.ok(!published.some((v) => v.id === version.id));
        assert.ok((await listAppVersions(db, "jupyterlab")).some((v) => v.id === version.id));
        assert.equal((await setAppVersionPublished(db, version.id, true)).published, true);
        await rejectsWith(setAppVersionPublished(db, "missing", true), "store.not_found");
      });

      it("sets project entitlements", async () => {
        await seedAppVersion(db);
        const project = await seedProject(db);
        assert.equal(await isEntitled(db, project.id, "jupyterlab"), false);
        const enabled = await setEntitlement(db, {
          project_id: project.id,
          app_slug: "jupyterlab",
          enabled: true,
        });
        assert.equal(enabled.enabled, true);
        assert.equal(await isEntitled(db, project.id, "jupyterlab"), true);
        await setEntitlement(db, {
          project_id: project.id,
          app_slug: "jupyterlab",
          enabled: false,
        });
        assert.equal(await isEntitled(db, project.id, "jupyterlab"), false);
        assert.deepEqual(
          (await listEntitlements(db, project.id)).map((e) => [e.app_slug, e.enabled]),
          [["jupyterlab", false]],
        );
        await rejectsWith(
          setEntitlement(db, { project_id: project.id, app_slug: "no-such-app", enabled: true }),
          "store.invalid_reference",
        );
      });
    });

    describe("artifacts", () => {
      it("records artifacts by digest, refusing tags, bad digests and duplicates", async () => {
        const version = await seedAppVersion(db);
        const repository = `127.0.0.1:5055/gpuaas/lab-${unique()}`;
        const digest = randomDigest();
        const base = {
          app_version_id: version.id,
          artifact_name: "jupyterlab/runtime-cpu",
          media_type: "application/vnd.oci.image.manifest.v1+json",
        } as const;
        const artifact = await createArtifact(db, { ...base, repository, digest });
        assert.equal(artifact.state, "pending");
        assert.equal(artifact.verified_at, null);
        assert.equal(artifact.platform, undefined);
        assert.deepEqual(await getArtifact(db, artifact.id), artifact);
        await rejectsWith(createArtifact(db, { ...base, repository, digest }), "store.conflict");
        await rejectsWith(
          createArtifact(db, {
            ...base,
            repository: `${repository}:latest`,
            digest: randomDigest(),
          }),
          "store.invalid_value",
        );
        await rejectsWith(
          createArtifact(db, { ...base, repository, digest: "sha256:abc" }),
          "store.invalid_value",
        );
        await rejectsWith(
          createArtifact(db, {
            ...base,
            app_version_id: "missing",
            repository,
            digest: randomDigest(),
          }),
          "store.invalid_reference",
        );
        assert.deepEqual(
          (await listArtifacts(db, { app_version_id: version.id })).map((a) => a.id),
          [artifact.id],
        );
        assert.deepEqual(await listArtifacts(db, { app_version_id: version.id, states: [] }), []);
      });

      it("walks the artifact lifecycle and refuses illegal moves", async () => {
        const world = await seedWorld(db);
        const id = world.artifact.id;
        await rejectsWith(
          transitionArtifact(db, { id, to: "published" }),
          "artifact.illegal_transition",
        );
        const now = new Date();
        const verified = await transitionArtifact(db, { id, to: "verified", now });
        assert.equal(verified.verified_at, now.toISOString());
        assert.equal((await transitionArtifact(db, { id, to: "published" })).state, "published");
        const promoted = await transitionArtifact(db, { id, to: "promoted" });
        assert.equal(promoted.state, "promoted");
        assert.deepEqual(
          (await listArtifacts(db, { app_version_id: world.version.id, states: ["promoted"] })).map(
            (a) => a.id,
          ),
          [id],
        );
        // The record is what the contract's artifact selection consumes.
        const selection = selectArtifact(profile, world.allocation, [promoted], { gpu_count: 1 });
        assert.equal(selection.artifact?.id, id, JSON.stringify(selection.candidates));
        await rejectsWith(
          transitionArtifact(db, { id, to: "verified" }),
          "artifact.illegal_transition",
        );
        assert.equal((await transitionArtifact(db, { id, to: "retired" })).state, "retired");
        await rejectsWith(
          transitionArtifact(db, { id, to: "promoted" }),
          "artifact.illegal_transition",
        );
        await rejectsWith(
          transitionArtifact(db, { id: "missing", to: "verified" }),
          "store.not_found",
        );
      });

      it("deletes unused artifacts only", async () => {
        const world = await seedWorld(db);
        await launch(db, world);
        await rejectsWith(deleteArtifact(db, world.artifact.id), "store.in_use");
        const spare = await createArtifact(db, {
          app_version_id: world.version.id,
          artifact_name: "jupyterlab/runtime-cpu",
          repository: `registry.local/lab-${unique()}`,
          digest: randomDigest(),
          media_type: "application/vnd.oci.image.index.v1+json",
        });
        await deleteArtifact(db, spare.id);
        assert.equal(await getArtifact(db, spare.id), undefined);
        await rejectsWith(deleteArtifact(db, spare.id), "store.not_found");
      });
    });

    describe("nodes", () => {
      it("creates nodes, records heartbeats and moves states", async () => {
        const node = await createNode(db, { name: `gpu-${unique()}` });
        assert.equal(node.state, "pending");
        assert.equal(node.enrolled, false);
        assert.deepEqual(await getNode(db, node.id), node);
        assert.ok((await listNodes(db)).some((n) => n.id === node.id));
        await rejectsWith(createNode(db, { name: node.name }), "store.conflict");
        const now = new Date();
        const beat = await recordHeartbeat(db, {
          node_id: node.id,
          inventory: { runtime: "podman", gpus: [{ index: 0, name: "H200" }] },
          now,
        });
        assert.equal(beat.state, "online");
        assert.equal(beat.last_heartbeat_at, now.toISOString());
        assert.deepEqual(beat.inventory, { runtime: "podman", gpus: [{ index: 0, name: "H200" }] });
        assert.equal((await setNodeState(db, { id: node.id, to: "draining" })).state, "draining");
        assert.equal(
          (await recordHeartbeat(db, { node_id: node.id, inventory: {} })).state,
          "draining",
        );
        assert.equal((await setNodeState(db, { id: node.id, to: "retired" })).state, "retired");
        await rejectsWith(
          setNodeState(db, { id: node.id, to: "online" }),
          "node.illegal_transition",
        );
        await rejectsWith(
          recordHeartbeat(db, { node_id: "missing", inventory: {} }),
          "store.not_found",
        );
      });

      it("enrolls an agent with a one-time bootstrap token", async () => {
        const node = await createNode(db, { name: `gpu-${unique()}` });
        const now = new Date();
        const bootstrap = await createBootstrapToken(db, { node_id: node.id, ttl_ms: 60_000, now });
        assert.match(bootstrap.plaintext, /^gpuaas_nbt_/);
        const row = await db
          .selectFrom("node_bootstrap_tokens")
          .selectAll()
          .where("id", "=", bootstrap.id)
          .executeTakeFirstOrThrow();
        assert.notEqual(row.token_hash, bootstrap.plaintext);
        assert.equal(
          await redeemBootstrapToken(db, bootstrap.plaintext, new Date(now.getTime() + 60_000)),
          undefined,
          "expired",
        );
        const enrollment = await redeemBootstrapToken(db, bootstrap.plaintext, now);
        assert.ok(enrollment !== undefined);
        assert.equal(enrollment.node.id, node.id);
        assert.equal(enrollment.node.enrolled, true);
        assert.match(enrollment.credential, /^gpuaas_node_/);
        assert.equal(await redeemBootstrapToken(db, bootstrap.plaintext, now), undefined, "used");
        assert.equal((await authenticateNode(db, enrollment.credential))?.id, node.id);
        assert.equal(await authenticateNode(db, bootstrap.plaintext), undefined);
        assert.equal(await authenticateNode(db, "gpuaas_node_nope"), undefined);
        const nodeRow = await db
          .selectFrom("nodes")
          .select("credential_hash")
          .where("id", "=", node.id)
          .executeTakeFirstOrThrow();
        assert.equal(
          nodeRow.credential_hash,
          createHash("sha256").update(enrollment.credential).digest("hex"),
        );
      });
    });

    describe("allocations", () => {
      it("creates, reads and lists allocations per project and node", async () => {
        const world = await seedWorld(db);
        const other = await seedProject(db);
        const cpu = await createAllocation(db, {
          project_id: other.id,
          node_id: world.node.id,
          accelerator: { vendor: "none" },
          cpu_architecture: "arm64",
          gpu_indices: [],
          cpu_cores: 4,
          memory_gib: 8,
          storage_modes: ["scratch", "scratch"],
        });
        assert.deepEqual(cpu.accelerator, { vendor: "none" });
        assert.deepEqual(cpu.storage_modes, ["scratch"]);
        assert.deepEqual(world.allocation.gpu_indices, [0, 1, 2, 3]);
        assert.deepEqual(world.allocation.accelerator, {
          vendor: "nvidia",
          family: "hopper",
          sku: "h200",
        });
        assert.deepEqual(await getAllocation(db, world.allocation.id), world.allocation);
        assert.deepEqual(
          (await listAllocations(db, { project_id: world.project.id })).map((a) => a.id),
          [world.allocation.id],
        );
        assert.deepEqual(
          (await listAllocations(db, { node_id: world.node.id })).map((a) => a.id),
          [world.allocation.id, cpu.id],
        );
        await rejectsWith(
          createAllocation(db, {
            project_id: other.id,
            node_id: world.node.id,
            accelerator: { vendor: "none" },
            cpu_architecture: "amd64",
            gpu_indices: [0],
            cpu_cores: 1,
            memory_gib: 1,
            storage_modes: [],
          }),
          "store.invalid_value",
        );
        await rejectsWith(
          createAllocation(db, { ...cpu, node_id: "missing", accelerator: { vendor: "none" } }),
          "store.invalid_reference",
        );
      });

      it("releases allocations and refuses illegal moves", async () => {
        const world = await seedWorld(db);
        const id = world.allocation.id;
        assert.equal((await transitionAllocation(db, { id, to: "releasing" })).state, "releasing");
        await rejectsWith(
          transitionAllocation(db, { id, to: "active" }),
          "allocation.illegal_transition",
        );
        const released = await transitionAllocation(db, { id, to: "released" });
        assert.notEqual(released.released_at, null);
        await rejectsWith(
          transitionAllocation(db, { id, to: "released" }),
          "allocation.illegal_transition",
        );
        await rejectsWith(
          transitionAllocation(db, { id: "missing", to: "released" }),
          "store.not_found",
        );
      });
    });

    describe("instances", () => {
      it("writes instance, task and event in one launch", async () => {
        const world = await seedWorld(db);
        const id = newId();
        const { instance, task, event } = await launch(db, world, { id, gpu_indices: [1, 0, 1] });
        assert.equal(instance.id, id);
        assert.equal(instance.state, "pending");
        assert.equal(instance.desired_state, "running");
        assert.equal(instance.generation, 1);
        assert.equal(instance.engine, "node_agent");
        assert.equal(instance.app_slug, "jupyterlab");
        assert.equal(instance.app_version, world.version.version);
        assert.deepEqual(instance.gpu_indices, [0, 1]);
        assert.deepEqual(instance.resolved_values, { workspace_mount: "scratch", gpu_count: 1 });
        assert.equal(task.node_id, world.node.id);
        assert.equal(task.instance_id, id);
        assert.equal(task.state, "queued");
        assert.equal(task.correlation_id, instance.correlation_id);
        assert.deepEqual(task.spec, { image: world.artifact.digest });
        assert.equal(event.instance_id, id);
        assert.equal(event.correlation_id, instance.correlation_id);
        assert.deepEqual(await getInstance(db, id), instance);
        assert.deepEqual(await getInstance(db, id, { project_id: world.project.id }), instance);
        assert.equal(await getInstance(db, id, { project_id: "another-project" }), undefined);
        assert.deepEqual(await listTasks(db, { instance_id: id }), [task]);
      });

      it("rolls the whole launch back when the event insert fails", async () => {
        const world = await seedWorld(db);
        const correlation = `inject-event-failure-${unique()}`;
        await sql
          .raw(
            `CREATE OR REPLACE FUNCTION fail_injected_event() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'injected event failure'; END $$`,
          )
          .execute(db);
        await sql
          .raw(
            `CREATE TRIGGER fail_injected_event BEFORE INSERT ON events FOR EACH ROW
             WHEN (NEW.correlation_id LIKE 'inject-event-failure-%')
             EXECUTE FUNCTION fail_injected_event()`,
          )
          .execute(db);
        try {
          await assert.rejects(
            launch(db, world, { correlation_id: correlation }),
            /injected event failure/,
          );
        } finally {
          await sql.raw("DROP TRIGGER fail_injected_event ON events").execute(db);
        }
        const instances = await db
          .selectFrom("app_instances")
          .select("id")
          .where("correlation_id", "=", correlation)
          .execute();
        const tasks = await db
          .selectFrom("node_tasks")
          .select("id")
          .where("correlation_id", "=", correlation)
          .execute();
        assert.deepEqual(instances, [], "no instance without its event");
        assert.deepEqual(tasks, [], "no task without its instance");
        assert.deepEqual(await listClaimedGpuIndices(db, world.allocation.id), []);
        // The allocation is usable again: nothing was left locked or claimed.
        assert.equal((await launch(db, world)).instance.state, "pending");
      });

      it("refuses GPUs outside the allocation, claimed GPUs and other projects' allocations", async () => {
        const world = await seedWorld(db);
        const first = await launch(db, world, { gpu_indices: [0, 1] });
        assert.deepEqual(await listClaimedGpuIndices(db, world.allocation.id), [0, 1]);
        await rejectsWith(launch(db, world, { gpu_indices: [1, 2] }), "instance.gpu_claimed");
        await rejectsWith(
          launch(db, world, { gpu_indices: [7] }),
          "instance.gpu_outside_allocation",
        );
        const other = await seedProject(db);
        await rejectsWith(launch(db, world, { project_id: other.id }), "store.invalid_reference");
        assert.equal((await launch(db, world, { gpu_indices: [2, 3] })).instance.state, "pending");
        assert.deepEqual(
          await listClaimedGpuIndices(db, world.allocation.id, {
            excluding_instance_id: first.instance.id,
          }),
          [2, 3],
        );
        // A failed instance frees its GPUs.
        await transitionInstance(db, {
          id: first.instance.id,
          to: "failed",
          correlation_id: "c",
        });
        assert.equal((await launch(db, world, { gpu_indices: [0, 1] })).instance.state, "pending");
      });

      it("never lets two concurrent launches claim the same GPU", async () => {
        const world = await seedWorld(db);
        const results = await Promise.allSettled(
          [0, 1, 2, 3].map(() => launch(db, world, { gpu_indices: [3] })),
        );
        const accepted = results.filter((r) => r.status === "fulfilled");
        const refused = results.filter(
          (r) => r.status === "rejected" && isStoreError(r.reason, "instance.gpu_claimed"),
        );
        assert.equal(accepted.length, 1);
        assert.equal(refused.length, 3);
      });

      it("walks the instance lifecycle, recording an event per move", async () => {
        const world = await seedWorld(db);
        const { instance } = await launch(db, world);
        const path = [
          "deploying",
          "running",
          "restarting",
          "running",
          "stopping",
          "stopped",
          "starting",
          "running",
          "unknown",
          "running",
          "decommissioning",
          "decommissioned",
        ] as const;
        let from: (typeof INSTANCE_STATES)[number] = "pending";
        for (const to of path) {
          const moved = await transitionInstance(db, {
            id: instance.id,
            from,
            to,
            correlation_id: instance.correlation_id,
          });
          assert.equal(moved.state, to);
          from = to;
        }
        const events = await listEvents(db, { instance_id: instance.id });
        assert.deepEqual(
          events.items.map((e) => [e.type, e.data.to ?? null]),
          [["instance.launch_accepted", null], ...path.map((to) => ["instance.state_changed", to])],
        );
        await rejectsWith(
          transitionInstance(db, { id: instance.id, to: "running", correlation_id: "c" }),
          "instance.illegal_transition",
        );
      });

      it("refuses illegal transitions and stale expectations with stable codes", async () => {
        const world = await seedWorld(db);
        const { instance } = await launch(db, world);
        const id = instance.id;
        await rejectsWith(
          transitionInstance(db, { id, from: "pending", to: "running", correlation_id: "c" }),
          "instance.illegal_transition",
        );
        await rejectsWith(
          transitionInstance(db, { id, from: "deploying", to: "running", correlation_id: "c" }),
          "instance.state_conflict",
        );
        await rejectsWith(
          transitionInstance(db, { id, to: "stopped", correlation_id: "c" }),
          "instance.illegal_transition",
        );
        await rejectsWith(
          transitionInstance(db, { id: "missing", to: "deploying", correlation_id: "c" }),
          "store.not_found",
        );
        assert.equal((await getInstance(db, id))?.state, "pending");
        const error = await transitionInstance(db, {
          id,
          from: "pending",
          to: "stopped",
          correlation_id: "c",
        }).catch((e: unknown) => e);
        assert.ok(isStoreError(error, "instance.illegal_transition"));
        assert.deepEqual(error.details, {
          from: "pending",
          to: "stopped",
          allowed: INSTANCE_TRANSITIONS.pending,
        });
      });

      it("lists a project's instances in pages", async () => {
        const world = await seedWorld(db);
        const launched = [];
        for (const gpu of [0, 1, 2])
          launched.push((await launch(db, world, { gpu_indices: [gpu] })).instance.id);
        const first = await listInstances(db, { project_id: world.project.id, limit: 2 });
        assert.deepEqual(
          first.items.map((i) => i.id),
          launched.slice(0, 2),
        );
        assert.equal(first.next_cursor, launched[1]);
        const second = await listInstances(db, {
          project_id: world.project.id,
          limit: 2,
          after: first.next_cursor ?? "",
        });
        assert.deepEqual(
          second.items.map((i) => i.id),
          launched.slice(2),
        );
        assert.equal(second.next_cursor, null);
        assert.equal(
          (await listInstances(db, { project_id: world.project.id, states: ["running"] })).items
            .length,
          0,
        );
        await rejectsWith(
          listInstances(db, { project_id: world.project.id, after: "someone-elses" }),
          "store.invalid_cursor",
        );
        const other = await seedProject(db);
        assert.deepEqual((await listInstances(db, { project_id: other.id })).items, []);
      });

      it("bumps the generation when what the instance runs changes", async () => {
        const world = await seedWorld(db);
        const { instance } = await launch(db, world);
        const same = await reviseInstance(db, { id: instance.id, desired_state: "running" });
        assert.equal(same.generation, 1);
        const stopped = await reviseInstance(db, { id: instance.id, desired_state: "stopped" });
        assert.equal(stopped.desired_state, "stopped");
        assert.equal(stopped.generation, 2);
        const upgraded = await reviseInstance(db, {
          id: instance.id,
          resolved_values: { workspace_mount: "project_storage" },
        });
        assert.equal(upgraded.generation, 3);
        assert.deepEqual(upgraded.resolved_values, { workspace_mount: "project_storage" });
        await rejectsWith(
          reviseInstance(db, { id: instance.id, artifact_id: "missing" }),
          "store.invalid_reference",
        );
        await rejectsWith(reviseInstance(db, { id: "missing" }), "store.not_found");
      });

      it("records instance members", async () => {
        const world = await seedWorld(db);
        const { instance } = await launch(db, world);
        const member = await upsertInstanceMember(db, {
          instance_id: instance.id,
          name: "main",
          node_id: world.node.id,
          container_id: "abc123",
          host_port: 8888,
        });
        assert.equal(member.endpoint_url, null);
        const updated = await upsertInstanceMember(db, {
          instance_id: instance.id,
          name: "main",
          node_id: world.node.id,
          container_id: "abc123",
          host_port: 8888,
          endpoint_url: "http://127.0.0.1:8888/lab",
        });
        assert.equal(updated.id, member.id);
        assert.equal(updated.endpoint_url, "http://127.0.0.1:8888/lab");
        assert.deepEqual(await listInstanceMembers(db, instance.id), [updated]);
        assert.deepEqual(await getInstanceMember(db, instance.id, member.id), updated);
        assert.equal(await getInstanceMember(db, "other", member.id), undefined);
        await rejectsWith(
          upsertInstanceMember(db, {
            instance_id: instance.id,
            name: "bad",
            node_id: world.node.id,
            host_port: 70_000,
          }),
          "store.invalid_value",
        );
      });
    });

    describe("node tasks", () => {
      async function queue(nodeId: string, count: number) {
        const ids: string[] = [];
        for (let i = 0; i < count; i++) {
          const task = await enqueueTask(db, {
            node_id: nodeId,
            kind: "workload.oci_runtime_status",
            spec: { n: i },
            correlation_id: `c-${i}`,
          });
          ids.push(task.id);
        }
        return ids;
      }

      it("queues, reads and lists tasks", async () => {
        const node = await createNode(db, { name: `n-${unique()}` });
        const [id] = await queue(node.id, 1);
        const task = await getTask(db, id ?? "");
        assert.equal(task?.state, "queued");
        assert.equal(task?.attempts, 0);
        assert.equal(task?.lease_owner, null);
        assert.deepEqual(await listTasks(db, { node_id: node.id }), [task]);
        assert.equal(await getTask(db, "missing"), undefined);
        await rejectsWith(
          enqueueTask(db, {
            node_id: "missing",
            kind: "workload.oci_launch",
            spec: {},
            correlation_id: "c",
          }),
          "store.invalid_reference",
        );
      });

      it("leases oldest first, re-leases expired leases, and completes only for the owner", async () => {
        const node = await createNode(db, { name: `n-${unique()}` });
        const ids = await queue(node.id, 3);
        const t0 = new Date();
        const at = (ms: number) => new Date(t0.getTime() + ms);
        const first = await leaseTasks(db, {
          node_id: node.id,
          owner: "a",
          max: 2,
          lease_ms: 1_000,
          now: t0,
        });
        assert.deepEqual(
          first.map((t) => t.id),
          ids.slice(0, 2),
        );
        assert.ok(
          first.every((t) => t.state === "leased" && t.lease_owner === "a" && t.attempts === 1),
        );
        assert.equal(first[0]?.lease_expires_at, at(1_000).toISOString());
        const second = await leaseTasks(db, {
          node_id: node.id,
          owner: "b",
          max: 5,
          lease_ms: 1_000,
          now: at(500),
        });
        assert.deepEqual(
          second.map((t) => t.id),
          ids.slice(2),
          "live leases are not handed out",
        );
        assert.deepEqual(
          await leaseTasks(db, {
            node_id: node.id,
            owner: "b",
            max: 5,
            lease_ms: 1_000,
            now: at(600),
          }),
          [],
        );
        await extendTaskLease(db, { id: ids[1] ?? "", owner: "a", lease_ms: 5_000, now: at(900) });
        await rejectsWith(
          extendTaskLease(db, { id: ids[1] ?? "", owner: "b", lease_ms: 5_000, now: at(900) }),
          "task.lease_not_held",
        );
        const third = await leaseTasks(db, {
          node_id: node.id,
          owner: "c",
          max: 5,
          lease_ms: 1_000,
          now: at(1_000),
        });
        assert.deepEqual(
          third.map((t) => t.id),
          [ids[0]],
          "the expired lease moves; the extended one stays",
        );
        assert.equal(third[0]?.attempts, 2);
        await rejectsWith(
          completeTask(db, {
            id: ids[0] ?? "",
            owner: "a",
            outcome: "succeeded",
            result: {},
            now: at(1_100),
          }),
          "task.lease_not_held",
        );
        const done = await completeTask(db, {
          id: ids[0] ?? "",
          owner: "c",
          outcome: "succeeded",
          result: { container_id: "abc" },
          now: at(1_100),
        });
        assert.equal(done.state, "succeeded");
        assert.deepEqual(done.result, { container_id: "abc" });
        assert.equal(done.lease_owner, null);
        assert.equal(done.completed_at, at(1_100).toISOString());
        await rejectsWith(
          completeTask(db, { id: ids[0] ?? "", owner: "c", outcome: "failed", result: {} }),
          "task.lease_not_held",
        );
        const failed = await completeTask(db, {
          id: ids[1] ?? "",
          owner: "a",
          outcome: "failed",
          result: ["x"],
        });
        assert.deepEqual(failed.result, ["x"]);
        await rejectsWith(
          completeTask(db, { id: "missing", owner: "a", outcome: "failed", result: null }),
          "store.not_found",
        );
        assert.deepEqual(
          await leaseTasks(db, { node_id: node.id, owner: "d", max: 0, lease_ms: 1_000 }),
          [],
        );
      });

      it("never hands one task to two concurrent in-process leasers", async () => {
        const node = await createNode(db, { name: `n-${unique()}` });
        const ids = await queue(node.id, 40);
        const leasers = ["p", "q", "r", "s"].map(async (owner) => {
          const mine: string[] = [];
          for (;;) {
            const tasks = await leaseTasks(db, {
              node_id: node.id,
              owner,
              max: 3,
              lease_ms: 60_000,
            });
            if (tasks.length === 0) return mine;
            mine.push(...tasks.map((t) => t.id));
          }
        });
        const leased = (await Promise.all(leasers)).flat();
        assert.equal(new Set(leased).size, leased.length, "no duplicates");
        assert.deepEqual([...leased].sort(), [...ids].sort(), "every task leased");
      });

      if (backend.name === "postgres") {
        it("never hands one task to two leasing processes on one PostgreSQL", {
          timeout: 60_000,
        }, async (t) => {
          const node = await createNode(db, { name: `n-${unique()}` });
          const ids = await queue(node.id, 150);
          const { options } = opened;
          assert.equal(options.kind, "postgres");
          if (options.kind !== "postgres" || options.schema === undefined) return;
          const started = performance.now();
          const workers = ["replica-1", "replica-2"].map((owner) =>
            startLeaseWorker([options.connectionString, options.schema ?? "", node.id, owner]),
          );
          let one: string[];
          let two: string[];
          try {
            await Promise.all(workers.map((worker) => worker.ready));
            for (const worker of workers) worker.child.stdin.write("go\n");
            [one = [], two = []] = await Promise.all(workers.map((worker) => worker.leased()));
          } finally {
            for (const { child } of workers)
              if (child.exitCode === null && child.signalCode === null) child.kill();
          }
          const union = [...one, ...two];
          t.diagnostic(
            `replica-1 leased ${one.length}, replica-2 leased ${two.length} of ${ids.length} in ${(performance.now() - started).toFixed(0)} ms`,
          );
          assert.equal(new Set(union).size, union.length, "no task leased twice");
          assert.deepEqual([...union].sort(), [...ids].sort(), "every task leased");
          assert.ok(one.length > 0 && two.length > 0, "both processes leased");
          const states = await db
            .selectFrom("node_tasks")
            .select(["state", "attempts"])
            .where("node_id", "=", node.id)
            .execute();
          assert.ok(states.every((s) => s.state === "succeeded" && s.attempts === 1));
        });
      }
    });

    describe("events and audit", () => {
      it("appends events and reads them with a cursor", async () => {
        const project = await seedProject(db);
        const appended = [];
        for (let i = 0; i < 5; i++) {
          appended.push(
            await appendEvent(db, {
              project_id: project.id,
              type: "project.note",
              message: `note ${i}`,
              data: { i },
              correlation_id: "corr",
            }),
          );
        }
        assert.match(appended[0]?.id ?? "", /^\d+$/);
        const page1 = await listEvents(db, { project_id: project.id, limit: 2 });
        assert.deepEqual(page1.items, appended.slice(0, 2));
        const page2 = await listEvents(db, {
          project_id: project.id,
          limit: 2,
          after: page1.next_cursor ?? "",
        });
        assert.deepEqual(page2.items, appended.slice(2, 4));
        const page3 = await listEvents(db, {
          project_id: project.id,
          limit: 2,
          after: page2.next_cursor ?? "",
        });
        assert.deepEqual(page3.items, appended.slice(4));
        assert.equal(page3.next_cursor, null);
        const tail = await listEvents(db, { project_id: project.id, after: appended[4]?.id ?? "" });
        assert.deepEqual(tail, { items: [], next_cursor: null });
        await rejectsWith(
          listEvents(db, { project_id: project.id, after: "1; drop" }),
          "store.invalid_cursor",
        );
        await rejectsWith(
          appendEvent(db, {
            project_id: project.id,
            type: "Not A Type",
            message: "",
            correlation_id: "c",
          }),
          "store.invalid_value",
        );
      });

      it("appends and lists audit entries", async () => {
        const project = await seedProject(db);
        const entry = await appendAudit(db, {
          actor: "user:u1",
          action: "instance.launch",
          target: "app_instance:i1",
          project_id: project.id,
          correlation_id: "corr",
          data: { display_name: "nb" },
        });
        const platform = await appendAudit(db, {
          actor: "system",
          action: "node.register",
          target: "node:n1",
          correlation_id: "corr",
        });
        assert.equal(platform.project_id, null);
        assert.deepEqual(await listAudit(db, { project_id: project.id }), {
          items: [entry],
          next_cursor: null,
        });
        const all = await listAudit(db, { after: entry.id });
        assert.ok(all.items.some((e) => e.id === platform.id));
      });
    });

    describe("idempotency keys", () => {
      it("replays the first response and refuses a different body", async () => {
        const project = await seedProject(db);
        const body = { app_slug: "jupyterlab", config: { a: 1, b: [1, 2] } };
        const hash = hashRequest(body);
        assert.equal(hash, hashRequest({ config: { b: [1, 2], a: 1 }, app_slug: "jupyterlab" }));
        assert.notEqual(hash, hashRequest({ ...body, app_slug: "vllm" }));
        let runs = 0;
        const work = async () => {
          runs += 1;
          return { status: 202, body: { id: `instance-${runs}` } };
        };
        const key = { project_id: project.id, key: "retry-1", request_hash: hash };
        const first = await runIdempotent(db, key, work);
        assert.deepEqual(first, { status: 202, body: { id: "instance-1" }, replayed: false });
        const again = await runIdempotent(db, key, work);
        assert.deepEqual(again, { status: 202, body: { id: "instance-1" }, replayed: true });
        assert.equal(runs, 1);
        await rejectsWith(
          runIdempotent(db, { ...key, request_hash: hashRequest({ other: true }) }, work),
          "idempotency.key_reused",
        );
        const elsewhere = await seedProject(db);
        assert.equal(
          (await runIdempotent(db, { ...key, project_id: elsewhere.id }, work)).replayed,
          false,
        );
        assert.equal(runs, 2);
      });

      it("stores nothing when the work fails, and keeps the work's writes atomic with the key", async () => {
        const world = await seedWorld(db);
        const key = { project_id: world.project.id, key: `k-${unique()}`, request_hash: "h" };
        await assert.rejects(
          runIdempotent(db, key, async (tx) => {
            await launch(tx, world, { gpu_indices: [0] });
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.deepEqual(await listClaimedGpuIndices(db, world.allocation.id), []);
        const retried = await runIdempotent(db, key, async (tx) => {
          const { instance } = await launch(tx, world, { gpu_indices: [0] });
          return { status: 202, body: { id: instance.id } };
        });
        assert.equal(retried.replayed, false);
        assert.deepEqual(await listClaimedGpuIndices(db, world.allocation.id), [0]);
      });

      it("serialises concurrent requests with one key into one execution", async () => {
        const project = await seedProject(db);
        let runs = 0;
        const key = { project_id: project.id, key: "burst", request_hash: "h" };
        const outcomes = await Promise.all(
          [1, 2, 3].map(() =>
            runIdempotent(db, key, async () => {
              runs += 1;
              await new Promise((resolve) => setTimeout(resolve, 20));
              return { status: 201, body: { run: runs } };
            }),
          ),
        );
        assert.equal(runs, 1);
        assert.deepEqual(outcomes.map((o) => o.replayed).sort(), [false, true, true]);
        assert.ok(outcomes.every((o) => JSON.stringify(o.body) === '{"run":1}'));
      });

      it("purges old keys", async () => {
        const project = await seedProject(db);
        await runIdempotent(
          db,
          { project_id: project.id, key: "old", request_hash: "h" },
          async () => ({
            status: 200,
            body: null,
          }),
        );
        assert.ok((await purgeIdempotencyKeys(db, new Date(Date.now() + 60_000))) >= 1);
        const count = await db
          .selectFrom("idempotency_keys")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("project_id", "=", project.id)
          .executeTakeFirstOrThrow();
        assert.equal(Number(count.n), 0);
      });
    });

    describe("transactions", () => {
      it("composes store functions in a caller's transaction, rolled back as a whole", async () => {
        const slug = `tx-${unique()}`;
        await assert.rejects(
          opened.store.transaction(async (tx) => {
            const org = await createOrganization(tx, { slug, display_name: "Tx" });
            // Nested atomic work joins the caller's transaction instead of opening another.
            await inTransaction(tx, (inner) =>
              createProject(inner, { org_id: org.id, slug: "p", display_name: "P" }),
            );
            throw new StoreError("store.conflict", "abort on purpose");
          }),
          (error: unknown) => isStoreError(error, "store.conflict"),
        );
        assert.ok(!(await listOrganizations(db)).some((org) => org.slug === slug));
        const committed = await opened.store.transaction((tx) =>
          createOrganization(tx, { slug, display_name: "Tx" }),
        );
        assert.deepEqual(await getOrganization(db, committed.id), committed);
      });
    });

    describe("migrations and reopening", () => {
      it("migrates once: reopening applies nothing and keeps the data", async (t) => {
        if (backend.name === "pglite") {
          const dir = await mkdtemp(join(tmpdir(), "gpuaas-store-"));
          try {
            const { blob } = await loadPgliteTemplate();
            let started = performance.now();
            const first = await openStore({ kind: "pglite", dataDir: dir, template: blob });
            const seededMs = performance.now() - started;
            assert.deepEqual(first.migrated, [], "the template is already migrated");
            const org = await createOrganization(first.db, { slug: "kept", display_name: "Kept" });
            await first.close();
            started = performance.now();
            const second = await openStore({ kind: "pglite", dataDir: dir, template: blob });
            const reopenMs = performance.now() - started;
            assert.deepEqual(second.migrated, []);
            assert.deepEqual(await getOrganization(second.db, org.id), org);
            await second.close();
            t.diagnostic(
              `pglite data dir: seeded from template in ${seededMs.toFixed(0)} ms, reopened in ${reopenMs.toFixed(0)} ms`,
            );
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        } else {
          const { options } = opened;
          if (options.kind !== "postgres") return;
          const schema = uniqueSchema();
          const fresh = { ...options, schema };
          const first = await openStore(fresh);
          try {
            assert.deepEqual(
              first.migrated,
              MIGRATIONS.map((migration) => migration.name),
            );
            const org = await createOrganization(first.db, { slug: "kept", display_name: "Kept" });
            const second = await openStore(fresh);
            assert.deepEqual(second.migrated, []);
            assert.deepEqual(await getOrganization(second.db, org.id), org);
            await second.close();
          } finally {
            await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(first.db);
            await first.close();
          }
        }
      });

      if (backend.name === "postgres") {
        it("lets replicas starting together on an empty schema migrate it once", async () => {
          const { options } = opened;
          if (options.kind !== "postgres") return;
          const fresh = { ...options, schema: uniqueSchema() };
          const replicas = await Promise.all([
            openStore(fresh),
            openStore(fresh),
            openStore(fresh),
          ]);
          try {
            assert.deepEqual(
              replicas.flatMap((replica) => replica.migrated),
              MIGRATIONS.map((migration) => migration.name),
            );
          } finally {
            await sql`DROP SCHEMA ${sql.id(fresh.schema)} CASCADE`.execute(replicas[0]?.db ?? db);
            await Promise.all(replicas.map((replica) => replica.close()));
          }
        });
      }
    });
  });
}

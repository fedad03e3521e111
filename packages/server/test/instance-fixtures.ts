// Seeds what a launch needs straight through the store: a node, allocations, the curated
// JupyterLab profile registered as app versions, entitlements and artifacts walked to a state.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type ArtifactState, checkAuthoringGate, validateProfile } from "@gpuaas/contract";
import { sql } from "kysely";
import { parse } from "yaml";
import {
  type Allocation,
  type AllocationInput,
  type AppVersion,
  type Artifact,
  createAllocation,
  createArtifact,
  createNode,
  type Node,
  registerAppVersion,
  type StoreDb,
  setEntitlement,
  transitionArtifact,
} from "../src/index.js";

const manifest = parse(
  await readFile(new URL("../../../profiles/jupyterlab.yaml", import.meta.url), "utf8"),
);
const validation = validateProfile(manifest);
if (!validation.ok || validation.profile === undefined)
  throw new Error("jupyterlab.yaml is invalid");
const profile = validation.profile;
const gateReport = checkAuthoringGate(manifest);

/** The platform registry the test config uses (the server's default). */
export const REGISTRY = "127.0.0.1:5055";

/** A fresh `sha256:` digest. */
export function randomDigest(): string {
  return `sha256:${randomBytes(32).toString("hex")}`;
}

/** Registers a JupyterLab version (published unless told otherwise). */
export function seedVersion(db: StoreDb, version: string, published = true): Promise<AppVersion> {
  return registerAppVersion(db, {
    version,
    manifest,
    profile,
    gate_report: gateReport,
    published,
  });
}

/** Records an artifact and walks it along its lifecycle to `state`. */
export async function seedArtifact(
  db: StoreDb,
  version: AppVersion,
  options: {
    readonly gpu?: boolean;
    readonly state?: ArtifactState;
    readonly repository?: string;
  } = {},
): Promise<Artifact> {
  const gpu = options.gpu ?? true;
  let artifact = await createArtifact(db, {
    app_version_id: version.id,
    artifact_name: gpu ? "jupyterlab/runtime-nvidia-h200" : "jupyterlab/runtime-cpu",
    repository:
      options.repository ?? `${REGISTRY}/gpuaas/jupyterlab-${randomBytes(3).toString("hex")}`,
    digest: randomDigest(),
    media_type: "application/vnd.oci.image.manifest.v1+json",
    platform: { os: "linux", architecture: "amd64" },
    ...(gpu ? { accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" } } : {}),
  });
  const target = options.state ?? "promoted";
  const path: readonly ArtifactState[] =
    target === "retired" ? ["verified", "retired"] : ["verified", "published", "promoted"];
  for (const step of path) {
    if (artifact.state === target) break;
    artifact = await transitionArtifact(db, { id: artifact.id, to: step });
  }
  return artifact;
}

/** A launchable version: published, with a promoted GPU and CPU artifact. */
export async function seedLaunchableVersion(db: StoreDb, version: string): Promise<AppVersion> {
  const created = await seedVersion(db, version);
  await seedArtifact(db, created, { gpu: true });
  await seedArtifact(db, created, { gpu: false });
  return created;
}

/** An allocation of an H200 node share (2 GPUs by default). */
export function seedAllocation(
  db: StoreDb,
  input: { readonly project_id: string; readonly node_id: string } & Partial<AllocationInput>,
): Promise<Allocation> {
  return createAllocation(db, {
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
    cpu_architecture: "amd64",
    gpu_indices: [0, 1],
    cpu_cores: 32,
    memory_gib: 256,
    storage_modes: ["scratch", "project_storage"],
    ...input,
  });
}

/** Everything one project needs to launch JupyterLab `version`. */
export interface LaunchWorld {
  readonly node: Node;
  readonly allocation: Allocation;
  readonly version: AppVersion;
}

/** A node, a 2-GPU allocation of the project, an entitlement and a launchable version. */
export async function seedLaunchWorld(
  db: StoreDb,
  projectId: string,
  version = "2026.04",
): Promise<LaunchWorld> {
  const node = await createNode(db, { name: `node-${randomBytes(3).toString("hex")}` });
  const allocation = await seedAllocation(db, { project_id: projectId, node_id: node.id });
  const created = await seedLaunchableVersion(db, version);
  await setEntitlement(db, { project_id: projectId, app_slug: "jupyterlab", enabled: true });
  return { node, allocation, version: created };
}

/** The seed's launch body for an allocation. */
export function launchBody(
  allocationId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    app_slug: "jupyterlab",
    app_version: "2026.04",
    display_name: "My JupyterLab",
    placement_intent: { target_allocation_id: allocationId },
    config: {
      workspace_mount: "project_storage",
      exposure_mode: "private",
      host_port: 8888,
      python_packages: "numpy==2.4.4 pandas>=2.2",
    },
    resource_overrides: { gpu_count: 0, cpu_cores: 2, memory_gib: 4 },
    ...overrides,
  };
}

/** Row counts of what a launch writes. */
export interface LaunchCounts {
  readonly instances: number;
  readonly tasks: number;
  readonly events: number;
  readonly audit: number;
}

/** Counts instances, node tasks, events and audit entries. */
export async function countLaunchRows(db: StoreDb): Promise<LaunchCounts> {
  const { rows } = await sql<{ instances: string; tasks: string; events: string; audit: string }>`
    SELECT (SELECT count(*) FROM app_instances) AS instances,
           (SELECT count(*) FROM node_tasks) AS tasks,
           (SELECT count(*) FROM events) AS events,
           (SELECT count(*) FROM audit_log) AS audit`.execute(db);
  const row = rows[0];
  if (row === undefined) throw new Error("no counts");
  return {
    instances: Number(row.instances),
    tasks: Number(row.tasks),
    events: Number(row.events),
    audit: Number(row.audit),
  };
}

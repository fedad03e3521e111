import { access, chown, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { OciLaunchSpec, WorkloadMount } from "@gpuaas/engines";
import type { AgentConfig } from "./agent-config.js";
import type { BindMount } from "./container-runtime.js";

/** The scratch directory of an instance: `<workloadsRoot>/<instance_id>`. */
export function toScratchDir(config: AgentConfig, instanceId: string): string {
  return join(config.workloadsRoot, instanceId);
}

/**
 * The host directory of a workload mount, derived from agent configuration and ids only:
 * scratch → `<workloadsRoot>/<instance_id>/<name>`, project storage →
 * `<projectStorageRoot>/<project_id>/<name>`. Ids are checked by `checkLaunchSpec` first.
 */
export function toMountSource(
  config: AgentConfig,
  identity: OciLaunchSpec["identity"],
  mount: WorkloadMount,
): string {
  return mount.mode === "scratch"
    ? join(toScratchDir(config, identity.instance_id), mount.name)
    : join(config.projectStorageRoot, identity.project_id, mount.name);
}

/** Every bind mount of a spec: workload mounts, then approved host mounts. */
export function toBindMounts(config: AgentConfig, spec: OciLaunchSpec): BindMount[] {
  return [
    ...spec.container.mounts.map((mount) => ({
      source: toMountSource(config, spec.identity, mount),
      target: mount.target,
      read_only: mount.read_only,
    })),
    ...spec.container.security.host_mounts.map((mount) => ({
      source: mount.host_path,
      target: mount.path,
      read_only: mount.read_only,
    })),
  ];
}

function numericOwner(user: string | undefined): { uid: number; gid: number } | undefined {
  const match = user === undefined ? null : /^(\d+)(?::(\d+))?$/.exec(user);
  if (match === null) return undefined;
  const uid = Number(match[1]);
  return { uid, gid: match[2] === undefined ? uid : Number(match[2]) };
}

/**
 * Creates the workload mount directories (not host mounts, which must exist). When the agent runs
 * as root and the container runs as a numeric user, the directories are given to that user: with
 * every capability dropped, root in the container could not write to them otherwise.
 */
export async function prepareMountDirs(config: AgentConfig, spec: OciLaunchSpec): Promise<void> {
  const owner = numericOwner(spec.container.user);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  for (const mount of spec.container.mounts) {
    const source = toMountSource(config, spec.identity, mount);
    await mkdir(source, { recursive: true, mode: 0o750 });
    if (owner !== undefined && isRoot) await chown(source, owner.uid, owner.gid);
  }
}

/** Deletes an instance's scratch directory; project storage is never touched. */
export async function removeScratchDir(config: AgentConfig, instanceId: string): Promise<boolean> {
  const dir = toScratchDir(config, instanceId);
  const existed = await access(dir).then(
    () => true,
    () => false,
  );
  await rm(dir, { recursive: true, force: true });
  return existed;
}

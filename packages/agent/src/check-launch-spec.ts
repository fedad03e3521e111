import { isAbsolute, normalize } from "node:path";
import { MAX_PYTHON_PACKAGES, parsePythonPackages } from "@gpuaas/contract";
import { type OciLaunchSpec, toContainerName } from "@gpuaas/engines";
import type { AgentConfig } from "./agent-config.js";
import type { AgentIssue } from "./agent-errors.js";

/** Ids and names that become path segments, container names and label values. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REGISTRY = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/;
const REPOSITORY =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]*$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;

function isCleanAbsolute(path: string): boolean {
  return isAbsolute(path) && normalize(path) === path && path !== "/";
}

/** A container path the agent can put in `--mount` (no `,` or `=` splitting, no `:`). */
function isMountablePath(path: string): boolean {
  return isCleanAbsolute(path) && !/[,:=\0\n]/.test(path);
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

function hasControl(text: string): boolean {
  return /[\0\r\n]/.test(text);
}

/**
 * Checks a launch spec against the agent's own rules before anything touches the host: image by
 * digest only, deterministic name, safe ids (they become paths), loopback-only ports, sane limits,
 * the hardened security profile, valid package specifiers and readiness probes that name a port.
 * Host mounts outside the configured roots are refused. Every problem is reported.
 */
export function checkLaunchSpec(spec: OciLaunchSpec, config: AgentConfig): AgentIssue[] {
  const issues: AgentIssue[] = [];
  const invalid = (pointer: string, message: string): void => {
    issues.push({ pointer, code: "task.spec_invalid", message });
  };
  if (spec.kind !== "workload.oci_launch" || spec.spec_version !== 1) {
    invalid("/spec_version", "this agent runs workload.oci_launch spec_version 1 only");
  }
  const { identity, container } = spec;
  for (const key of ["project_id", "instance_id", "correlation_id"] as const) {
    if (!SAFE_ID.test(identity[key])) {
      invalid(`/identity/${key}`, `${key} must be 1-128 letters, digits, '.', '_' or '-'`);
    }
  }
  if (!Number.isSafeInteger(identity.generation) || identity.generation < 0) {
    invalid("/identity/generation", "generation must be a non-negative integer");
  }
  if (container.name !== toContainerName(identity.instance_id)) {
    invalid(
      "/container/name",
      `the container name must be ${toContainerName(identity.instance_id)}, derived from the instance id`,
    );
  }
  if (!DIGEST.test(container.digest)) {
    invalid("/container/digest", "the image must be pinned by a sha256 digest");
  }
  if (!REGISTRY.test(container.registry)) {
    invalid("/container/registry", "the registry must be a host[:port]");
  }
  if (!REPOSITORY.test(container.repository)) {
    invalid("/container/repository", "the repository name is not a valid OCI repository name");
  }
  if (container.image !== `${container.registry}/${container.repository}@${container.digest}`) {
    invalid("/container/image", "the image must be exactly registry/repository@digest (no tag)");
  }
  for (const [key, value] of Object.entries(container.labels)) {
    if (!LABEL_KEY.test(key) || hasControl(value)) {
      invalid(`/container/labels/${key}`, "label keys must be plain names and values one line");
    }
  }
  for (const [key, value] of Object.entries(container.env)) {
    if (!ENV_KEY.test(key) || value.includes("\0")) {
      invalid(`/container/env/${key}`, "environment names must match [A-Za-z_][A-Za-z0-9_]*");
    }
  }
  container.args?.forEach((arg, index) => {
    if (arg.includes("\0")) invalid(`/container/args/${index}`, "arguments cannot contain NUL");
  });
  if (container.working_dir !== undefined && !isAbsolute(container.working_dir)) {
    invalid("/container/working_dir", "the working directory must be an absolute path");
  }
  if (container.user !== undefined && !USER.test(container.user)) {
    invalid("/container/user", "the user must be name-or-uid[:group-or-gid]");
  }
  const endpoints = new Set<string>();
  container.ports.forEach((port, index) => {
    const pointer = `/container/ports/${index}`;
    if (endpoints.has(port.endpoint))
      invalid(`${pointer}/endpoint`, "endpoint names must be unique");
    endpoints.add(port.endpoint);
    if (port.host_ip !== "127.0.0.1") {
      invalid(`${pointer}/host_ip`, "ports are published on 127.0.0.1 only");
    }
    if (
      !Number.isInteger(port.container_port) ||
      port.container_port < 1 ||
      port.container_port > 65535
    ) {
      invalid(`${pointer}/container_port`, "the container port must be 1-65535");
    }
    if (
      port.host_port !== undefined &&
      (!Number.isInteger(port.host_port) || port.host_port < 1024 || port.host_port > 65535)
    ) {
      invalid(`${pointer}/host_port`, "the host port must be 1024-65535");
    }
  });
  const { cpus, memory_mib: memory, pids_limit: pids } = container.resources;
  if (!Number.isFinite(cpus) || cpus <= 0) {
    invalid("/container/resources/cpus", "cpus must be a positive number");
  }
  if (!Number.isFinite(memory) || memory < 6) {
    invalid("/container/resources/memory_mib", "memory must be at least 6 MiB");
  }
  if (!Number.isInteger(pids) || pids < 1) {
    invalid("/container/resources/pids_limit", "pids_limit must be a positive integer");
  }
  const { gpus } = container;
  const seen = new Set<number>();
  gpus.indices.forEach((index, position) => {
    if (!Number.isInteger(index) || index < 0 || index > 1023 || seen.has(index)) {
      invalid(
        `/container/gpus/indices/${position}`,
        "GPU indices must be distinct integers 0-1023",
      );
    }
    seen.add(index);
  });
  if (gpus.vendor === "none" && gpus.indices.length > 0) {
    invalid("/container/gpus/vendor", "GPU indices were given without a GPU vendor");
  }
  const targets = new Set<string>();
  container.mounts.forEach((mount, index) => {
    const pointer = `/container/mounts/${index}`;
    if (!SAFE_ID.test(mount.name)) {
      invalid(`${pointer}/name`, "mount names must be 1-128 letters, digits, '.', '_' or '-'");
    }
    if (!isMountablePath(mount.target)) {
      invalid(
        `${pointer}/target`,
        "mount targets must be absolute, normalised, not / and free of , : =",
      );
    } else if (targets.has(mount.target)) {
      invalid(`${pointer}/target`, "two mounts share a target");
    }
    targets.add(mount.target);
    if (mount.mode !== "scratch" && mount.mode !== "project_storage") {
      invalid(`${pointer}/mode`, "mount mode must be scratch or project_storage");
    }
  });
  const { security } = container;
  if (security.cap_drop[0] !== "ALL" || security.no_new_privileges !== true) {
    invalid(
      "/container/security",
      "the agent runs containers with cap_drop ALL and no_new_privileges only",
    );
  }
  security.host_mounts.forEach((mount, index) => {
    const pointer = `/container/security/host_mounts/${index}`;
    if (!isMountablePath(mount.host_path) || !isMountablePath(mount.path)) {
      invalid(pointer, "host mount paths must be absolute, normalised and free of , : =");
      return;
    }
    if (targets.has(mount.path)) invalid(`${pointer}/path`, "a host mount shares a target");
    targets.add(mount.path);
    if (!config.hostMountRoots.some((root) => isInside(mount.host_path, root))) {
      issues.push({
        pointer: `${pointer}/host_path`,
        code: "preflight.host_mount_refused",
        message: `host path ${mount.host_path} is outside the agent's allowed host mount roots (${config.hostMountRoots.join(", ") || "none configured"}): add a root to the agent's hostMountRoots if the profile's approval covers it`,
      });
    }
  });
  if (spec.python_packages.length > MAX_PYTHON_PACKAGES) {
    invalid("/python_packages", `at most ${MAX_PYTHON_PACKAGES} packages may be installed`);
  }
  spec.python_packages.forEach((token, index) => {
    const parsed = parsePythonPackages(token);
    if (parsed.problems.length > 0 || parsed.packages.length !== 1) {
      invalid(
        `/python_packages/${index}`,
        parsed.problems[0]?.reason ?? "each entry must be one pip requirement specifier",
      );
    }
  });
  spec.readiness.forEach((probe, index) => {
    const pointer = `/readiness/${index}`;
    if (!endpoints.has(probe.endpoint)) {
      invalid(`${pointer}/endpoint`, `readiness probe ${probe.name} names no published endpoint`);
    }
    if (probe.type !== "http" && probe.type !== "tcp") {
      invalid(`${pointer}/type`, "readiness probes are http or tcp");
    }
    if (probe.type === "http" && (!probe.path.startsWith("/") || hasControl(probe.path))) {
      invalid(`${pointer}/path`, "the probe path must start with /");
    }
    if (!(probe.timeout_seconds > 0 && probe.timeout_seconds <= 3600)) {
      invalid(`${pointer}/timeout_seconds`, "the probe budget must be 0-3600 seconds");
    }
    if (!(probe.interval_seconds > 0 && probe.interval_seconds <= 300)) {
      invalid(`${pointer}/interval_seconds`, "the probe interval must be 0-300 seconds");
    }
    if (probe.expect_status.length === 0) {
      invalid(`${pointer}/expect_status`, "name at least one expected status");
    }
  });
  return issues;
}

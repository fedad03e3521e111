import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import {
  closeRuntime,
  createPodmanDriver,
  type PodmanDriverOptions,
} from "./create-podman-driver.js";
import { createDockerRuntime, type DockerRuntimeOptions } from "./docker-runtime.js";
import { createNerdctlRuntime, type NerdctlRuntimeOptions } from "./nerdctl-runtime.js";

/** Driver options per runtime, for detection and for the driver then used. */
export interface RuntimeDriverOptions {
  /** With a `socketPath`, podman is driven through its libpod API (the CLI as fallback). */
  readonly podman?: PodmanDriverOptions;
  readonly docker?: DockerRuntimeOptions;
  readonly nerdctl?: NerdctlRuntimeOptions;
}

/** A runtime found on the host, with its driver. */
export interface DetectedRuntime {
  readonly probe: RuntimeProbe;
  readonly driver: ContainerRuntime;
}

/** The three drivers in order of preference: podman, docker, nerdctl. */
export function createRuntimeDrivers(options: RuntimeDriverOptions = {}): ContainerRuntime[] {
  return [
    createPodmanDriver(options.podman),
    createDockerRuntime(options.docker),
    createNerdctlRuntime(options.nerdctl),
  ];
}

/**
 * Probes every runtime (present, version, rootless, answering) without changing anything, in order
 * of preference.
 *
 * @example
 * (await detectRuntimes()).map((runtime) => `${runtime.probe.name} ${runtime.probe.answering}`)
 */
export async function detectRuntimes(
  drivers: readonly ContainerRuntime[] = createRuntimeDrivers(),
): Promise<DetectedRuntime[]> {
  return Promise.all(drivers.map(async (driver) => ({ driver, probe: await driver.probe() })));
}

/** The runtime to use: the first answering one in order of preference (podman, docker, nerdctl). */
export function selectRuntime(detected: readonly DetectedRuntime[]): DetectedRuntime | undefined {
  return detected.find((runtime) => runtime.probe.answering);
}

/**
 * Stops what the drivers not kept started (a podman API service probed but not selected).
 *
 * @example
 * await closeUnselected(detected, selectRuntime(detected))
 */
export async function closeUnselected(
  detected: readonly DetectedRuntime[],
  kept: DetectedRuntime | undefined,
): Promise<void> {
  await Promise.all(
    detected
      .filter((runtime) => runtime !== kept)
      .map((runtime) => closeRuntime(runtime.driver).catch(() => undefined)),
  );
}

import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import { createDockerRuntime, type DockerRuntimeOptions } from "./docker-runtime.js";
import { createNerdctlRuntime, type NerdctlRuntimeOptions } from "./nerdctl-runtime.js";
import { createPodmanRuntime, type PodmanRuntimeOptions } from "./podman-runtime.js";

/** Driver options per runtime, for detection and for the driver then used. */
export interface RuntimeDriverOptions {
  readonly podman?: PodmanRuntimeOptions;
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
    createPodmanRuntime(options.podman),
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

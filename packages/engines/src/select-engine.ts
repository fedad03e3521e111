import type { Engine, WorkloadProfile } from "@gpuaas/contract";

/** Engines this package can render a node task for. */
export const RENDERABLE_ENGINES: readonly Engine[] = ["node_agent"];

/**
 * Picks the execution engine for a launch: the profile's default engine when the environment
 * enables it, otherwise the first engine the profile lists as active that the environment enables
 * and this package can render. Undefined when none fits (the launch is refused, fail-closed).
 */
export function selectEngine(
  profile: WorkloadProfile,
  enabled: readonly Engine[],
): Engine | undefined {
  const usable = (engine: Engine) =>
    enabled.includes(engine) && RENDERABLE_ENGINES.includes(engine);
  const active = profile.execution.supported_engines
    .filter((entry) => entry.status === "active")
    .map((entry) => entry.engine);
  if (
    active.includes(profile.execution.default_engine) &&
    usable(profile.execution.default_engine)
  ) {
    return profile.execution.default_engine;
  }
  return active.find(usable);
}

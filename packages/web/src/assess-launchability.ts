/**
 * Whether an app version can be launched by this project: a verified, published or promoted
 * artifact must fit at least one of the project's active allocations. Decided with the contract's
 * `selectArtifact`, the function the server's preflight uses. Pure.
 */
import { selectArtifact, type WorkloadProfile } from "@gpuaas/contract";
import type { Allocation, Artifact } from "./api-types.js";
import { describeAllocation } from "./format.js";
import { createInitialValues, resourceBounds } from "./wizard-model.js";

/** The verdict for one app version. */
export interface Launchability {
  readonly launchable: boolean;
  /** A sentence for the card: why it cannot be launched, or where it can. */
  readonly summary: string;
  /** One line per allocation, saying why it does not fit (empty when launchable). */
  readonly reasons: readonly string[];
  /** Allocations the app fits. */
  readonly fits: readonly Allocation[];
}

/** The GPU count a launch on this allocation would ask for, as the wizard starts it. */
function gpuCountFor(profile: WorkloadProfile, allocation: Allocation): number {
  const wanted = createInitialValues(profile).gpu_count;
  const start =
    typeof wanted === "number"
      ? wanted
      : (profile.resources.gpu.default_count ?? profile.resources.gpu.min_count);
  return Math.max(
    Math.min(start, allocation.gpu_indices.length),
    resourceBounds(profile, "gpu_count").min,
  );
}

/**
 * Decides launchability for one profile against the project's entitlement, its allocations and
 * the version's artifacts (the launchable ones the API lists; unverified ones are not candidates).
 */
export function assessLaunchability(
  profile: WorkloadProfile,
  allocations: readonly Allocation[],
  artifacts: readonly Artifact[],
  entitled = true,
): Launchability {
  const active = allocations.filter((allocation) => allocation.state === "active");
  const candidates = artifacts.filter((artifact) => artifact.verified_at !== null);
  if (!entitled) {
    return {
      launchable: false,
      summary: "Your project is not entitled to this app; a platform operator can enable it.",
      reasons: [],
      fits: [],
    };
  }
  if (active.length === 0) {
    return {
      launchable: false,
      summary: "Your project has no active allocation to launch on.",
      reasons: [],
      fits: [],
    };
  }
  if (!candidates.some((artifact) => ["published", "promoted"].includes(artifact.state))) {
    return {
      launchable: false,
      summary: "No published image yet: a platform operator has to publish one.",
      reasons: [],
      fits: [],
    };
  }
  const fits: Allocation[] = [];
  const reasons: string[] = [];
  for (const allocation of active) {
    const minimum = resourceBounds(profile, "gpu_count").min;
    if (allocation.gpu_indices.length < minimum) {
      reasons.push(
        `${describeAllocation(allocation)}: needs at least ${minimum} GPU${minimum === 1 ? "" : "s"}.`,
      );
      continue;
    }
    const selection = selectArtifact(profile, allocation, candidates, {
      gpu_count: gpuCountFor(profile, allocation),
    });
    if (selection.ok) {
      fits.push(allocation);
      continue;
    }
    const why = [
      ...new Set(
        selection.candidates
          .filter((candidate) => candidate.variant !== undefined)
          .map((candidate) => candidate.reason),
      ),
    ];
    reasons.push(
      `${describeAllocation(allocation)}: ${why.length > 0 ? why.join("; ") : (selection.issues[0]?.message ?? "no image fits")}.`,
    );
  }
  if (fits.length > 0) {
    return {
      launchable: true,
      summary: `Launchable on ${fits.length} of your ${active.length} allocation${active.length === 1 ? "" : "s"}.`,
      reasons: [],
      fits,
    };
  }
  return {
    launchable: false,
    summary: "No published image fits your allocations.",
    reasons,
    fits,
  };
}

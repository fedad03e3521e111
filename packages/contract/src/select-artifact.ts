import { createIssue, type Issue } from "./issues.js";
import type {
  AcceleratorVendor,
  ArtifactState,
  ArtifactVariant,
  CpuArchitecture,
  MediaType,
  WorkloadProfile,
} from "./types.js";

/** The shape of an allocation that artifact selection needs. */
export interface AllocationShape {
  readonly id: string;
  readonly accelerator: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
  readonly cpu_architecture: CpuArchitecture;
}

/** A verified artifact record as the control plane keeps it (trusted metadata, not the manifest's). */
export interface ArtifactRecord {
  readonly id: string;
  readonly artifact_name: string;
  /** `registry/repository`, without tag or digest. */
  readonly repository: string;
  readonly digest: string;
  readonly media_type: MediaType;
  readonly state: ArtifactState;
  /** The image platform; absent for a multi-platform index. */
  readonly platform?: { readonly os: string; readonly architecture: CpuArchitecture };
  readonly accelerator?: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
}

/** Why one record was or was not chosen. */
export interface ArtifactCandidate {
  readonly artifact_id: string;
  readonly variant: string | undefined;
  readonly eligible: boolean;
  readonly reason: string;
}

/** The choice, or every reason nothing fits. */
export interface ArtifactSelection {
  readonly ok: boolean;
  readonly artifact: ArtifactRecord | undefined;
  /** The key of the profile's artifact variant the record belongs to. */
  readonly variant: string | undefined;
  readonly candidates: readonly ArtifactCandidate[];
  readonly issues: readonly Issue[];
}

/** States from which an artifact may be launched. */
export const LAUNCHABLE_ARTIFACT_STATES: readonly ArtifactState[] = ["published", "promoted"];

const DIGEST = /^sha256:[a-f0-9]{64}$/;

interface Match {
  readonly record: ArtifactRecord;
  readonly variant: string;
  readonly score: number;
}

/**
 * Picks the artifact for a launch: among records in a launchable state (published or promoted,
 * never retired) whose variant suits the allocation's accelerator vendor, family and SKU and its
 * CPU architecture. `gpu_count: 0` takes a CPU-only variant. The most specific variant wins
 * (SKU, then family, then vendor), then promoted over published, then the lowest id, so the
 * choice is deterministic. When nothing fits, every record's reason is reported.
 */
export function selectArtifact(
  profile: WorkloadProfile,
  allocation: AllocationShape,
  artifacts: readonly ArtifactRecord[],
  request: { readonly gpu_count: number },
): ArtifactSelection {
  const variants = new Map<string, [string, ArtifactVariant]>();
  for (const [key, variant] of Object.entries(profile.artifacts))
    variants.set(variant.artifact_name, [key, variant]);
  if (request.gpu_count > 0 && allocation.accelerator.vendor === "none") {
    const issue = createIssue(
      "/resource_overrides/gpu_count",
      "artifact.gpu_requested_on_cpu_allocation",
      `${request.gpu_count} GPU(s) requested, but allocation ${allocation.id} has no accelerator; request gpu_count 0 or pick a GPU allocation`,
    );
    return { ok: false, artifact: undefined, variant: undefined, candidates: [], issues: [issue] };
  }
  const candidates: ArtifactCandidate[] = [];
  const matches: Match[] = [];
  for (const record of artifacts) {
    const entry = variants.get(record.artifact_name);
    const verdict: Verdict =
      entry === undefined
        ? { reason: `"${record.artifact_name}" is not an artifact of this profile` }
        : judge(record, entry[1], allocation, request.gpu_count);
    const key = entry?.[0];
    if ("score" in verdict) {
      if (key === undefined) continue;
      matches.push({ record, variant: key, score: verdict.score });
      candidates.push({
        artifact_id: record.id,
        variant: key,
        eligible: true,
        reason: "matches the allocation",
      });
    } else {
      candidates.push({
        artifact_id: record.id,
        variant: key,
        eligible: false,
        reason: verdict.reason,
      });
    }
  }
  matches.sort(
    (a, b) =>
      b.score - a.score || (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0),
  );
  const best = matches[0];
  if (best !== undefined)
    return { ok: true, artifact: best.record, variant: best.variant, candidates, issues: [] };
  const launchable = artifacts.some((record) => LAUNCHABLE_ARTIFACT_STATES.includes(record.state));
  const shape = describeAllocation(allocation, request.gpu_count);
  const issue = launchable
    ? createIssue(
        "/placement_intent/target_allocation_id",
        "artifact.no_match",
        `no published or promoted artifact of "${profile.profile.slug}" fits ${shape}`,
      )
    : createIssue(
        "/artifact_id",
        "artifact.none_eligible",
        `"${profile.profile.slug}" has no published or promoted artifact yet`,
      );
  return { ok: false, artifact: undefined, variant: undefined, candidates, issues: [issue] };
}

function describeAllocation(allocation: AllocationShape, gpuCount: number): string {
  const { vendor, family, sku } = allocation.accelerator;
  const accelerator =
    vendor === "none" ? "no accelerator" : [vendor, family, sku].filter(Boolean).join("/");
  return `allocation ${allocation.id} (${allocation.cpu_architecture}, ${accelerator}, ${gpuCount} GPU(s) requested)`;
}

type Verdict = { readonly score: number } | { readonly reason: string };

function judge(
  record: ArtifactRecord,
  variant: ArtifactVariant,
  allocation: AllocationShape,
  gpuCount: number,
): Verdict {
  if (!LAUNCHABLE_ARTIFACT_STATES.includes(record.state))
    return { reason: `state is ${record.state}, not published or promoted` };
  if (!DIGEST.test(record.digest)) return { reason: "digest is not sha256:<64 hex>" };
  const architectures = variant.cpu_architectures;
  if (
    record.platform !== undefined &&
    record.platform.architecture !== allocation.cpu_architecture
  ) {
    return {
      reason: `image is ${record.platform.architecture}, allocation is ${allocation.cpu_architecture}`,
    };
  }
  if (architectures !== undefined && !architectures.includes(allocation.cpu_architecture)) {
    return {
      reason: `variant is built for ${architectures.join(", ")}, allocation is ${allocation.cpu_architecture}`,
    };
  }
  // The record's own metadata is the trusted statement; the variant's selector is the profile's.
  const vendor = record.accelerator?.vendor ?? variant.accelerator?.vendor ?? "none";
  const family = record.accelerator?.family ?? variant.accelerator?.family;
  const skus =
    record.accelerator?.sku !== undefined ? [record.accelerator.sku] : variant.accelerator?.skus;
  if (
    variant.accelerator !== undefined &&
    record.accelerator !== undefined &&
    record.accelerator.vendor !== variant.accelerator.vendor
  ) {
    return {
      reason: `record says ${record.accelerator.vendor} but its variant targets ${variant.accelerator.vendor}`,
    };
  }
  if (gpuCount === 0) {
    return vendor === "none"
      ? { score: scoreOf(record, 0) }
      : { reason: "gpu_count is 0, and this is a GPU image" };
  }
  if (vendor === "none") return { reason: "CPU-only image, but GPUs were requested" };
  if (vendor !== allocation.accelerator.vendor)
    return { reason: `built for ${vendor}, allocation has ${allocation.accelerator.vendor}` };
  let specificity = 1;
  if (family !== undefined) {
    if (family !== allocation.accelerator.family)
      return {
        reason: `built for family ${family}, allocation has ${allocation.accelerator.family ?? "none"}`,
      };
    specificity += 2;
  }
  if (skus !== undefined) {
    if (allocation.accelerator.sku === undefined || !skus.includes(allocation.accelerator.sku)) {
      return {
        reason: `built for ${skus.join(", ")}, allocation has ${allocation.accelerator.sku ?? "no SKU"}`,
      };
    }
    specificity += 4;
  }
  return { score: scoreOf(record, specificity) };
}

function scoreOf(record: ArtifactRecord, specificity: number): number {
  return specificity * 2 + (record.state === "promoted" ? 1 : 0);
}

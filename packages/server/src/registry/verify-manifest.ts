import type { ManifestDescriptor, RegistryClient } from "./registry-client.js";

/** Why a registry check failed; the registry answered, and the answer does not match the record. */
export type VerifyFailureReason =
  | "manifest_unknown"
  | "digest_mismatch"
  | "media_type_mismatch"
  | "registry_denied"
  | "unexpected_status";

/** The outcome of checking a recorded digest and media type against the registry. */
export type ManifestVerification =
  | { readonly ok: true; readonly descriptor: ManifestDescriptor }
  | {
      readonly ok: false;
      readonly reason: VerifyFailureReason;
      readonly message: string;
      readonly details: Readonly<Record<string, string | number | null>>;
    };

/**
 * Checks that the registry holds the manifest `name@digest` and describes it as the record does:
 * the registry's digest equals the recorded one and its media type equals the recorded media
 * type. Throws `RegistryUnreachableError` when the registry cannot be spoken to.
 */
export async function verifyManifest(
  client: RegistryClient,
  record: { readonly name: string; readonly digest: string; readonly media_type: string },
): Promise<ManifestVerification> {
  const lookup = await client.resolveManifest(record.name, record.digest);
  const where = `${record.name}@${record.digest}`;
  switch (lookup.kind) {
    case "not_found":
      return {
        ok: false,
        reason: "manifest_unknown",
        message: `the registry has no manifest ${where}`,
        details: { status: lookup.status },
      };
    case "denied":
      return {
        ok: false,
        reason: "registry_denied",
        message: `the registry refused to show ${where} (${lookup.status})`,
        details: { status: lookup.status, challenge_error: lookup.challenge?.error ?? null },
      };
    case "unexpected":
      return {
        ok: false,
        reason: "unexpected_status",
        message: `the registry answered ${lookup.status} for ${where}`,
        details: { status: lookup.status },
      };
    case "found":
      break;
  }
  const { descriptor } = lookup;
  if (descriptor.digest !== record.digest) {
    return {
      ok: false,
      reason: "digest_mismatch",
      message: `the registry reports digest ${descriptor.digest} for ${where}`,
      details: {
        expected_digest: record.digest,
        actual_digest: descriptor.digest,
        digest_source: descriptor.digest_source,
      },
    };
  }
  if (descriptor.media_type !== record.media_type) {
    return {
      ok: false,
      reason: "media_type_mismatch",
      message: `the manifest is ${descriptor.media_type || "of no declared media type"}, the record says ${record.media_type}`,
      details: { expected_media_type: record.media_type, actual_media_type: descriptor.media_type },
    };
  }
  return { ok: true, descriptor };
}

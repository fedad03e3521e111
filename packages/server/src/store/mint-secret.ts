import { createHash, randomBytes, randomUUID } from "node:crypto";

/** What kind of secret a plaintext is; the prefix lets scanners and humans recognise it. */
export const SECRET_PREFIXES = {
  user_token: "gpuaas_pat_",
  service_account_token: "gpuaas_sat_",
  node_bootstrap: "gpuaas_nbt_",
  node_credential: "gpuaas_node_",
  /** One-time sign-in ticket of a browser route (60 s). */
  ingress_ticket: "gpuaas_ikt_",
  /** Host-only session of one browser route (`__Host-gpuaas_app_session`). */
  app_session: "gpuaas_aps_",
  /** Per-endpoint API key of an API route. */
  endpoint_api_key: "gpuaas_epk_",
} as const;

/** A kind of secret the store mints. */
export type SecretKind = keyof typeof SECRET_PREFIXES;

/** A freshly minted secret: the plaintext goes to the caller once, only the hash is kept. */
export interface MintedSecret {
  readonly plaintext: string;
  readonly hash: string;
  readonly fingerprint: string;
}

/** 32 random bytes, base64url: 43 characters after the prefix. */
const SECRET_BODY = /^[A-Za-z0-9_-]{43}$/;

/** Mints a 256-bit secret of the given kind, e.g. `gpuaas_pat_…`. */
export function mintSecret(kind: SecretKind): MintedSecret {
  const plaintext = SECRET_PREFIXES[kind] + randomBytes(32).toString("base64url");
  const hash = hashSecret(plaintext);
  return { plaintext, hash, fingerprint: hash.slice(0, 12) };
}

/**
 * SHA-256 of a secret, lowercase hex. A plain digest (no salt, no slow KDF) is enough because the
 * secrets are 256 random bits, and it keeps lookup by hash a single indexed read.
 */
export function hashSecret(plaintext: string): string {
  return createHash("sha256").update(plaintext, "utf8").digest("hex");
}

/** True when `plaintext` has the form of a secret of `kind`; anything else is not looked up. */
export function isSecretOfKind(plaintext: string, kind: SecretKind): boolean {
  const prefix = SECRET_PREFIXES[kind];
  return plaintext.startsWith(prefix) && SECRET_BODY.test(plaintext.slice(prefix.length));
}

/** How logs name a token's holder: `token:<first 6 of its fingerprint>`. */
export function toLogIdentity(fingerprint: string): string {
  return `token:${fingerprint.slice(0, 6)}`;
}

/** A new random id (UUID v4). */
export function newId(): string {
  return randomUUID();
}

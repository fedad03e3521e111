/**
 * Redaction of anything that looks like a credential, applied by the control plane to what agents
 * send back (task results, container log lines) before it is stored, shown or logged. The agent
 * redacts too; this is the second net, so one forgetful handler cannot leak a pull secret, a
 * registry JWT or a platform token into events, results or a log view.
 */

/** What a redacted value is replaced with. */
export const REDACTED = "[REDACTED]";

/** Whole-token patterns: each match is replaced entirely. */
const TOKEN_PATTERNS: readonly RegExp[] = [
  // Platform secrets: user, service-account, bootstrap, node and pull tokens.
  /gpuaas_[a-z]{2,8}_[A-Za-z0-9_-]{20,}/g,
  // JWTs (a JOSE header and a claims set, both JSON objects in base64url).
  /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g,
  // PEM private keys.
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  // AWS access key ids.
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
];

/** Patterns that keep a label and replace the secret after it: `[pattern, replacement]`. */
const LABELLED_PATTERNS: readonly (readonly [RegExp, string])[] = [
  // `Authorization: Bearer x`, `Basic x`.
  [/\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${REDACTED}`],
  // `https://user:password@host`.
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+@/gi, `$1${REDACTED}@`],
  // `password=x`, `"token": "x"`, `API_KEY: x`.
  [
    /(\b(?:password|passwd|pwd|secret|token|access_token|refresh_token|api[_-]?key|access[_-]?key|client[_-]?secret|private[_-]?key|auth)\b["']?\s*[:=]\s*["']?)[^\s"',;&}]{3,}/gi,
    `$1${REDACTED}`,
  ],
  // `--password x`, `--token=x`.
  [/(--(?:password|token|secret|api-key)[= ])\S+/gi, `$1${REDACTED}`],
];

/** Object keys whose string values are secrets whatever they look like. */
const SECRET_KEY =
  /^(?:password|passwd|secret|token|access_token|refresh_token|id_token|api[_-]?key|authorization|private[_-]?key|client[_-]?secret|credential|credentials|pull_credential|node_credential|bootstrap_token)$/i;

/**
 * Replaces every credential-looking part of `text` with {@link REDACTED}, and every exact
 * occurrence of a `known` secret.
 *
 * @example redactText("login with Bearer eyJhbGciOi…") // "login with Bearer [REDACTED]"
 */
export function redactText(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const secret of known) {
    if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  for (const [pattern, replacement] of LABELLED_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Any JSON value. */
type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Redacts a JSON value deeply: every string through {@link redactText}, and the whole value of a
 * key named like a secret (`password`, `token`, `authorization`, …). Keys themselves are kept.
 */
export function redactJson<T>(value: T, known: readonly string[] = []): T {
  return redactValue(value as Json, known, 0) as T;
}

function redactValue(value: Json, known: readonly string[], depth: number): Json {
  if (typeof value === "string") return redactText(value, known);
  if (value === null || typeof value !== "object") return value;
  if (depth > 64) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, known, depth + 1));
  const out: { [key: string]: Json } = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && item !== null && typeof item !== "boolean"
        ? REDACTED
        : redactValue(item, known, depth + 1);
  }
  return out;
}

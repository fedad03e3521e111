/** What replaces a credential in any text the agent hands back. */
export const REDACTED = "[REDACTED]";

/** Turns text into text with no credential in it. */
export type Redactor = (text: string) => string;

const MIN_SECRET_LENGTH = 4;

// Shapes of credentials, whoever they belong to: HTTP authorization schemes, JWTs, user:password in
// URLs, the `auth` field of registry auth files and key=value pairs whose key names a secret.
const PATTERNS: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${REDACTED}`],
  // The control plane's pull secrets carry a recognisable prefix.
  [/\bgpuaas_[a-z]+_[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, `$1${REDACTED}@`],
  [
    /("(?:auth|identitytoken|registrytoken|password|token|access_token|secret)"\s*:\s*")[^"]*(")/gi,
    `$1${REDACTED}$2`,
  ],
  [
    /\b((?:[A-Za-z_]*_)?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)\s*[=:]\s*)("?)[^\s"'&,;]{8,}/gi,
    `$1$2${REDACTED}`,
  ],
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The spellings of a secret worth hiding: itself, URL-encoded and base64 (alone and as `user:secret`). */
function spellingsOf(secret: string, usernames: readonly string[]): string[] {
  const forms = new Set<string>([secret, encodeURIComponent(secret)]);
  forms.add(Buffer.from(secret).toString("base64"));
  for (const user of usernames) forms.add(Buffer.from(`${user}:${secret}`).toString("base64"));
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH);
}

/**
 * Creates a redactor that removes the given secrets (and their base64 and URL-encoded spellings)
 * and anything shaped like a bearer/basic credential, a JWT, `user:password@` in a URL or a
 * `token=`/`password=` value.
 *
 * @example
 * createRedactor(["s3cret"])("pulled with s3cret") // "pulled with [REDACTED]"
 */
export function createRedactor(
  secrets: readonly string[] = [],
  usernames: readonly string[] = [],
): Redactor {
  const literals = secrets
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
    .flatMap((secret) => spellingsOf(secret, usernames))
    .sort((a, b) => b.length - a.length);
  const literal =
    literals.length > 0 ? new RegExp(literals.map(escapeRegExp).join("|"), "g") : undefined;
  return (text) => {
    let out = literal === undefined ? text : text.replace(literal, REDACTED);
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    // A redaction may have joined two halves of a secret the first pass could not see whole.
    return literal === undefined ? out : out.replace(literal, REDACTED);
  };
}

/**
 * The last `maxBytes` bytes of `text` (UTF-8), marked when cut. Redact before cutting, so that a
 * credential is never split into a part the redactor cannot recognise.
 *
 * @example
 * toExcerpt("a".repeat(10_000), 4096).length <= 4096 + 40
 */
export function toExcerpt(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  // Do not start inside a multi-byte character.
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start += 1;
  return `[… ${start} bytes cut]\n${bytes.subarray(start).toString("utf8")}`;
}

/** Applies a redactor to every string inside a JSON-like value (a result, an event). */
export function redactDeep<T>(value: T, redact: Redactor): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactDeep(item, redact)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = redactDeep(item, redact);
    return out as T;
  }
  return value;
}

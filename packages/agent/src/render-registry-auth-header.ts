/**
 * Base64 with the URL-safe alphabet and with padding: Go's `base64.URLEncoding`, which podman uses
 * to decode `X-Registry-Auth` (Node's `base64url` drops the padding Go requires).
 */
export function toPaddedBase64Url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * The `X-Registry-Auth` header value for a pull from `registry`, built from a docker-style auth
 * file (`{"auths":{"<registry>":{"auth":"base64(user:password)"}}}`, what `renderAuthConfig`
 * writes): base64url of `{"username","password","serveraddress"}`. Undefined when the file has no
 * usable entry for the registry (the driver then sends an empty credential map instead).
 * The value is a credential: never log it.
 *
 * @example
 * renderRegistryAuthHeader('{"auths":{"127.0.0.1:5055":{"auth":"dTpw"}}}', "127.0.0.1:5055")
 * // base64url of {"username":"u","password":"p","serveraddress":"127.0.0.1:5055"}
 */
export function renderRegistryAuthHeader(authFile: string, registry: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(authFile);
  } catch {
    return undefined;
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null) return undefined;
  const entry = (auths as Record<string, unknown>)[registry];
  const auth = (entry as { auth?: unknown } | undefined)?.auth;
  if (typeof auth !== "string" || auth.length === 0) return undefined;
  const decoded = Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return toPaddedBase64Url(
    JSON.stringify({
      username: decoded.slice(0, colon),
      password: decoded.slice(colon + 1),
      serveraddress: registry,
    }),
  );
}

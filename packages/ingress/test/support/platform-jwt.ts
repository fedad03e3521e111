// The platform's short-lived identity assertion as the tests model it: an ES256 JWT whose
// audience is the route's public host, signed by a key the platform publishes as a JWKS, and
// the check a workload runs on it (signature, issuer, audience, expiry).
import {
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
  sign,
  verify,
} from "node:crypto";

/** A signing key and the JWKS that publishes it. */
export interface PlatformSigner {
  readonly jwks: { readonly keys: readonly JsonWebKey[] };
  sign(claims: Record<string, unknown>): string;
}

function toBase64Url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** Creates a P-256 key with a key id; `sign` makes a compact JWS. */
export function createPlatformSigner(): PlatformSigner {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = randomUUID();
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
  return {
    jwks: { keys: [jwk] },
    sign(claims) {
      const header = toBase64Url(JSON.stringify({ alg: "ES256", typ: "JWT", kid }));
      const payload = toBase64Url(JSON.stringify(claims));
      const signature = sign("sha256", Buffer.from(`${header}.${payload}`), {
        key: privateKey,
        dsaEncoding: "ieee-p1363",
      });
      return `${header}.${payload}.${toBase64Url(signature)}`;
    },
  };
}

/** Mints the assertion for one request: `sub` the user, `aud` the public host, 60 s of life. */
export function mintAssertion(
  signer: PlatformSigner,
  claims: { issuer: string; user: string; audience: string; routeId: string; now?: number },
): string {
  const now = claims.now ?? Math.floor(Date.now() / 1000);
  return signer.sign({
    iss: claims.issuer,
    sub: claims.user,
    aud: claims.audience,
    iat: now,
    exp: now + 60,
    jti: randomUUID(),
    route: claims.routeId,
  });
}

/** What a workload checks before trusting an assertion; throws on the first failure. */
export function verifyAssertion(
  token: string,
  jwks: { readonly keys: readonly JsonWebKey[] },
  expected: { issuer: string; audience: string; now?: number },
): Record<string, unknown> {
  const [header, payload, signature, ...extra] = token.split(".");
  if (
    header === undefined ||
    payload === undefined ||
    signature === undefined ||
    extra.length > 0
  ) {
    throw new Error("not a compact JWS");
  }
  const head = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as {
    alg?: string;
    kid?: string;
  };
  if (head.alg !== "ES256") throw new Error(`unexpected alg ${String(head.alg)}`);
  const jwk = jwks.keys.find((key) => (key as { kid?: string }).kid === head.kid);
  if (jwk === undefined) throw new Error("unknown kid");
  const key: KeyObject = createPublicKey({ key: jwk, format: "jwk" });
  const ok = verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    { key, dsaEncoding: "ieee-p1363" },
    Buffer.from(signature, "base64url"),
  );
  if (!ok) throw new Error("bad signature");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
  const now = expected.now ?? Math.floor(Date.now() / 1000);
  if (claims.iss !== expected.issuer) throw new Error("wrong issuer");
  if (claims.aud !== expected.audience) throw new Error("wrong audience");
  if (typeof claims.exp !== "number" || claims.exp <= now) throw new Error("expired");
  return claims;
}

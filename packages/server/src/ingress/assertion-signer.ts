/**
 * The platform's identity assertion for workloads (`X-Platform-Jwt-Assertion`): a compact ES256
 * JWS with `kid`, claims `iss`, `sub`, `aud` (the route's public host), `iat`, `exp` (60 s
 * later), `jti` and `route`. The P-256 key is a PEM file (by default in the data directory),
 * made on first use; its public half is published as a JWKS so workloads can verify.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
} from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from "jose";
import type { ServerConfig } from "../http/server-config.js";

/** How long an assertion is valid: long enough for one request, short enough not to matter if leaked. */
export const ASSERTION_TTL_SECONDS = 60;

/** A public key set as served at `/.well-known/jwks.json`. */
export interface JsonWebKeySet {
  readonly keys: readonly JWK[];
}

/** Signs identity assertions and publishes the key that verifies them. */
export interface AssertionSigner {
  /** One assertion for one request. */
  sign(claims: {
    readonly issuer: string;
    readonly subject: string;
    readonly audience: string;
    readonly routeId: string;
  }): Promise<string>;
  jwks(): Promise<JsonWebKeySet>;
}

interface SigningKey {
  readonly privateKey: KeyObject;
  readonly kid: string;
  readonly jwk: JWK;
}

/** The key file of a configuration: as given, or `<data-dir>/ingress/assertion-key.pem`. */
export function resolveAssertionKeyFile(config: ServerConfig): string {
  return resolve(
    config.ingress_signing_key_file ||
      join(resolve(config.data_dir), "ingress", "assertion-key.pem"),
  );
}

async function loadOrCreateKey(keyFile: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(keyFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const fresh = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    try {
      await writeFile(keyFile, fresh, { mode: 0o600, flag: "wx" });
      pem = fresh;
    } catch (writeError) {
      // Another replica or request made it first: use theirs.
      if ((writeError as NodeJS.ErrnoException).code !== "EEXIST") throw writeError;
      pem = await readFile(keyFile, "utf8");
    }
  }
  const privateKey = createPrivateKey(pem);
  if (
    privateKey.asymmetricKeyType !== "ec" ||
    privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1"
  ) {
    throw new Error(`the assertion key ${keyFile} is not a P-256 (ES256) key`);
  }
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  return { privateKey, kid, jwk: { ...publicJwk, kid, alg: "ES256", use: "sig" } };
}

/** Creates a signer whose key is read (or made) on first use. */
export function createAssertionSigner(options: {
  readonly keyFile: string;
  readonly now: () => Date;
}): AssertionSigner {
  let key: Promise<SigningKey> | undefined;
  const load = (): Promise<SigningKey> => {
    key ??= loadOrCreateKey(options.keyFile).catch((error: unknown) => {
      key = undefined;
      throw error;
    });
    return key;
  };
  return {
    async sign(claims) {
      const { privateKey, kid } = await load();
      const iat = Math.floor(options.now().getTime() / 1000);
      return new SignJWT({ route: claims.routeId })
        .setProtectedHeader({ alg: "ES256", typ: "JWT", kid })
        .setIssuer(claims.issuer)
        .setSubject(claims.subject)
        .setAudience(claims.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ASSERTION_TTL_SECONDS)
        .setJti(randomUUID())
        .sign(privateKey);
    },
    async jwks() {
      return { keys: [(await load()).jwk] };
    },
  };
}

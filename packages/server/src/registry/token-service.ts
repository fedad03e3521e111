/**
 * The platform registry's token service (CNCF distribution token-auth spec): short-lived RS256
 * JWTs with an `x5c` header, `aud` = the registry's service name, and an `access` claim that
 * grants `pull` on exactly one repository. Agents get them at `GET /api/v1/registry/token` with
 * a task's pull credential; the control plane mints its own to verify artifacts. A request for
 * anything else is answered with the intersection of what was asked and what is granted (often
 * nothing), never an error, as the spec requires; the registry then answers `insufficient_scope`.
 */
import { randomUUID } from "node:crypto";
import { join, resolve } from "node:path";
import { SignJWT } from "jose";
import type { ServerConfig } from "../http/server-config.js";
import type { BearerChallenge, TokenProvider } from "./registry-client.js";
import { loadOrCreateSigningMaterial, type SigningMaterial } from "./signing-material.js";

/** One entry of the JWT's `access` claim. */
export interface RepositoryAccess {
  readonly type: "repository";
  readonly name: string;
  readonly actions: readonly string[];
}

/** A scope a client asked for: `repository:<name>:<actions>`. */
export interface RequestedScope {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** The token endpoint's answer (`token` and `access_token` are the same JWT). */
export interface RegistryToken {
  readonly token: string;
  readonly access_token: string;
  readonly expires_in: number;
  readonly issued_at: string;
}

/** Mints registry tokens. */
export interface TokenService {
  /** The registry's `service`, the tokens' audience. */
  readonly service: string;
  readonly issuer: string;
  /** A JWT for `subject` carrying exactly `access`. */
  mint(input: {
    readonly subject: string;
    readonly access: readonly RepositoryAccess[];
  }): Promise<RegistryToken>;
  /** The certificate the registry trusts (its `rootcertbundle`), PEM; made on first use. */
  certificatePem(): Promise<string>;
}

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  readonly issuer: string;
  readonly service: string;
  readonly keyFile: string;
  readonly certFile: string;
  /** Token lifetime in seconds, 60 to 300. */
  readonly ttlSeconds: number;
  readonly now: () => Date;
}

/** Creates a token service; the key and certificate are read or made on first use. */
export function createTokenService(options: TokenServiceOptions): TokenService {
  let material: Promise<SigningMaterial> | undefined;
  const load = (): Promise<SigningMaterial> => {
    material ??= loadOrCreateSigningMaterial({
      keyFile: options.keyFile,
      certFile: options.certFile,
      commonName: `${options.issuer} registry token signer`,
      now: options.now(),
    }).catch((error: unknown) => {
      material = undefined;
      throw error;
    });
    return material;
  };
  return {
    service: options.service,
    issuer: options.issuer,
    async mint(input) {
      const { privateKey, certificateDer } = await load();
      const issued = options.now();
      const iat = Math.floor(issued.getTime() / 1000);
      const token = await new SignJWT({
        access: input.access.map((entry) => ({
          type: entry.type,
          name: entry.name,
          actions: [...entry.actions],
        })),
      })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", x5c: [certificateDer.toString("base64")] })
        .setIssuer(options.issuer)
        .setSubject(input.subject)
        // A string, not an array: distribution 2.8 reads `aud` as one string.
        .setAudience(options.service)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + options.ttlSeconds)
        .setJti(randomUUID())
        .sign(privateKey);
      return {
        token,
        access_token: token,
        expires_in: options.ttlSeconds,
        issued_at: new Date(iat * 1000).toISOString(),
      };
    },
    async certificatePem() {
      return (await load()).certificatePem;
    },
  };
}

/** The key and certificate paths of a configuration: as given, or in `<data-dir>/registry-token/`. */
export function resolveTokenKeyPaths(config: ServerConfig): {
  readonly keyFile: string;
  readonly certFile: string;
} {
  const dir = join(resolve(config.data_dir), "registry-token");
  return {
    keyFile: resolve(config.registry_token_key_file || join(dir, "key.pem")),
    certFile: resolve(config.registry_token_cert_file || join(dir, "cert.pem")),
  };
}

const services = new WeakMap<object, TokenService>();

/** The token service of one app (keyed by its context), created from its configuration. */
export function tokenServiceFor(context: {
  readonly config: ServerConfig;
  readonly now: () => Date;
}): TokenService {
  let service = services.get(context);
  if (service === undefined) {
    service = createTokenService({
      issuer: context.config.registry_token_issuer,
      service: context.config.registry_token_service,
      ...resolveTokenKeyPaths(context.config),
      ttlSeconds: context.config.registry_token_ttl_seconds,
      now: context.now,
    });
    services.set(context, service);
  }
  return service;
}

const SCOPE = /^([a-z0-9]+(?:\([a-z0-9]+\))?):([^:\s]+):([a-z*]+(?:,[a-z*]+)*)$/;

/** Parses `repository:<name>:pull,push`; undefined for anything that is not a scope. */
export function parseScope(scope: string): RequestedScope | undefined {
  const match = SCOPE.exec(scope.trim());
  if (match === null) return undefined;
  return {
    type: match[1] ?? "",
    name: match[2] ?? "",
    actions: (match[3] ?? "").split(","),
  };
}

/**
 * The access to grant for requested scopes when the holder may pull `repository` only: `pull` on
 * that repository if it was asked for (`*` counts as asking), nothing else.
 */
export function grantPullAccess(
  requested: readonly RequestedScope[],
  repository: string,
): RepositoryAccess[] {
  const wanted = requested.some(
    (scope) =>
      scope.type === "repository" &&
      scope.name === repository &&
      (scope.actions.includes("pull") || scope.actions.includes("*")),
  );
  return wanted ? [{ type: "repository", name: repository, actions: ["pull"] }] : [];
}

/**
 * A registry-client token hook for the control plane itself (artifact verification): answers a
 * challenge of this service's registry with a pull token for the repository the challenge names,
 * whatever else it asks for; any other challenge gets no token.
 */
export function createSelfTokenProvider(service: TokenService): TokenProvider {
  return async (challenge: BearerChallenge) => {
    if (challenge.service !== service.service || challenge.scope === undefined) return undefined;
    const scopes = challenge.scope
      .split(" ")
      .map(parseScope)
      .filter((scope): scope is RequestedScope => scope !== undefined);
    const first = scopes.find((scope) => scope.type === "repository");
    if (first === undefined) return undefined;
    const access = grantPullAccess(
      scopes.map((scope) => ({ ...scope, actions: ["pull"] })),
      first.name,
    );
    const minted = await service.mint({ subject: service.issuer, access });
    return minted.token;
  };
}

/**
 * Makes sure the signing key and certificate of a configuration exist (making them on first run)
 * and says where they are: `gpuaas up` calls it before listening so the operator can point the
 * registry's `auth.token.rootcertbundle` at `certFile`.
 */
export async function ensureRegistryTokenSigner(
  config: ServerConfig,
  now: Date = new Date(),
): Promise<{ readonly keyFile: string; readonly certFile: string; readonly created: boolean }> {
  const paths = resolveTokenKeyPaths(config);
  const material = await loadOrCreateSigningMaterial({
    ...paths,
    commonName: `${config.registry_token_issuer} registry token signer`,
    now,
  });
  return { ...paths, created: material.created };
}

/**
 * Parsing of the image references an operator registers: `registry-host[:port]/name` plus a
 * separate `sha256:` digest. Pure: no I/O, so every rule is unit- and property-tested.
 */

/** An OCI repository name (distribution's reference grammar, path components only). */
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
/** A registry host: a DNS name or an IPv4 address, an optional port. */
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?$/;
/** The only digest form the platform trusts. */
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** Longest repository accepted (distribution limits names to 255 characters). */
const MAX_REPOSITORY = 255 + 1 + 261;

/** Why a repository was refused, each with a stable code. */
export type RepositoryProblem =
  | { readonly code: "artifact.digest_required"; readonly message: string }
  | { readonly code: "artifact.foreign_registry"; readonly message: string }
  | { readonly code: "artifact.invalid_repository"; readonly message: string };

/** A repository split into its registry host and its name in that registry. */
export interface ParsedRepository {
  /** `host[:port]`, lower case, default port dropped. */
  readonly host: string;
  /** The repository name inside the registry, e.g. `jupyterlab/runtime-cpu`. */
  readonly name: string;
  /** `host/name`: the form stored on the artifact record. */
  readonly repository: string;
}

/** The registry host of a base URL (`https://reg.example:443/` → `reg.example`). */
export function toRegistryHost(registryUrl: string): string {
  const url = new URL(registryUrl);
  const defaultPort = url.protocol === "https:" ? "443" : "80";
  const port = url.port === "" || url.port === defaultPort ? "" : `:${url.port}`;
  return `${url.hostname.toLowerCase()}${port}`;
}

/**
 * Parses `registry-host[:port]/name` against the platform registry's host. A tag (`name:tag`) or
 * an embedded digest (`name@sha256:…`) is refused with `artifact.digest_required`: the deployable
 * reference is the digest, given on its own, never a mutable tag. A host other than the platform
 * registry is `artifact.foreign_registry`.
 *
 * @example parseRepository("127.0.0.1:5055/jupyterlab/runtime-cpu", "127.0.0.1:5055")
 */
export function parseRepository(
  input: string,
  registryHost: string,
):
  | { readonly ok: true; readonly value: ParsedRepository }
  | { readonly ok: false; readonly problem: RepositoryProblem } {
  if (input.length === 0 || input.length > MAX_REPOSITORY) {
    return fail("artifact.invalid_repository", `a repository is 1 to ${MAX_REPOSITORY} characters`);
  }
  if (input.includes("@")) {
    return fail(
      "artifact.digest_required",
      "give the repository without a digest and the digest in the digest field",
    );
  }
  const slash = input.indexOf("/");
  const first = slash < 0 ? input : input.slice(0, slash);
  const rest = slash < 0 ? "" : input.slice(slash + 1);
  // As in docker's reference grammar, the first component is a registry host only when it has a
  // dot or a port or is localhost; `name:tag` alone is a tag on a Docker Hub name.
  const looksLikeHost = first.includes(".") || first.includes(":") || first === "localhost";
  if (!looksLikeHost || rest === "") {
    if (/:[^/]*$/.test(input)) {
      return fail(
        "artifact.digest_required",
        `"${input}" names a tag; register the image by digest`,
      );
    }
    return fail(
      "artifact.foreign_registry",
      `the repository must start with the platform registry host, as "${registryHost}/${input}"`,
    );
  }
  if (rest.includes(":")) {
    return fail(
      "artifact.digest_required",
      `"${input}" names a tag; mutable tags are never the deployable reference, register the digest`,
    );
  }
  const host = normalizeHost(first);
  if (host === undefined)
    return fail("artifact.invalid_repository", `"${first}" is not a registry host`);
  if (host !== registryHost) {
    return fail(
      "artifact.foreign_registry",
      `artifacts come from the platform registry ${registryHost}, not ${host}`,
    );
  }
  if (!NAME.test(rest) || rest.length > 255) {
    return fail(
      "artifact.invalid_repository",
      `"${rest}" is not a repository name (lower-case path components of letters, digits and . _ -)`,
    );
  }
  return { ok: true, value: { host, name: rest, repository: `${host}/${rest}` } };
}

/** True for a digest the platform trusts: `sha256:` and 64 lower-case hex digits. */
export function isTrustedDigest(value: string): boolean {
  return DIGEST.test(value);
}

function normalizeHost(value: string): string | undefined {
  const lower = value.toLowerCase();
  if (!HOST.test(lower)) return undefined;
  const [name, port] = lower.split(":");
  if (port === undefined) return name;
  const number = Number(port);
  if (number < 1 || number > 65535) return undefined;
  return `${name}:${number}`;
}

function fail(
  code: RepositoryProblem["code"],
  message: string,
): { readonly ok: false; readonly problem: RepositoryProblem } {
  return { ok: false, problem: { code, message } };
}

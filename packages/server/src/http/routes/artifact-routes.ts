import {
  ACCELERATOR_VENDORS,
  type AcceleratorVendor,
  ARTIFACT_STATES,
  type ArtifactState,
  type ArtifactVariant,
  CPU_ARCHITECTURES,
  type CpuArchitecture,
  MEDIA_TYPES,
  type MediaType,
} from "@gpuaas/contract";
import type { FastifyInstance } from "fastify";
import {
  isTrustedDigest,
  parseRepository,
  toRegistryHost,
} from "../../registry/artifact-reference.js";
import { createRegistryClient, RegistryUnreachableError } from "../../registry/registry-client.js";
import { createSelfTokenProvider, tokenServiceFor } from "../../registry/token-service.js";
import { verifyManifest } from "../../registry/verify-manifest.js";
import {
  appendAudit,
  createArtifact,
  getAppVersion,
  getArtifact,
  isStoreError,
  listArtifacts,
  transitionArtifact,
} from "../../store/index.js";
import type { AppVersion, Artifact } from "../../store/types.js";
import { ApiError } from "../api-error.js";
import { isOperator } from "../authorize.js";
import type { AppContext } from "../build-app.js";
import { isNonEmpty, type RequestProblem, toActor, toProblemError } from "../route-problems.js";
import {
  errorResponse,
  errorResponses,
  idSchema,
  listResponse,
  objectResponse,
  slugSchema,
  versionSchema,
} from "../route-schemas.js";

const versionParams = {
  type: "object",
  additionalProperties: false,
  required: ["slug", "version"],
  properties: { slug: slugSchema, version: versionSchema },
} as const;

const artifactParams = {
  type: "object",
  additionalProperties: false,
  required: ["artifact_id"],
  properties: { artifact_id: idSchema },
} as const;

const labelSchema = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$",
} as const;

const registerBody = {
  type: "object",
  additionalProperties: false,
  required: ["artifact_name", "repository", "digest", "media_type", "accelerator"],
  properties: {
    artifact_name: {
      type: "string",
      minLength: 1,
      maxLength: 128,
      description: "The profile artifact variant's `artifact_name`.",
    },
    repository: {
      type: "string",
      minLength: 1,
      maxLength: 517,
      description: "`registry-host[:port]/name` in the platform registry, without tag or digest.",
      examples: ["127.0.0.1:5055/jupyterlab/runtime-cpu"],
    },
    // The digest's form is checked by the handler, so a tag gets its own code, not a pattern error.
    digest: {
      type: "string",
      minLength: 1,
      maxLength: 256,
      description: "`sha256:<64 hex>`; tags are refused.",
    },
    media_type: { type: "string", enum: MEDIA_TYPES },
    platform: {
      type: "object",
      additionalProperties: false,
      required: ["os", "architecture"],
      description: "The image platform; omit it for a multi-platform index.",
      properties: {
        os: { type: "string", minLength: 1, maxLength: 32, pattern: "^[a-z0-9]+$" },
        architecture: { type: "string", enum: CPU_ARCHITECTURES },
      },
    },
    accelerator: {
      type: "object",
      additionalProperties: false,
      required: ["vendor"],
      properties: {
        vendor: { type: "string", enum: ACCELERATOR_VENDORS },
        family: labelSchema,
        sku: labelSchema,
      },
    },
  },
} as const;

interface RegisterBody {
  readonly artifact_name: string;
  readonly repository: string;
  readonly digest: string;
  readonly media_type: MediaType;
  readonly platform?: { readonly os: string; readonly architecture: CpuArchitecture };
  readonly accelerator: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
}

/** Operator-driven moves; `verified` is reached only through the registry check. */
const OPERATOR_TRANSITIONS = ["published", "promoted", "retired"] as const;
type OperatorTransition = (typeof OPERATOR_TRANSITIONS)[number];

/** The order problems are reported in: the reference first, then the metadata. */
const PRIORITY: readonly RequestProblem["code"][] = [
  "artifact.digest_required",
  "artifact.foreign_registry",
  "artifact.invalid_repository",
  "artifact.unknown_variant",
  "artifact.variant_mismatch",
];

/** States a caller without the operator role sees: the launchable ones. */
const VISIBLE_STATES: readonly ArtifactState[] = ["published", "promoted"];

/**
 * Artifact routes: operators register images of an app version by digest from the platform
 * registry, verify them against the registry over the OCI distribution API, and move them along
 * `pending → verified → published → promoted` (or `retired`).
 */
export function registerArtifactRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;
  const registryHost = toRegistryHost(context.config.registry_url);
  // A token-auth registry challenges the verify; the control plane mints itself a pull token.
  const registry = createRegistryClient({
    baseUrl: context.config.registry_url,
    getToken: createSelfTokenProvider(tokenServiceFor(context)),
  });

  api.post<{ Params: { slug: string; version: string }; Body: RegisterBody }>(
    "/apps/catalog/:slug/versions/:version/artifacts",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["artifacts"],
        summary: "Register an image of an app version by digest (state pending)",
        params: versionParams,
        body: registerBody,
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const version = await loadVersion(request.params.slug, request.params.version, true);
      const body = request.body;
      const problems: RequestProblem[] = [];
      if (!isTrustedDigest(body.digest)) {
        problems.push({
          pointer: "/body/digest",
          code: "artifact.digest_required",
          message: /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(body.digest)
            ? `"${body.digest}" is a tag; mutable tags are never the deployable reference, give sha256:<64 hex>`
            : "the digest must be sha256:<64 lower-case hex>",
        });
      }
      const parsed = parseRepository(body.repository, registryHost);
      if (!parsed.ok) problems.push({ pointer: "/body/repository", ...parsed.problem });
      const variant = Object.values(version.profile.artifacts).find(
        (entry) => entry.artifact_name === body.artifact_name,
      );
      if (variant === undefined) {
        const known = Object.values(version.profile.artifacts).map((entry) => entry.artifact_name);
        problems.push({
          pointer: "/body/artifact_name",
          code: "artifact.unknown_variant",
          message: `"${body.artifact_name}" is not an artifact of ${version.app_slug} ${version.version}; it has ${known.join(", ")}`,
        });
      } else {
        problems.push(...checkVariant(body, variant));
      }
      problems.sort((a, b) => PRIORITY.indexOf(a.code) - PRIORITY.indexOf(b.code));
      if (isNonEmpty(problems) || !parsed.ok) {
        throw isNonEmpty(problems)
          ? toProblemError(problems, `the artifact has ${problems.length} problems; see issues`)
          : new ApiError("artifact.invalid_repository", "the repository is not valid");
      }
      const artifact = await createArtifact(db, {
        app_version_id: version.id,
        artifact_name: body.artifact_name,
        repository: parsed.value.repository,
        digest: body.digest,
        media_type: body.media_type,
        accelerator: body.accelerator,
        ...(body.platform !== undefined ? { platform: body.platform } : {}),
      });
      await appendAudit(db, {
        actor: toActor(request.principal),
        action: "artifact.registered",
        target: `artifact:${artifact.id}`,
        correlation_id: request.id,
        data: {
          app_slug: version.app_slug,
          version: version.version,
          repository: artifact.repository,
          digest: artifact.digest,
        },
      });
      return reply.status(201).send(artifact);
    },
  );

  api.get<{ Params: { slug: string; version: string }; Querystring: { state?: ArtifactState } }>(
    "/apps/catalog/:slug/versions/:version/artifacts",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["artifacts"],
        summary:
          "List an app version's artifacts (operators see every state, others the launchable ones)",
        params: versionParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { state: { type: "string", enum: ARTIFACT_STATES } },
        },
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const operator = request.principal !== undefined && isOperator(request.principal);
      const version = await loadVersion(request.params.slug, request.params.version, operator);
      const wanted = request.query.state;
      const allowed = operator ? ARTIFACT_STATES : VISIBLE_STATES;
      const states = allowed.filter((state) => wanted === undefined || state === wanted);
      return { items: await listArtifacts(db, { app_version_id: version.id, states }) };
    },
  );

  api.get<{ Params: { artifact_id: string } }>(
    "/artifacts/:artifact_id",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["artifacts"],
        summary: "Read an artifact",
        params: artifactParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => loadArtifact(request.params.artifact_id),
  );

  api.post<{ Params: { artifact_id: string } }>(
    "/artifacts/:artifact_id/verify",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["artifacts"],
        summary:
          "Check the artifact's digest and media type against the registry; pending → verified",
        description:
          "HEAD /v2/<name>/manifests/<digest> on the platform registry (GET and hash when it sends no Docker-Content-Digest). " +
          "artifact.verify_failed (422) carries the reason in details; artifact.registry_unreachable (502) when the registry does not answer.",
        params: artifactParams,
        response: { 200: objectResponse, ...errorResponses, 502: errorResponse },
      },
    },
    async (request) => {
      const artifact = await loadArtifact(request.params.artifact_id);
      if (artifact.state === "retired") {
        throw new ApiError(
          "artifact.illegal_transition",
          `artifact ${artifact.id} is retired and cannot be verified`,
          {
            details: { from: artifact.state, to: "verified" },
          },
        );
      }
      const parsed = parseRepository(artifact.repository, registryHost);
      if (!parsed.ok) {
        throw new ApiError(
          "artifact.verify_failed",
          `the artifact is not in the platform registry ${registryHost}`,
          {
            details: { reason: "foreign_registry", repository: artifact.repository },
          },
        );
      }
      let verification: Awaited<ReturnType<typeof verifyManifest>>;
      try {
        verification = await verifyManifest(registry, {
          name: parsed.value.name,
          digest: artifact.digest,
          media_type: artifact.media_type,
        });
      } catch (error) {
        if (!(error instanceof RegistryUnreachableError)) throw error;
        request.log.warn(
          { registry: registry.baseUrl, reason: error.reason },
          "registry unreachable",
        );
        throw new ApiError("artifact.registry_unreachable", error.message, {
          details: {
            reason: error.reason,
            registry: registryHost,
            ...(error.status !== undefined ? { status: error.status } : {}),
          },
        });
      }
      const actor = toActor(request.principal);
      if (!verification.ok) {
        await appendAudit(db, {
          actor,
          action: "artifact.verify_failed",
          target: `artifact:${artifact.id}`,
          correlation_id: request.id,
          data: { reason: verification.reason },
        });
        throw new ApiError("artifact.verify_failed", verification.message, {
          details: {
            reason: verification.reason,
            repository: artifact.repository,
            digest: artifact.digest,
            ...verification.details,
          },
        });
      }
      const verified = artifact.state === "pending" ? await markVerified(artifact.id) : artifact;
      await appendAudit(db, {
        actor,
        action: "artifact.verified",
        target: `artifact:${artifact.id}`,
        correlation_id: request.id,
        data: {
          digest: verification.descriptor.digest,
          media_type: verification.descriptor.media_type,
          digest_source: verification.descriptor.digest_source,
        },
      });
      return verified;
    },
  );

  api.post<{ Params: { artifact_id: string }; Body: { to: OperatorTransition } }>(
    "/artifacts/:artifact_id/transitions",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["artifacts"],
        summary: "Publish, promote or retire an artifact",
        params: artifactParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["to"],
          properties: { to: { type: "string", enum: OPERATOR_TRANSITIONS } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const before = await loadArtifact(request.params.artifact_id);
      const artifact = await transitionArtifact(db, {
        id: before.id,
        to: request.body.to,
        now: context.now(),
      });
      await appendAudit(db, {
        actor: toActor(request.principal),
        action: `artifact.${request.body.to}`,
        target: `artifact:${artifact.id}`,
        correlation_id: request.id,
        data: { from: before.state, to: artifact.state },
      });
      return artifact;
    },
  );

  /** The app version, or `resource.not_found`; callers without the operator role see published ones only. */
  async function loadVersion(
    slug: string,
    label: string,
    includeUnpublished: boolean,
  ): Promise<AppVersion> {
    const version = await getAppVersion(db, slug, label);
    if (version === undefined || (!includeUnpublished && !version.published)) {
      throw new ApiError("resource.not_found", `no version "${label}" of "${slug}"`);
    }
    return version;
  }

  async function loadArtifact(id: string): Promise<Artifact> {
    const artifact = await getArtifact(db, id);
    if (artifact === undefined) throw new ApiError("resource.not_found", `no artifact ${id}`);
    return artifact;
  }

  /** pending → verified; a concurrent verify that won the race is not an error. */
  async function markVerified(id: string): Promise<Artifact> {
    try {
      return await transitionArtifact(db, { id, to: "verified", now: context.now() });
    } catch (error) {
      if (!isStoreError(error, "artifact.illegal_transition")) throw error;
      const current = await loadArtifact(id);
      if (current.state === "retired") throw error;
      return current;
    }
  }
}

/** Where the record's trusted metadata contradicts the profile's variant it claims to implement. */
function checkVariant(body: RegisterBody, variant: ArtifactVariant): RequestProblem[] {
  const problems: RequestProblem[] = [];
  const mismatch = (pointer: string, message: string): void => {
    problems.push({ pointer, code: "artifact.variant_mismatch", message });
  };
  const expectedVendor = variant.accelerator?.vendor ?? "none";
  const { vendor, family, sku } = body.accelerator;
  if (vendor !== expectedVendor) {
    mismatch(
      "/body/accelerator/vendor",
      `variant ${variant.artifact_name} targets ${expectedVendor}, not ${vendor}`,
    );
  }
  if (vendor === "none" && (family !== undefined || sku !== undefined)) {
    mismatch("/body/accelerator", "a CPU-only artifact has no accelerator family or SKU");
  }
  const expectedFamily = variant.accelerator?.family;
  if (family !== undefined && expectedFamily !== undefined && family !== expectedFamily) {
    mismatch(
      "/body/accelerator/family",
      `variant ${variant.artifact_name} targets family ${expectedFamily}, not ${family}`,
    );
  }
  const skus = variant.accelerator?.skus;
  if (sku !== undefined && skus !== undefined && !skus.includes(sku)) {
    mismatch(
      "/body/accelerator/sku",
      `variant ${variant.artifact_name} targets ${skus.join(", ")}, not ${sku}`,
    );
  }
  const architectures = variant.cpu_architectures;
  if (
    body.platform !== undefined &&
    architectures !== undefined &&
    !architectures.includes(body.platform.architecture)
  ) {
    mismatch(
      "/body/platform/architecture",
      `variant ${variant.artifact_name} is built for ${architectures.join(", ")}, not ${body.platform.architecture}`,
    );
  }
  return problems;
}

import { checkAuthoringGate, validateProfile } from "@gpuaas/contract";
import type { FastifyInstance } from "fastify";
import {
  getApp,
  getAppVersion,
  listApps,
  listAppVersionSummaries,
  listAppVersions,
  listEntitlements,
  registerAppVersion,
  setAppVersionPublished,
  setEntitlement,
} from "../../store/index.js";
import type { JsonValue } from "../../store/types.js";
import { ApiError } from "../api-error.js";
import { isOperator } from "../authorize.js";
import type { AppContext } from "../build-app.js";
import {
  errorResponses,
  listResponse,
  objectResponse,
  projectParams,
  slugSchema,
  versionSchema,
} from "../route-schemas.js";

const slugParams = {
  type: "object",
  additionalProperties: false,
  required: ["slug"],
  properties: { slug: slugSchema },
} as const;
const versionParams = {
  type: "object",
  additionalProperties: false,
  required: ["slug", "version"],
  properties: { slug: slugSchema, version: versionSchema },
} as const;

/** Catalog and entitlement routes (seed 001: "Catalog and entitlement"). */
export function registerCatalogRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;

  api.get(
    "/apps/catalog",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["catalog"],
        summary: "List the app catalog",
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const operator = request.principal !== undefined && isOperator(request.principal);
      // Two queries for the whole catalog, and no manifest loaded: the listing shows three fields.
      const [apps, summaries] = await Promise.all([
        listApps(db),
        listAppVersionSummaries(db, { published_only: !operator }),
      ]);
      const items = apps
        .map((app) => ({
          ...app,
          versions: summaries
            .filter((summary) => summary.app_slug === app.slug)
            .map(({ version, published, created_at }) => ({ version, published, created_at })),
        }))
        .filter((app) => app.versions.length > 0);
      return { items };
    },
  );

  api.get<{ Params: { slug: string } }>(
    "/apps/catalog/:slug/versions",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["catalog"],
        summary: "List an app's versions with their manifest and normalized profile preview",
        params: slugParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const operator = request.principal !== undefined && isOperator(request.principal);
      const app = await getApp(db, request.params.slug);
      const versions =
        app === undefined ? [] : await listAppVersions(db, app.slug, { published_only: !operator });
      if (versions.length === 0)
        throw new ApiError("resource.not_found", `no app "${request.params.slug}" in the catalog`);
      return { items: versions };
    },
  );

  api.post<{
    Params: { slug: string };
    Body: { version: string; manifest: JsonValue; published?: boolean };
  }>(
    "/apps/catalog/:slug/versions",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["catalog"],
        summary: "Register an app version from a profile manifest (validated and gated)",
        params: slugParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["version", "manifest"],
          properties: {
            version: versionSchema,
            manifest: { type: "object" },
            published: { type: "boolean" },
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { version, manifest, published } = request.body;
      const validation = validateProfile(manifest);
      if (!validation.ok || validation.profile === undefined) {
        throw new ApiError("profile.invalid", "the manifest breaks the profile contract", {
          issues: validation.issues.filter((issue) => issue.severity === "error"),
        });
      }
      if (validation.profile.profile.slug !== request.params.slug) {
        throw new ApiError(
          "profile.invalid",
          `the manifest's profile.slug "${validation.profile.profile.slug}" is not "${request.params.slug}"`,
        );
      }
      const gate = checkAuthoringGate(manifest);
      if (!gate.ready) {
        throw new ApiError(
          "profile.gate_failed",
          "the manifest does not pass the config-only authoring gate",
          {
            details: { failed: gate.points.filter((point) => point.status === "fail") },
          },
        );
      }
      const created = await registerAppVersion(db, {
        version,
        manifest,
        profile: validation.profile,
        gate_report: gate,
        published: published ?? false,
      });
      return reply.status(201).send(created);
    },
  );

  api.post<{ Params: { slug: string; version: string }; Body: { published: boolean } }>(
    "/apps/catalog/:slug/versions/:version/publication",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["catalog"],
        summary: "Publish or unpublish an app version",
        params: versionParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["published"],
          properties: { published: { type: "boolean" } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const existing = await getAppVersion(db, request.params.slug, request.params.version);
      if (existing === undefined)
        throw new ApiError(
          "resource.not_found",
          `no version "${request.params.version}" of "${request.params.slug}"`,
        );
      return setAppVersionPublished(db, existing.id, request.body.published);
    },
  );

  api.get<{ Params: { project_id: string } }>(
    "/projects/:project_id/apps/entitlements",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["catalog"],
        summary: "List a project's app entitlements",
        params: projectParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => ({ items: await listEntitlements(db, request.params.project_id) }),
  );

  api.put<{ Params: { project_id: string; slug: string }; Body: { enabled: boolean } }>(
    "/projects/:project_id/apps/entitlements/:slug",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["catalog"],
        summary: "Entitle a project to an app, or withdraw it",
        params: {
          type: "object",
          additionalProperties: false,
          required: ["project_id", "slug"],
          properties: { project_id: projectParams.properties.project_id, slug: slugSchema },
        },
        body: {
          type: "object",
          additionalProperties: false,
          required: ["enabled"],
          properties: { enabled: { type: "boolean" } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      if ((await getApp(db, request.params.slug)) === undefined) {
        throw new ApiError("resource.not_found", `no app "${request.params.slug}" in the catalog`);
      }
      return setEntitlement(db, {
        project_id: request.params.project_id,
        app_slug: request.params.slug,
        enabled: request.body.enabled,
      });
    },
  );
}

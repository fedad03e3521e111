import type { FastifyInstance } from "fastify";
import { listAudit } from "../../store/index.js";
import type { AppContext } from "../build-app.js";
import { errorResponses, listResponse, projectParams } from "../route-schemas.js";

const pageQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    after: { type: "string", pattern: "^[0-9]{1,19}$" },
    limit: { type: "string", pattern: "^[0-9]{1,3}$" },
  },
} as const;

type PageQuery = { after?: string; limit?: string };

function toFilter(query: PageQuery): { after?: string; limit?: number } {
  return {
    ...(query.after !== undefined ? { after: query.after } : {}),
    ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}),
  };
}

/** The audit log: who did what, to what, under which correlation id. */
export function registerAuditRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;

  api.get<{ Params: { project_id: string }; Querystring: PageQuery }>(
    "/projects/:project_id/audit",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["audit"],
        summary: "Read a project's audit log, oldest first (cursor paged)",
        params: projectParams,
        querystring: pageQuery,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) =>
      listAudit(db, { project_id: request.params.project_id, ...toFilter(request.query) }),
  );

  api.get<{ Querystring: PageQuery }>(
    "/audit",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["audit"],
        summary: "Read the whole platform's audit log, oldest first (cursor paged)",
        querystring: pageQuery,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => listAudit(db, toFilter(request.query)),
  );
}

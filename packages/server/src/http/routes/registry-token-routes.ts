/**
 * The registry token endpoint (CNCF distribution token-auth spec) that the platform registry
 * names as its `realm`. Callers authenticate with a leased task's pull credential (HTTP Basic) and
 * get a short-lived JWT granting `pull` on that task's repository, whatever else they ask for.
 */
import type { FastifyInstance } from "fastify";
import {
  grantPullAccess,
  parseScope,
  type RequestedScope,
  tokenServiceFor,
} from "../../registry/token-service.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import { errorResponses } from "../route-schemas.js";

const scopeSchema = { type: "string", maxLength: 1024 } as const;

/** `GET /registry/token`. */
export function registerRegistryTokenRoutes(api: FastifyInstance, context: AppContext): void {
  const tokens = tokenServiceFor(context);

  api.get<{
    Querystring: { service?: string; scope?: string | string[]; account?: string };
  }>(
    "/registry/token",
    {
      config: { permission: "registry_pull" },
      schema: {
        tags: ["registry"],
        summary: "Mint a registry pull token for a leased task (distribution token auth)",
        description:
          "HTTP Basic auth with the pull_credential of a workload.oci_launch lease. Grants pull on the task's repository only: any other scope is left out of the token (the registry then answers insufficient_scope). 401 when the credential is unknown, wrong or expired with its lease.",
        querystring: {
          type: "object",
          additionalProperties: true,
          properties: {
            service: { type: "string", maxLength: 256 },
            scope: { anyOf: [scopeSchema, { type: "array", maxItems: 16, items: scopeSchema }] },
            account: { type: "string", maxLength: 256 },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["token", "access_token", "expires_in", "issued_at"],
            properties: {
              token: { type: "string" },
              access_token: { type: "string" },
              expires_in: { type: "integer" },
              issued_at: { type: "string" },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const grant = request.pullGrant;
      if (grant === undefined) throw new Error("registry token route reached without a grant");
      const { service, scope } = request.query;
      if (service !== undefined && service !== tokens.service) {
        throw new ApiError(
          "request.invalid",
          `this token service issues tokens for the registry service "${tokens.service}", not "${service}"`,
        );
      }
      // Several scopes may come as repeated parameters or space-separated in one.
      const requested = (Array.isArray(scope) ? scope : scope === undefined ? [] : [scope])
        .flatMap((item) => item.split(" "))
        .map(parseScope)
        .filter((item): item is RequestedScope => item !== undefined);
      const access = grantPullAccess(requested, grant.repository);
      const minted = await tokens.mint({ subject: grant.username, access });
      request.log.info(
        {
          task_id: grant.task_id,
          correlation_id_of_task: grant.correlation_id,
          granted: access.map((entry) => `${entry.type}:${entry.name}:${entry.actions.join(",")}`),
          requested: requested.length,
        },
        "registry token issued",
      );
      reply.header("cache-control", "no-store");
      reply.header("pragma", "no-cache");
      return minted;
    },
  );
}

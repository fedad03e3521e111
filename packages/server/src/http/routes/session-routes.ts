import type { FastifyInstance } from "fastify";
import { authenticateToken, createToken, revokeToken } from "../../store/index.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import { errorResponses, objectResponse } from "../route-schemas.js";
import { SESSION_TTL_SECONDS, toSessionCookie } from "../session-cookie.js";

/**
 * Browser sessions: a user trades a bearer token for an HttpOnly cookie holding a session token of
 * its own (12 h, revocable), so the console never keeps a credential where scripts can read it.
 */
export function registerSessionRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;

  api.post<{ Body: { token: string } }>(
    "/sessions",
    {
      config: { permission: "public" },
      schema: {
        tags: ["sessions"],
        summary: "Sign in: exchange a user's bearer token for a browser session cookie",
        security: [],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["token"],
          properties: { token: { type: "string", minLength: 1, maxLength: 512 } },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = context.now();
      const principal = await authenticateToken(db, request.body.token, now);
      if (principal === undefined) {
        throw new ApiError("auth.invalid_token", "the token is unknown, revoked or expired");
      }
      if (principal.kind !== "user") {
        throw new ApiError(
          "auth.session_needs_user",
          "service-account tokens cannot open a browser session",
        );
      }
      const expires = new Date(now.getTime() + SESSION_TTL_SECONDS * 1000);
      const { token, plaintext } = await createToken(db, {
        owner: { kind: "user", user_id: principal.user.id },
        name: "browser session",
        expires_at: expires,
      });
      request.log.info(
        { identity: `token:${token.fingerprint.slice(0, 6)}` },
        "browser session opened",
      );
      const secure = request.protocol === "https";
      return reply
        .status(201)
        .header("set-cookie", toSessionCookie(plaintext, SESSION_TTL_SECONDS, secure))
        .header("cache-control", "no-store")
        .send({ user: principal.user, expires_at: expires.toISOString() });
    },
  );

  api.delete(
    "/sessions/current",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["sessions"],
        summary: "Sign out: end the browser session",
        response: { 204: { type: "null" }, ...errorResponses },
      },
    },
    async (request, reply) => {
      if (request.authenticatedBy === "session" && request.principal !== undefined) {
        await revokeToken(db, request.principal.token_id, context.now());
      }
      return reply
        .status(204)
        .header("set-cookie", toSessionCookie("", 0, request.protocol === "https"))
        .send();
    },
  );
}

/**
 * Authentication of machine callers, kept apart from user tokens on purpose: agent routes accept
 * only a node credential, the registry token endpoint only a task's pull credential (HTTP Basic),
 * and a node credential is refused on every user route. Codes: `auth.missing_token` and
 * `auth.invalid_token` (401) for absent or unknown credentials, `auth.forbidden` (403) for a
 * valid credential of the wrong kind.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { authenticateNode, authenticateToken, type Node, toLogIdentity } from "../store/index.js";
import { hashSecret, isSecretOfKind } from "../store/mint-secret.js";
import { findPullGrant, type PullGrant } from "../store/pull-credentials.js";
import { ApiError } from "./api-error.js";
import type { MachinePermission } from "./authorize.js";
import type { AppContext } from "./build-app.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The node whose agent calls; set on routes with the `node` permission. */
    agentNode?: Node;
    /** What the caller's pull credential grants; set on the registry token endpoint. */
    pullGrant?: PullGrant;
  }
}

function readAuthorization(request: FastifyRequest): { scheme: string; value: string } | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^([A-Za-z]+) +([^\s]+)$/.exec(header.trim());
  if (match === null) return undefined;
  return { scheme: (match[1] ?? "").toLowerCase(), value: match[2] ?? "" };
}

/** Authenticates a call to a route with a {@link MachinePermission}, or throws. */
export async function authenticateMachine(
  context: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  permission: MachinePermission,
): Promise<void> {
  const credential = readAuthorization(request);
  if (permission === "registry_pull") {
    if (credential === undefined || credential.scheme !== "basic") {
      throw new ApiError(
        credential === undefined ? "auth.missing_token" : "auth.invalid_token",
        "the registry token endpoint takes a task's pull credential (username and password from the lease) as HTTP Basic auth",
      );
    }
    const decoded = Buffer.from(credential.value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const grant =
      colon < 0
        ? undefined
        : await findPullGrant(context.store.db, {
            username: decoded.slice(0, colon),
            password: decoded.slice(colon + 1),
            now: context.now(),
          });
    if (grant === undefined) {
      throw new ApiError(
        "auth.invalid_token",
        "the pull credential is unknown or wrong, or it expired with its task's lease",
      );
    }
    request.pullGrant = grant;
    setIdentity(request, reply, `task:${grant.task_id}`);
    return;
  }
  if (credential === undefined || credential.scheme !== "bearer") {
    throw new ApiError(
      "auth.missing_token",
      "send the node credential from POST /api/v1/agent/register as a bearer token",
    );
  }
  const token = credential.value;
  if (!isSecretOfKind(token, "node_credential")) {
    const principal = await authenticateToken(context.store.db, token, context.now());
    if (principal === undefined) {
      throw new ApiError("auth.invalid_token", "the bearer token is unknown, revoked or expired");
    }
    throw new ApiError(
      "auth.forbidden",
      "agent routes take a node credential; user and service-account tokens cannot call them",
    );
  }
  const node = await authenticateNode(context.store.db, token);
  if (node === undefined) {
    throw new ApiError(
      "auth.invalid_token",
      "the node credential is unknown, was replaced by a newer registration, or its node is retired",
    );
  }
  request.agentNode = node;
  setIdentity(request, reply, toLogIdentity(hashSecret(token).slice(0, 12)), node.id);
}

function setIdentity(
  request: FastifyRequest,
  reply: FastifyReply,
  identity: string,
  nodeId?: string,
): void {
  request.log = request.log.child({
    identity,
    ...(nodeId !== undefined ? { node_id: nodeId } : {}),
  });
  reply.log = request.log;
}

/**
 * Called when a bearer token is not a valid user or service-account token: a valid node
 * credential gets 403 `auth.forbidden` (it is known, just not allowed here) instead of 401.
 */
export async function refuseNodeCredential(context: AppContext, token: string): Promise<void> {
  if (!isSecretOfKind(token, "node_credential")) return;
  if ((await authenticateNode(context.store.db, token)) === undefined) return;
  throw new ApiError(
    "auth.forbidden",
    "a node credential calls only the agent routes under /api/v1/agent",
  );
}

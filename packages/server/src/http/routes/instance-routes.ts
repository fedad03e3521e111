import {
  createIssue,
  type Issue,
  type ResolvedLaunch,
  resolveLaunch,
  type WorkloadProfile,
} from "@gpuaas/contract";
import {
  type AdapterInput,
  type NodeTaskSpec,
  renderOciControl,
  renderOciLaunch,
  renderOciRemove,
  toPendingState,
} from "@gpuaas/engines";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from "fastify";
import { taskSignalFor } from "../../reconcile/task-signal.js";
import {
  appendAudit,
  appendEvent,
  canTransition,
  createInstanceWithTask,
  enqueueTask,
  getAllocation,
  getAppVersion,
  getAppVersionById,
  getInstance,
  hashRequest,
  INSTANCE_TRANSITIONS,
  inTransaction,
  isEntitled,
  isStoreError,
  listArtifacts,
  listClaimedGpuIndices,
  listEvents,
  listInstanceMembers,
  listInstances,
  newId,
  reviseInstance,
  runIdempotent,
  type StoreDb,
  transitionInstance,
} from "../../store/index.js";
import {
  findRollbackTarget,
  lockAllocation,
  removeInstance,
} from "../../store/instance-operations.js";
import type {
  Allocation,
  AppVersion,
  DesiredState,
  Instance,
  JsonObject,
  JsonValue,
} from "../../store/types.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import {
  LAUNCH_CHECKS,
  type LaunchPlan,
  runLaunchPreflight,
  toRegistryHost,
} from "../launch-preflight.js";
import { toActor } from "../route-problems.js";
import {
  errorResponse,
  errorResponses,
  idSchema,
  listResponse,
  objectResponse,
  projectParams,
  slugSchema,
  versionSchema,
} from "../route-schemas.js";

const instanceParams = {
  type: "object",
  additionalProperties: false,
  required: ["project_id", "instance_id"],
  properties: { project_id: idSchema, instance_id: idSchema },
} as const;

/** `?after=&limit=`; the limit is a string because query values are not coerced. */
function pageQuery(after: Readonly<Record<string, unknown>>) {
  return {
    type: "object",
    additionalProperties: false,
    properties: { after, limit: { type: "string", pattern: "^[0-9]{1,4}$" } },
  } as const;
}

/**
 * The launch body, for the OpenAPI document. The contract's `resolveLaunch` is its one validator
 * (the API, the CLI and the wizard must never disagree), so the route does not check it again.
 */
const launchBody = {
  type: "object",
  description:
    "The seed's launch request values. Validated by the profile contract, not by this schema: refusals come back as 422 launch.invalid with one issue per problem.",
  required: ["app_slug", "app_version", "placement_intent"],
  properties: {
    app_slug: slugSchema,
    app_version: versionSchema,
    display_name: { type: "string", maxLength: 128 },
    placement_intent: {
      type: "object",
      required: ["target_allocation_id"],
      properties: { target_allocation_id: idSchema },
    },
    artifact_id: {
      ...idSchema,
      description: "An artifact of the version; the platform picks one when absent.",
    },
    config: { type: "object", additionalProperties: true },
    resource_overrides: {
      type: "object",
      properties: {
        gpu_count: { type: "integer", minimum: 0 },
        cpu_cores: { type: "integer", minimum: 0 },
        memory_gib: { type: "integer", minimum: 0 },
      },
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: true, coerceTypes: false, strict: false });
/** Validates params and query as usual and leaves the body to the contract. */
const contractValidatesBody: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  httpPart === "body" ? () => true : ajv.compile(schema as object);

const launchErrors = { ...errorResponses, 503: errorResponse } as const;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const APP_SLUG = new RegExp(slugSchema.pattern);
const APP_VERSION = new RegExp(versionSchema.pattern);

type ControlAction = "stop" | "start" | "restart";
type Action = ControlAction | "decommission";

/** What each action asks for and the observed state it moves the instance into. */
const ACTIONS: Record<Action, { readonly desired: DesiredState; readonly to: Instance["state"] }> =
  {
    stop: { desired: "stopped", to: "stopping" },
    start: { desired: "running", to: "starting" },
    restart: { desired: "running", to: "restarting" },
    decommission: { desired: "decommissioned", to: "decommissioning" },
  };

/** The launch settings an instance keeps in `resolved_values`, replayed by upgrade and rollback. */
interface StoredLaunch {
  readonly config?: JsonObject;
  readonly resources?: JsonObject;
}

/** The response of a mutating route, as runIdempotent stores and replays it. */
interface Outcome {
  readonly status: number;
  readonly body: JsonValue;
  /** The node whose agent has a new task: its lease poll is woken once the work commits. */
  readonly wake?: string;
}

/** App instance routes: launch with the nine-check preflight, reads, lifecycle, upgrade, rollback. */
export function registerInstanceRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;
  const signal = taskSignalFor(context);
  const env = {
    registry_host: toRegistryHost(context.config.registry_url),
    oci_node_tasks_enabled: context.config.oci_node_tasks_enabled,
    managed_ingress_host_map: context.config.managed_ingress_host_map,
  };

  /** Runs a mutation in one transaction; with an Idempotency-Key, a retry gets the first answer. */
  async function respond(
    request: FastifyRequest<{ Params: { project_id: string } }>,
    reply: FastifyReply,
    work: (tx: StoreDb) => Promise<Outcome>,
  ): Promise<FastifyReply> {
    const header = request.headers["idempotency-key"];
    // Once committed, the node's agent is woken so its lease poll takes the new task at once.
    let wake: string | undefined;
    const run = async (tx: StoreDb): Promise<Outcome> => {
      const outcome = await work(tx);
      wake = outcome.wake;
      return { status: outcome.status, body: outcome.body };
    };
    if (header === undefined) {
      const outcome = await inTransaction(db, run);
      // After commit: a state change may have withdrawn routes the edge must drop.
      context.ingress.afterCommit();
      if (wake !== undefined) signal.notify(`node:${wake}`);
      return reply.status(outcome.status).send(outcome.body);
    }
    if (typeof header !== "string" || !IDEMPOTENCY_KEY.test(header)) {
      throw new ApiError(
        "request.invalid",
        "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
      );
    }
    const requestHash = hashRequest({
      method: request.method,
      route: request.routeOptions.url ?? "",
      params: request.params as unknown as JsonObject,
      body: (request.body ?? null) as JsonValue,
    });
    const outcome = await runIdempotent(
      db,
      { project_id: request.params.project_id, key: header, request_hash: requestHash },
      run,
    );
    context.ingress.afterCommit();
    if (wake !== undefined) signal.notify(`node:${wake}`);
    if (outcome.replayed) reply.header("idempotent-replayed", "true");
    return reply.status(outcome.status).send(outcome.body);
  }

  /** Loads the facts of a launch (the allocation locked) and runs the nine checks on them. */
  async function preflight(
    tx: StoreDb,
    input: {
      readonly project_id: string;
      readonly version: AppVersion;
      readonly launch: ResolvedLaunch;
      readonly instance?: Instance;
      readonly preferred_artifact_id?: string;
    },
  ): Promise<{ readonly allocation: Allocation; readonly plan: LaunchPlan }> {
    const allocationId = input.launch.target_allocation_id;
    const allocation = await lockAllocation(tx, allocationId);
    if (allocation === undefined) {
      throw new ApiError(
        "resource.not_found",
        `no allocation ${allocationId}; list your project's allocations and set placement_intent.target_allocation_id to one of them`,
        { details: { target_allocation_id: allocationId } },
      );
    }
    const entitled = await isEntitled(tx, input.project_id, input.version.app_slug);
    const artifacts = await listArtifacts(tx, { app_version_id: input.version.id });
    const claimed = await listClaimedGpuIndices(
      tx,
      allocation.id,
      input.instance !== undefined ? { excluding_instance_id: input.instance.id } : {},
    );
    const verdict = runLaunchPreflight(
      {
        project_id: input.project_id,
        version: input.version,
        launch: input.launch,
        allocation,
        entitled,
        artifacts,
        claimed_gpu_indices: claimed,
        ...(input.instance !== undefined ? { held_gpu_indices: input.instance.gpu_indices } : {}),
        ...(input.preferred_artifact_id !== undefined
          ? { preferred_artifact_id: input.preferred_artifact_id }
          : {}),
      },
      env,
    );
    if (!verdict.ok) {
      const { refusal } = verdict;
      throw new ApiError(refusal.code, refusal.message, {
        details: {
          ...refusal.details,
          check: refusal.check,
          check_number: LAUNCH_CHECKS.indexOf(refusal.check) + 1,
        },
      });
    }
    return { allocation, plan: verdict.plan };
  }

  api.post<{ Params: { project_id: string }; Body: unknown }>(
    "/projects/:project_id/app-instances",
    {
      config: { permission: "project.operate" },
      validatorCompiler: contractValidatesBody,
      schema: {
        tags: ["instances"],
        summary: "Launch an app instance on one of the project's allocations",
        description:
          "Resolves the request against the app version's profile, runs the nine preflight checks in order, and on success writes the instance, its launch task and its first event in one transaction. Send an Idempotency-Key header to make retries safe.",
        params: projectParams,
        body: launchBody,
        response: { 202: objectResponse, ...launchErrors },
      },
    },
    async (request, reply) =>
      respond(request, reply, async (tx) => {
        const projectId = request.params.project_id;
        const body = request.body;
        const version = await loadRequestedVersion(tx, body);
        const launch = toResolvedLaunch(version, body);
        const { allocation, plan } = await preflight(tx, {
          project_id: projectId,
          version,
          launch,
        });
        const instanceId = newId();
        const identity = {
          project_id: projectId,
          instance_id: instanceId,
          generation: 1,
          correlation_id: request.id,
        };
        const spec = renderOciLaunch(
          toAdapterInput(version.profile, launch, identity, allocation, plan),
        );
        const record = await claimOrRefuse(() =>
          createInstanceWithTask(tx, {
            instance: {
              id: instanceId,
              project_id: projectId,
              app_version_id: version.id,
              target_allocation_id: allocation.id,
              display_name: launch.display_name,
              engine: plan.engine,
              desired_state: "running",
              resolved_values: toJson(launch),
              artifact_id: plan.artifact.id,
              resolved_digest: plan.artifact.digest,
              gpu_indices: plan.gpu_indices,
              created_by: toActor(request.principal),
              correlation_id: request.id,
            },
            task: { kind: spec.kind, spec: toJson(spec) },
            event: {
              type: "instance.launch_requested",
              message: `launch of ${version.app_slug} ${version.version} requested on allocation ${allocation.id}`,
              data: {
                generation: 1,
                app_version_id: version.id,
                artifact_id: plan.artifact.id,
                digest: plan.artifact.digest,
                gpu_indices: [...plan.gpu_indices],
              },
            },
          }),
        );
        await appendAudit(tx, {
          actor: toActor(request.principal),
          action: "instance.launch",
          target: `instance:${instanceId}`,
          project_id: projectId,
          correlation_id: request.id,
          data: {
            app_slug: version.app_slug,
            app_version: version.version,
            allocation_id: allocation.id,
            task_id: record.task.id,
          },
        });
        reply.header("location", `/api/v1/projects/${projectId}/app-instances/${instanceId}`);
        return { status: 202, body: toJson(record.instance), wake: allocation.node_id };
      }),
  );

  api.get<{ Params: { project_id: string }; Querystring: { after?: string; limit?: string } }>(
    "/projects/:project_id/app-instances",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["instances"],
        summary: "List the project's app instances, oldest first",
        params: projectParams,
        querystring: pageQuery(idSchema),
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) =>
      listInstances(db, {
        project_id: request.params.project_id,
        ...toPage(request.query),
      }),
  );

  api.get<{ Params: { project_id: string; instance_id: string } }>(
    "/projects/:project_id/app-instances/:instance_id",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["instances"],
        summary: "Get an app instance",
        params: instanceParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => loadInstance(db, request.params),
  );

  api.get<{ Params: { project_id: string; instance_id: string } }>(
    "/projects/:project_id/app-instances/:instance_id/members",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["instances"],
        summary: "List an instance's members (containers) and their endpoints",
        params: instanceParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const instance = await loadInstance(db, request.params);
      return { items: await listInstanceMembers(db, instance.id), next_cursor: null };
    },
  );

  api.get<{
    Params: { project_id: string; instance_id: string };
    Querystring: { after?: string; limit?: string };
  }>(
    "/projects/:project_id/app-instances/:instance_id/events",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["instances"],
        summary: "Read an instance's events in order; poll with next_cursor to follow them",
        params: instanceParams,
        querystring: pageQuery({ type: "string", pattern: "^[0-9]{1,18}$" }),
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const instance = await loadInstance(db, request.params);
      return listEvents(db, { instance_id: instance.id, ...toPage(request.query) });
    },
  );

  /** Queues a control or remove task and moves the instance into the matching pending state. */
  async function runAction(
    tx: StoreDb,
    request: FastifyRequest<{ Params: { project_id: string; instance_id: string } }>,
    action: Action,
  ): Promise<Outcome> {
    const instance = await loadInstance(tx, request.params);
    const step = ACTIONS[action];
    if (!canTransition(INSTANCE_TRANSITIONS, instance.state, step.to)) {
      throw illegalAction(instance, action);
    }
    const revised = await reviseInstance(tx, { id: instance.id, desired_state: step.desired });
    const identity = {
      project_id: instance.project_id,
      instance_id: instance.id,
      generation: revised.generation,
      correlation_id: request.id,
    };
    const spec: NodeTaskSpec =
      action === "decommission" ? renderOciRemove(identity) : renderOciControl(identity, action);
    const nodeId = await loadNodeId(tx, instance);
    const task = await enqueueTask(tx, {
      node_id: nodeId,
      instance_id: instance.id,
      kind: spec.kind,
      spec: toJson(spec),
      correlation_id: request.id,
    });
    const moved = await transitionInstance(tx, {
      id: instance.id,
      from: instance.state,
      to: toPendingState(spec),
      correlation_id: request.id,
      message: `${action} requested`,
      data: { action, task_id: task.id },
    });
    await appendEvent(tx, {
      project_id: instance.project_id,
      instance_id: instance.id,
      type: `instance.${action}_requested`,
      message: `${action} requested`,
      data: { generation: revised.generation, task_id: task.id, desired_state: step.desired },
      correlation_id: request.id,
    });
    await appendAudit(tx, {
      actor: toActor(request.principal),
      action: `instance.${action}`,
      target: `instance:${instance.id}`,
      project_id: instance.project_id,
      correlation_id: request.id,
      data: { from: instance.state, to: moved.state, task_id: task.id },
    });
    return { status: 202, body: toJson(moved), wake: nodeId };
  }

  api.post<{
    Params: { project_id: string; instance_id: string };
    Body: { action: ControlAction };
  }>(
    "/projects/:project_id/app-instances/:instance_id/actions",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["instances"],
        summary: "Stop, start or restart an instance",
        params: instanceParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["action"],
          properties: { action: { type: "string", enum: ["stop", "start", "restart"] } },
        },
        response: { 202: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) =>
      respond(request, reply, (tx) => runAction(tx, request, request.body.action)),
  );

  api.post<{ Params: { project_id: string; instance_id: string } }>(
    "/projects/:project_id/app-instances/:instance_id/decommission",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["instances"],
        summary:
          "Decommission an instance: remove its container and scratch space, keep project storage",
        params: instanceParams,
        response: { 202: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) =>
      respond(request, reply, (tx) => runAction(tx, request, "decommission")),
  );

  api.delete<{ Params: { project_id: string; instance_id: string } }>(
    "/projects/:project_id/app-instances/:instance_id",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["instances"],
        summary: "Delete an instance that is decommissioned or was never deployed",
        params: instanceParams,
        response: { 204: { type: "null" }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { project_id, instance_id } = request.params;
      await inTransaction(db, async (tx) => {
        const removal = await removeInstance(tx, { id: instance_id, project_id });
        if (!removal.removed) {
          if (removal.reason === "not_found") throw notFound(instance_id);
          throw new ApiError(
            "instance.not_removable",
            `instance ${instance_id} is ${removal.state} and may still hold a container on its node; decommission it first (POST …/app-instances/${instance_id}/decommission) and delete it once it is decommissioned`,
            { details: { state: removal.state } },
          );
        }
        await appendAudit(tx, {
          actor: toActor(request.principal),
          action: "instance.delete",
          target: `instance:${instance_id}`,
          project_id,
          correlation_id: request.id,
        });
      });
      return reply.status(204).send();
    },
  );

  /**
   * Re-resolves an instance's stored settings against another version of its app, runs the
   * preflight again (keeping its GPUs), bumps the generation and queues a launch task.
   */
  async function redeploy(
    tx: StoreDb,
    request: FastifyRequest<{ Params: { project_id: string; instance_id: string } }>,
    instance: Instance,
    target: AppVersion,
    kind: "upgrade" | "rollback",
    preferredArtifactId?: string,
  ): Promise<Outcome> {
    const stored = instance.resolved_values as StoredLaunch;
    const body = {
      app_slug: instance.app_slug,
      app_version: target.version,
      display_name: instance.display_name,
      placement_intent: { target_allocation_id: instance.target_allocation_id },
      config: stored.config ?? {},
      resource_overrides: stored.resources ?? {},
    };
    const resolution = resolveLaunch(target.profile, body);
    if (!resolution.ok || resolution.launch === undefined) {
      throw new ApiError(
        "launch.invalid",
        `the instance's settings are not valid for ${target.app_slug} ${target.version}; launch a new instance with settings that version accepts`,
        { issues: resolution.issues.filter((issue) => issue.severity === "error") },
      );
    }
    const launch = resolution.launch;
    const { allocation, plan } = await preflight(tx, {
      project_id: instance.project_id,
      version: target,
      launch,
      instance,
      ...(preferredArtifactId !== undefined ? { preferred_artifact_id: preferredArtifactId } : {}),
    });
    if (plan.gpu_indices.join(",") !== [...instance.gpu_indices].sort((a, b) => a - b).join(",")) {
      throw new ApiError(
        "launch.gpus_claimed",
        `${target.app_slug} ${target.version} needs ${plan.gpu_indices.length} GPU(s) but the instance holds ${instance.gpu_indices.length}; launch a new instance instead`,
        { details: { held_gpu_indices: instance.gpu_indices } },
      );
    }
    const revised = await reviseInstance(tx, {
      id: instance.id,
      desired_state: "running",
      app_version_id: target.id,
      artifact_id: plan.artifact.id,
      resolved_digest: plan.artifact.digest,
      resolved_values: toJson(launch),
    });
    const identity = {
      project_id: instance.project_id,
      instance_id: instance.id,
      generation: revised.generation,
      correlation_id: request.id,
    };
    const spec = renderOciLaunch(
      toAdapterInput(target.profile, launch, identity, allocation, plan),
    );
    const task = await enqueueTask(tx, {
      node_id: allocation.node_id,
      instance_id: instance.id,
      kind: spec.kind,
      spec: toJson(spec),
      correlation_id: request.id,
    });
    // A running instance restarts into the new spec, a stopped one starts, a fresh one deploys.
    const next = (["deploying", "restarting", "starting"] as const).find((state) =>
      canTransition(INSTANCE_TRANSITIONS, instance.state, state),
    );
    const moved =
      next === undefined
        ? revised
        : await transitionInstance(tx, {
            id: instance.id,
            from: instance.state,
            to: next,
            correlation_id: request.id,
            message: `${kind} requested`,
            data: { action: kind, task_id: task.id },
          });
    const change = {
      generation: revised.generation,
      task_id: task.id,
      from_app_version_id: instance.app_version_id,
      from_app_version: instance.app_version,
      from_artifact_id: instance.artifact_id,
      to_app_version_id: target.id,
      to_app_version: target.version,
      to_artifact_id: plan.artifact.id,
    };
    await appendEvent(tx, {
      project_id: instance.project_id,
      instance_id: instance.id,
      type: `instance.${kind}_requested`,
      message: `${kind} from ${instance.app_version} to ${target.version} requested`,
      data: change,
      correlation_id: request.id,
    });
    await appendAudit(tx, {
      actor: toActor(request.principal),
      action: `instance.${kind}`,
      target: `instance:${instance.id}`,
      project_id: instance.project_id,
      correlation_id: request.id,
      data: change,
    });
    return { status: 202, body: toJson(moved) };
  }

  api.post<{ Params: { project_id: string; instance_id: string }; Body: { app_version: string } }>(
    "/projects/:project_id/app-instances/:instance_id/upgrade",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["instances"],
        summary: "Move an instance to another version of its app, keeping its settings",
        params: instanceParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["app_version"],
          properties: { app_version: versionSchema },
        },
        response: { 202: objectResponse, ...launchErrors },
      },
    },
    async (request, reply) =>
      respond(request, reply, async (tx) => {
        const instance = await loadRedeployable(tx, request.params, "upgrade");
        const target = await getAppVersion(tx, instance.app_slug, request.body.app_version);
        if (target === undefined) {
          throw new ApiError(
            "resource.not_found",
            `no version "${request.body.app_version}" of "${instance.app_slug}"; pick one from the catalog`,
          );
        }
        if (target.id === instance.app_version_id) {
          throw new ApiError(
            "resource.conflict",
            `instance ${instance.id} already runs ${instance.app_slug} ${target.version}; use restart to run it afresh`,
          );
        }
        return redeploy(tx, request, instance, target, "upgrade");
      }),
  );

  api.post<{ Params: { project_id: string; instance_id: string } }>(
    "/projects/:project_id/app-instances/:instance_id/rollback",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["instances"],
        summary: "Return an instance to the app version it ran before its latest upgrade",
        params: instanceParams,
        response: { 202: objectResponse, ...launchErrors },
      },
    },
    async (request, reply) =>
      respond(request, reply, async (tx) => {
        const instance = await loadRedeployable(tx, request.params, "rollback");
        const previous = await findRollbackTarget(tx, {
          instance_id: instance.id,
          current_app_version_id: instance.app_version_id,
        });
        const target =
          previous === undefined ? undefined : await getAppVersionById(tx, previous.app_version_id);
        if (previous === undefined || target === undefined) {
          throw new ApiError(
            "instance.no_rollback_target",
            `instance ${instance.id} was not upgraded to ${instance.app_slug} ${instance.app_version}, so there is no earlier version to return to`,
          );
        }
        return redeploy(
          tx,
          request,
          instance,
          target,
          "rollback",
          previous.artifact_id ?? undefined,
        );
      }),
  );
}

/** The app version a launch body names; `launch.invalid` when it names none, 404 when unknown. */
async function loadRequestedVersion(tx: StoreDb, body: unknown): Promise<AppVersion> {
  const issues: Issue[] = [];
  const record =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  if (record === undefined) {
    throw new ApiError("launch.invalid", "a launch request is a JSON object", {
      issues: [createIssue("", "launch.request_invalid", "a launch request is a JSON object")],
    });
  }
  const read = (key: "app_slug" | "app_version", pattern: RegExp): string | undefined => {
    const value = Object.hasOwn(record, key) ? record[key] : undefined;
    if (value === undefined) {
      issues.push(createIssue(`/${key}`, "launch.missing", `"${key}" is required`));
    } else if (typeof value !== "string" || !pattern.test(value)) {
      issues.push(
        createIssue(
          `/${key}`,
          "launch.type",
          `"${key}" must name an app ${key === "app_slug" ? "slug" : "version"} of the catalog`,
        ),
      );
    } else return value;
    return undefined;
  };
  const slug = read("app_slug", APP_SLUG);
  const version = read("app_version", APP_VERSION);
  if (slug === undefined || version === undefined) {
    throw new ApiError("launch.invalid", "the launch request does not name an app version", {
      issues,
    });
  }
  const found = await getAppVersion(tx, slug, version);
  if (found === undefined) {
    throw new ApiError(
      "resource.not_found",
      `no version "${version}" of app "${slug}" in the catalog; list its versions with GET /api/v1/apps/catalog/${slug}/versions`,
      { details: { app_slug: slug, app_version: version } },
    );
  }
  return found;
}

/** `resolveLaunch` against the version's profile; every problem at once as `launch.invalid`. */
function toResolvedLaunch(version: AppVersion, body: unknown): ResolvedLaunch {
  const resolution = resolveLaunch(version.profile, body);
  if (!resolution.ok || resolution.launch === undefined) {
    throw new ApiError(
      "launch.invalid",
      `the launch request does not fit ${version.app_slug} ${version.version}; fix the listed issues`,
      { issues: resolution.issues.filter((issue) => issue.severity === "error") },
    );
  }
  // PostgreSQL cannot store U+0000 in text or jsonb; refuse it rather than fail on insert.
  if (JSON.stringify(resolution.launch).includes("\\u0000")) {
    throw new ApiError("launch.invalid", "the launch request holds a NUL character", {
      issues: [createIssue("", "launch.request_invalid", "values may not contain U+0000")],
    });
  }
  return resolution.launch;
}

/** The one input of the engines' renderer. */
function toAdapterInput(
  profile: WorkloadProfile,
  launch: ResolvedLaunch,
  identity: AdapterInput["identity"],
  allocation: Allocation,
  plan: LaunchPlan,
): AdapterInput {
  return {
    profile,
    launch,
    identity,
    placement: {
      allocation_id: allocation.id,
      node_id: allocation.node_id,
      cpu_architecture: allocation.cpu_architecture,
      accelerator_vendor: allocation.accelerator.vendor,
      gpu_indices: plan.gpu_indices,
      gpu_mask: allocation.gpu_indices,
    },
    artifact: {
      artifact_id: plan.artifact.id,
      registry: plan.registry,
      repository: plan.repository,
      digest: plan.artifact.digest,
      media_type: plan.artifact.media_type,
    },
  };
}

/** A concurrent launch that took the GPUs first is reported like any other claim conflict. */
async function claimOrRefuse<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isStoreError(error, "instance.gpu_claimed")) {
      throw new ApiError(
        "launch.gpus_claimed",
        "another instance claimed these GPUs a moment ago; retry, or request fewer GPUs",
        { details: { ...error.details } },
      );
    }
    throw error;
  }
}

async function loadInstance(
  db: StoreDb,
  params: { readonly project_id: string; readonly instance_id: string },
): Promise<Instance> {
  const instance = await getInstance(db, params.instance_id, { project_id: params.project_id });
  if (instance === undefined) throw notFound(params.instance_id);
  return instance;
}

async function loadRedeployable(
  tx: StoreDb,
  params: { readonly project_id: string; readonly instance_id: string },
  kind: "upgrade" | "rollback",
): Promise<Instance> {
  const instance = await loadInstance(tx, params);
  if (
    instance.state === "decommissioning" ||
    instance.state === "decommissioned" ||
    instance.state === "unknown"
  ) {
    throw new ApiError(
      "instance.illegal_transition",
      instance.state === "unknown"
        ? `instance ${instance.id}'s node is not reporting; ${kind} it once its state is known again`
        : `instance ${instance.id} is ${instance.state}; launch a new instance instead of a ${kind}`,
      { details: { state: instance.state } },
    );
  }
  return instance;
}

async function loadNodeId(tx: StoreDb, instance: Instance): Promise<string> {
  const allocation = await getAllocation(tx, instance.target_allocation_id);
  if (allocation === undefined) throw notFound(instance.id);
  return allocation.node_id;
}

function notFound(instanceId: string): ApiError {
  return new ApiError("resource.not_found", `no instance ${instanceId} in this project`);
}

function illegalAction(instance: Instance, action: Action): ApiError {
  const possible = (Object.keys(ACTIONS) as Action[]).filter((candidate) =>
    canTransition(INSTANCE_TRANSITIONS, instance.state, ACTIONS[candidate].to),
  );
  return new ApiError(
    "instance.illegal_transition",
    `instance ${instance.id} is ${instance.state}, so it cannot ${action}; ${
      possible.length > 0 ? `possible now: ${possible.join(", ")}` : "no action is possible now"
    }`,
    { details: { state: instance.state, action, possible_actions: possible } },
  );
}

function toPage(query: { readonly after?: string; readonly limit?: string }) {
  return {
    ...(query.after !== undefined ? { after: query.after } : {}),
    ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}),
  };
}

/** API records and rendered specs are plain JSON; readonly arrays only need the cast. */
function toJson<T extends object>(value: T): JsonObject {
  return value as unknown as JsonObject;
}

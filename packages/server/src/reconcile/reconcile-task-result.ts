/**
 * Turns a node task's result into instance state, members and events, in the same transaction
 * that completes the task (a result is never recorded without its effect, nor the other way
 * round). Every event carries the task's correlation id, so a launch reads end to end from the
 * HTTP request to the container and back.
 */
import type { InstanceState } from "@gpuaas/contract";
import type { IngressSettings } from "../ingress/ingress-settings.js";
import { recordInstanceRoutes } from "../ingress/record-instance-routes.js";
import { type AgentTask, getAgentTask } from "../store/agent-tasks.js";
import {
  appendEvent,
  canTransition,
  completeTask,
  getAppVersionById,
  INSTANCE_TRANSITIONS,
  inTransaction,
  type StoreDb,
  StoreError,
  transitionInstance,
  upsertInstanceMember,
} from "../store/index.js";
import {
  deleteInstanceMembers,
  getInstanceNode,
  type NodeInstance,
} from "../store/node-instances.js";
import { revokePullCredential } from "../store/pull-credentials.js";
import type { JsonObject, JsonValue } from "../store/types.js";
import { toLeaseOwner } from "./lease-agent-tasks.js";
import { redactJson } from "./redact-secrets.js";
import { type FailureReport, readTaskReport, type TaskReport } from "./task-report.js";

/** What recording a result did. */
export interface ReconciledResult {
  readonly task_id: string;
  readonly state: "succeeded" | "failed";
  /** True when the same result had already been recorded (the agent retried its post). */
  readonly duplicate: boolean;
  /** The instance's state afterwards, when the task belongs to one. */
  readonly instance: { readonly id: string; readonly state: InstanceState } | null;
}

/** Where a task's success or failure takes an instance, and from which states. */
interface Outcome {
  /** States the instance is expected in while the task runs (`unknown` is always accepted). */
  readonly from: readonly InstanceState[];
  readonly to: InstanceState;
  /** Event type of the result, e.g. `instance.launched`. */
  readonly event: string;
  readonly verb: string;
}

function toOutcome(task: AgentTask, succeeded: boolean): Outcome | undefined {
  switch (task.kind) {
    case "workload.oci_launch":
    case "workload.compose_launch":
      return succeeded
        ? {
            from: ["deploying", "starting", "restarting"],
            to: "running",
            event: "instance.launched",
            verb: "launch",
          }
        : {
            from: ["deploying", "starting", "restarting"],
            to: "failed",
            event: "instance.launch_failed",
            verb: "launch",
          };
    case "workload.oci_control":
    case "workload.compose_control": {
      const action = task.spec.action;
      const from: InstanceState =
        action === "stop" ? "stopping" : action === "start" ? "starting" : "restarting";
      const verb = typeof action === "string" ? action : "control";
      return succeeded
        ? {
            from: [from],
            to: action === "stop" ? "stopped" : "running",
            event: `instance.${verb}_succeeded`,
            verb,
          }
        : { from: [from], to: "failed", event: `instance.${verb}_failed`, verb };
    }
    case "workload.oci_remove":
    case "workload.compose_remove":
      return succeeded
        ? {
            from: ["decommissioning"],
            to: "decommissioned",
            event: "instance.removed",
            verb: "remove",
          }
        : {
            from: ["decommissioning"],
            to: "failed",
            event: "instance.remove_failed",
            verb: "remove",
          };
    default:
      return undefined;
  }
}

/**
 * Records a result from the agent of `node_id` and reconciles its instance. Only the lease owner
 * may report (`task.lease_not_held` otherwise; a task of another node is `store.not_found`). A
 * repeat of a result already recorded is answered as a duplicate and changes nothing.
 */
export async function reconcileTaskResult(
  db: StoreDb,
  input: {
    readonly node_id: string;
    readonly task_id: string;
    readonly status: "succeeded" | "failed";
    readonly result: JsonValue;
    readonly now: Date;
    /** With it, an instance that becomes `running` gets its managed routes derived and stored. */
    readonly ingress?: IngressSettings;
  },
): Promise<ReconciledResult> {
  return inTransaction(db, async (tx) => {
    const task = await getAgentTask(tx, input.task_id);
    if (task === undefined || task.node_id !== input.node_id) {
      throw new StoreError("store.not_found", `task ${input.task_id} not found on this node`);
    }
    if (task.state === input.status) {
      const instance =
        task.instance_id === null ? undefined : await getInstanceNode(tx, task.instance_id);
      return {
        task_id: task.id,
        state: input.status,
        duplicate: true,
        instance: instance === undefined ? null : { id: instance.id, state: instance.state },
      };
    }
    // Second net behind the agent's own redaction: nothing credential-like is stored.
    const result = redactJson(input.result);
    await completeTask(tx, {
      id: task.id,
      owner: toLeaseOwner(input.node_id),
      outcome: input.status,
      result,
      now: input.now,
    });
    await revokePullCredential(tx, task.id);
    if (task.instance_id === null) {
      return { task_id: task.id, state: input.status, duplicate: false, instance: null };
    }
    const state = await applyToInstance(tx, task, input.status === "succeeded", result, input);
    return {
      task_id: task.id,
      state: input.status,
      duplicate: false,
      instance: state === undefined ? null : { id: task.instance_id, state },
    };
  });
}

async function applyToInstance(
  tx: StoreDb,
  task: AgentTask,
  succeeded: boolean,
  result: JsonValue,
  input: { readonly node_id: string; readonly now: Date; readonly ingress?: IngressSettings },
): Promise<InstanceState | undefined> {
  const outcome = toOutcome(task, succeeded);
  if (task.instance_id === null || outcome === undefined) return undefined;
  // Lock the instance row: a user action and a result must not interleave.
  await tx
    .selectFrom("app_instances")
    .select("id")
    .where("id", "=", task.instance_id)
    .forUpdate()
    .executeTakeFirst();
  const instance = await getInstanceNode(tx, task.instance_id);
  if (instance === undefined) return undefined;
  const report = readTaskReport(result, !succeeded);
  const event = {
    project_id: instance.project_id,
    instance_id: instance.id,
    correlation_id: task.correlation_id,
  };
  const generation = toGeneration(task.spec);
  const base: JsonObject = {
    task_id: task.id,
    kind: task.kind,
    attempt: task.attempts,
    node_id: input.node_id,
    ...(generation !== undefined ? { generation } : {}),
  };

  if (generation !== undefined && generation < instance.generation) {
    await appendEvent(tx, {
      ...event,
      type: "instance.task_result_superseded",
      message: `a ${outcome.verb} result of generation ${generation} arrived after generation ${instance.generation} was requested; it changes nothing`,
      data: { ...base, status: succeeded ? "succeeded" : "failed" },
    });
    return instance.state;
  }

  await recordPackageInstall(tx, event, base, report);
  const members = succeeded ? await reconcileMembers(tx, task, instance, report, input) : {};
  const details: JsonObject = succeeded
    ? { ...base, ...members, ...(report.runtime !== undefined ? { runtime: report.runtime } : {}) }
    : { ...base, ...toFailureData(report.failure) };
  await appendEvent(tx, {
    ...event,
    type: outcome.event,
    message: succeeded
      ? toSuccessMessage(outcome, members, input.node_id)
      : `${outcome.verb} failed: ${report.failure?.code ?? "task.failed"}: ${report.failure?.message ?? ""}`,
    data: details,
  });

  const accepted = [...outcome.from, "unknown"] as InstanceState[];
  if (
    !accepted.includes(instance.state) ||
    !canTransition(INSTANCE_TRANSITIONS, instance.state, outcome.to)
  ) {
    await appendEvent(tx, {
      ...event,
      type: "instance.task_result_ignored",
      message: `the instance is ${instance.state}, so the ${outcome.verb} result does not move it to ${outcome.to}`,
      data: { ...base, state: instance.state, would_be: outcome.to },
    });
    return instance.state;
  }
  const moved = await transitionInstance(tx, {
    id: instance.id,
    from: instance.state,
    to: outcome.to,
    correlation_id: task.correlation_id,
    message: succeeded
      ? `${outcome.verb} succeeded on node ${input.node_id}`
      : `${outcome.verb} failed: ${report.failure?.message ?? "no reason given"}`,
    data: succeeded ? base : { ...base, reason: report.failure?.code ?? "task.failed" },
    now: input.now,
  });
  if (moved.state === "running" && input.ingress !== undefined) {
    await recordInstanceRoutes(tx, {
      instance_id: instance.id,
      ports: report.ports,
      settings: input.ingress,
      correlation_id: task.correlation_id,
      now: input.now,
    });
  }
  return moved.state;
}

function toGeneration(spec: JsonObject): number | undefined {
  const identity = spec.identity;
  if (typeof identity !== "object" || identity === null || Array.isArray(identity))
    return undefined;
  return typeof identity.generation === "number" ? identity.generation : undefined;
}

function toFailureData(failure: FailureReport | undefined): JsonObject {
  if (failure === undefined) return {};
  return {
    reason: failure.code,
    message: failure.message,
    ...(failure.phase !== undefined ? { phase: failure.phase } : {}),
    ...(failure.exit_code !== undefined ? { exit_code: failure.exit_code } : {}),
    ...(failure.oom_killed !== undefined ? { oom_killed: failure.oom_killed } : {}),
    ...(failure.log_excerpt.length > 0 ? { log_excerpt: [...failure.log_excerpt] } : {}),
  };
}

function toSuccessMessage(outcome: Outcome, members: JsonObject, nodeId: string): string {
  if (outcome.event === "instance.launched") {
    const url =
      typeof members.endpoint_url === "string" ? `; endpoint ${members.endpoint_url}` : "";
    return `container ${String(members.container_name ?? "")} is running on node ${nodeId}${url}`;
  }
  return `${outcome.verb} succeeded on node ${nodeId}`;
}

async function recordPackageInstall(
  tx: StoreDb,
  event: {
    readonly project_id: string;
    readonly instance_id: string;
    readonly correlation_id: string;
  },
  base: JsonObject,
  report: TaskReport,
): Promise<void> {
  const install = report.package_install;
  if (install === undefined) return;
  const ok = install.exit_code === undefined || install.exit_code === 0;
  await appendEvent(tx, {
    ...event,
    type: ok ? "instance.packages_installed" : "instance.packages_failed",
    message: ok
      ? `installed ${install.packages.length} Python package(s): ${install.packages.join(" ")}`
      : `pip install exited with ${install.exit_code}`,
    data: {
      ...base,
      packages: [...install.packages],
      ...(install.exit_code !== undefined ? { exit_code: install.exit_code } : {}),
      excerpt: install.excerpt,
    },
  });
}

/**
 * Updates the instance's member after a successful task: a launch, start or restart records the
 * container and its loopback endpoint; a remove deletes the members. Returns what was recorded.
 */
async function reconcileMembers(
  tx: StoreDb,
  task: AgentTask,
  instance: NodeInstance,
  report: TaskReport,
  input: { readonly node_id: string; readonly now: Date },
): Promise<JsonObject> {
  if (task.kind === "workload.oci_remove" || task.kind === "workload.compose_remove") {
    await deleteInstanceMembers(tx, instance.id);
    return {};
  }
  const name = report.container_name ?? toSpecContainerName(task.spec);
  if (name === undefined) return {};
  const port = await pickPrimaryPort(tx, instance, report);
  if (report.container_id === undefined && port === undefined) return { container_name: name };
  const endpointUrl =
    port === undefined ? null : `http://127.0.0.1:${port.host_port}${port.open_path}`;
  const member = await upsertInstanceMember(tx, {
    instance_id: instance.id,
    name,
    node_id: input.node_id,
    ...(report.container_id !== undefined ? { container_id: report.container_id } : {}),
    ...(port !== undefined ? { host_port: port.host_port, endpoint_url: endpointUrl } : {}),
    now: input.now,
  });
  return {
    container_name: name,
    member_id: member.id,
    ...(member.container_id !== null ? { container_id: member.container_id } : {}),
    ...(member.host_port !== null ? { host_port: member.host_port } : {}),
    ...(member.endpoint_url !== null ? { endpoint_url: member.endpoint_url } : {}),
    ports: report.ports.map((item) => ({
      ...(item.endpoint !== undefined ? { endpoint: item.endpoint } : {}),
      ...(item.container_port !== undefined ? { container_port: item.container_port } : {}),
      host_port: item.host_port,
    })),
  };
}

function toSpecContainerName(spec: JsonObject): string | undefined {
  if (typeof spec.container_name === "string") return spec.container_name;
  const container = spec.container;
  if (typeof container === "object" && container !== null && !Array.isArray(container)) {
    return typeof container.name === "string" ? container.name : undefined;
  }
  return undefined;
}

/**
 * The port a member's endpoint URL points at: the profile's first endpoint (by name, else the
 * first reported port), opened at that endpoint's `default_open_path`.
 */
async function pickPrimaryPort(
  tx: StoreDb,
  instance: NodeInstance,
  report: TaskReport,
): Promise<{ readonly host_port: number; readonly open_path: string } | undefined> {
  if (report.ports.length === 0) return undefined;
  const version = await getAppVersionById(tx, instance.app_version_id);
  const endpoints = version?.profile.network.endpoints ?? [];
  for (const endpoint of endpoints) {
    const port = report.ports.find(
      (item) => item.endpoint === endpoint.name || item.container_port === endpoint.port,
    );
    if (port !== undefined) {
      return {
        host_port: port.host_port,
        open_path: toOpenPath(endpoint.managed_ingress.default_open_path),
      };
    }
  }
  const first = report.ports[0];
  return first === undefined ? undefined : { host_port: first.host_port, open_path: "/" };
}

function toOpenPath(path: string | undefined): string {
  return path?.startsWith("/") === true ? path : "/";
}

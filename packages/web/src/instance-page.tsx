/**
 * One instance: Overview (state, desired state, placement, digest, resolved values), Events
 * (timeline with correlation ids, package-install excerpts, failure reasons), Endpoints & Access
 * (the SSH tunnel for private endpoints, links for managed ones), Logs (tail and refresh), and
 * the lifecycle actions with a confirmation. State is polled, so it updates without a reload.
 */
import { type InstanceState, RESOURCE_PARAMETERS, type WorkloadProfile } from "@gpuaas/contract";
import { type ReactNode, useEffect, useId, useState } from "react";
import { ApiRequestError, callApi, callApiList, seg } from "./api-client.js";
import type {
  Allocation,
  Instance,
  InstanceEndpoint,
  InstanceEvent,
  InstanceMember,
  NodeRecord,
} from "./api-types.js";
import { loadVersion } from "./catalog-data.js";
import { describeEventKey, describeEventType, toEventView } from "./event-view.js";
import {
  describeAllocation,
  formatParameter,
  formatRelative,
  formatTime,
  formatValue,
  humanize,
  orderParameters,
  shortId,
  titleOf,
} from "./format.js";
import { INSTANCE_TABS, type InstanceTab, Link, navigate } from "./router.js";
import { canOperate, useSession } from "./session.js";
import {
  ConfirmDialog,
  CopyButton,
  ErrorNotice,
  Facts,
  isTransitional,
  Loading,
  Notice,
  PageHeader,
  StateBadge,
} from "./ui.js";
import { useResource } from "./use-resource.js";

type Action = "stop" | "start" | "restart" | "decommission" | "delete";

/**
 * Which actions the lifecycle allows from each state (the control plane's transition table; it
 * refuses the others with `instance.illegal_transition`, which the page then shows).
 */
const ACTIONS_FROM: Record<Action, readonly InstanceState[]> = {
  stop: ["deploying", "running", "starting"],
  start: ["failed", "stopped"],
  restart: ["running"],
  decommission: ["pending", "deploying", "running", "failed", "stopped", "unknown"],
  delete: ["decommissioned"],
};

const ACTION_COPY: Record<
  Action,
  { label: string; title: string; body: string; confirm: string; danger: boolean }
> = {
  stop: {
    label: "Stop",
    title: "Stop this instance?",
    body: "The container stops; its storage, settings and reserved GPUs stay. Start it again at any time.",
    confirm: "Stop instance",
    danger: false,
  },
  start: {
    label: "Start",
    title: "Start this instance?",
    body: "The container starts again with the same image digest and settings.",
    confirm: "Start instance",
    danger: false,
  },
  restart: {
    label: "Restart",
    title: "Restart this instance?",
    body: "The container restarts; open sessions are interrupted.",
    confirm: "Restart instance",
    danger: false,
  },
  decommission: {
    label: "Decommission",
    title: "Decommission this instance?",
    body: "The container and its scratch space are removed and its GPUs are released. Project storage is kept. This cannot be undone.",
    confirm: "Decommission",
    danger: true,
  },
  delete: {
    label: "Delete record",
    title: "Delete this instance record?",
    body: "The decommissioned instance disappears from the list. Its events are no longer shown.",
    confirm: "Delete record",
    danger: true,
  },
};

const TAB_LABELS: Record<InstanceTab, string> = {
  overview: "Overview",
  events: "Events",
  access: "Endpoints & access",
  logs: "Logs",
};

/** `/instances/:id/:tab` */
export function InstancePage(props: { readonly instanceId: string; readonly tab: InstanceTab }) {
  const session = useSession();
  const projectId = session.project?.id as string;
  const base = `/projects/${seg(projectId)}/app-instances/${seg(props.instanceId)}`;
  const [fast, setFast] = useState(true);
  const instance = useResource(
    `${projectId}|${props.instanceId}`,
    (signal) => callApi<Instance>(base, { signal }),
    fast ? 2000 : 5000,
  );
  const current = instance.data;
  useEffect(() => {
    if (current !== undefined) setFast(isTransitional(current.state));
  }, [current]);
  const profile = useResource(
    current === undefined ? undefined : `${current.app_slug}|${current.app_version}`,
    async (signal) =>
      (await loadVersion(current?.app_slug ?? "", current?.app_version, signal)).version?.profile,
  );
  const allocation = useResource(
    current === undefined ? undefined : `${projectId}|${current.target_allocation_id}`,
    (signal) =>
      callApi<Allocation>(
        `/projects/${seg(projectId)}/allocations/${seg(current?.target_allocation_id ?? "")}`,
        { signal },
      ),
  );

  if (instance.error !== undefined && current === undefined) {
    if (instance.error instanceof ApiRequestError && instance.error.status === 404)
      return (
        <Notice tone="warning" title="No such instance">
          There is no instance {props.instanceId} in {session.project?.display_name}.{" "}
          <Link href="/instances">Back to instances</Link>
        </Notice>
      );
    return <ErrorNotice error={instance.error} />;
  }
  if (current === undefined) return <Loading label="Loading the instance…" />;

  const href = (tab: InstanceTab) =>
    `/instances/${encodeURIComponent(current.id)}${tab === "overview" ? "" : `/${tab}`}`;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="/instances">Instances</Link> <span aria-hidden="true">/</span>{" "}
        <span>{current.display_name}</span>
      </nav>
      <PageHeader
        eyebrow={
          <span className="eyebrow-row">
            <span>
              {current.app_slug} · {current.app_version}
            </span>
          </span>
        }
        title={
          <span className="title-with-badge">
            {current.display_name}
            <span aria-live="polite" data-testid="instance-state">
              <StateBadge state={current.state} />
            </span>
          </span>
        }
        actions={
          canOperate(session.project, session.me) ? (
            <InstanceActions instance={current} base={base} onChanged={instance.reload} />
          ) : undefined
        }
      />
      {instance.error !== undefined && (
        <Notice tone="warning">
          Live updates paused: {instance.error instanceof Error ? instance.error.message : "error"}.
          Retrying.
        </Notice>
      )}
      <nav aria-label="Instance sections" className="tabs">
        {INSTANCE_TABS.map((tab) => (
          <Link
            key={tab}
            href={href(tab)}
            className="tab"
            aria-current={props.tab === tab ? "page" : undefined}
          >
            {TAB_LABELS[tab]}
          </Link>
        ))}
      </nav>
      <div className="tab-panel">
        {props.tab === "overview" && (
          <Overview instance={current} profile={profile.data} allocation={allocation.data} />
        )}
        {props.tab === "events" && <EventsTab base={base} />}
        {props.tab === "access" && (
          <AccessTab
            instance={current}
            base={base}
            profile={profile.data}
            allocation={allocation.data}
          />
        )}
        {props.tab === "logs" && <LogsTab base={base} instance={current} />}
      </div>
    </>
  );
}

function InstanceActions(props: {
  readonly instance: Instance;
  readonly base: string;
  readonly onChanged: () => void;
}) {
  const [pending, setPending] = useState<Action | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const available = (Object.keys(ACTIONS_FROM) as Action[]).filter((action) =>
    ACTIONS_FROM[action].includes(props.instance.state),
  );
  const run = async (action: Action) => {
    setBusy(true);
    setError(undefined);
    try {
      if (action === "delete") {
        await callApi(props.base, { method: "DELETE" });
        navigate("/instances");
        return;
      }
      if (action === "decommission")
        await callApi(`${props.base}/decommission`, { method: "POST" });
      else await callApi(`${props.base}/actions`, { method: "POST", body: { action } });
      setPending(undefined);
      props.onChanged();
    } catch (reason) {
      setError(reason);
      setPending(undefined);
    } finally {
      setBusy(false);
    }
  };
  const copy = pending === undefined ? undefined : ACTION_COPY[pending];
  return (
    <div className="action-bar">
      {available.map((action) => (
        <button
          key={action}
          type="button"
          className={`button ${ACTION_COPY[action].danger ? "button-danger-ghost" : "button-ghost"}`}
          onClick={() => setPending(action)}
          disabled={busy}
        >
          {ACTION_COPY[action].label}
        </button>
      ))}
      {available.length === 0 && <span className="muted small">No actions in this state</span>}
      {error !== undefined && (
        <div className="action-error">
          <ErrorNotice error={error} title="The action was refused" />
        </div>
      )}
      <ConfirmDialog
        open={copy !== undefined}
        title={copy?.title ?? ""}
        confirmLabel={copy?.confirm ?? ""}
        tone={copy?.danger === true ? "danger" : "primary"}
        busy={busy}
        onCancel={() => setPending(undefined)}
        onConfirm={() => {
          if (pending !== undefined) void run(pending);
        }}
      >
        <p>{copy?.body}</p>
        <p className="muted small">
          {props.instance.display_name} · <code>{props.instance.id}</code>
        </p>
      </ConfirmDialog>
    </div>
  );
}

/** The launch values the control plane stored (the contract's `ResolvedLaunch`). */
interface StoredLaunch {
  readonly config?: Record<string, unknown>;
  readonly resources?: Record<string, number>;
  readonly storage?: readonly { name: string; path: string; mode: string }[];
  readonly endpoints?: readonly {
    name: string;
    port: number;
    host_port?: number;
    managed_ingress: boolean;
  }[];
  readonly python_packages?: readonly string[];
  readonly exposure_mode?: string;
}

function describeProgress(instance: Instance): string | undefined {
  switch (instance.state) {
    case "pending":
      return "The launch is queued for the node agent of the allocation's node. It moves to deploying when the agent picks it up.";
    case "deploying":
      return "The node agent is pulling the image by digest and starting the container.";
    case "starting":
    case "restarting":
      return "The container is starting; it is running once its readiness check passes.";
    case "stopping":
      return "The container is stopping.";
    case "decommissioning":
      return "The container and its scratch space are being removed.";
    case "failed":
      return "The instance failed. The Events tab says why.";
    default:
      return undefined;
  }
}

function Overview(props: {
  readonly instance: Instance;
  readonly profile: WorkloadProfile | undefined;
  readonly allocation: Allocation | undefined;
}) {
  const { instance, profile } = props;
  const session = useSession();
  const launch = instance.resolved_values as StoredLaunch;
  const title = (name: string) => titleOf(profile, name);
  const config = launch.config ?? {};
  const configNames =
    profile === undefined
      ? Object.keys(config)
      : orderParameters(profile).filter((name) => Object.hasOwn(config, name));
  const launchedBy =
    session.me.user !== undefined && instance.created_by === `user:${session.me.user.id}`
      ? "you"
      : instance.created_by;
  const progress = describeProgress(instance);
  return (
    <div className="overview">
      {progress !== undefined && (
        <Notice tone={instance.state === "failed" ? "danger" : "info"}>{progress}</Notice>
      )}
      <div className="preview-grid">
        <section className="card section" aria-label="Status">
          <h2 className="section-title">Status</h2>
          <Facts
            items={[
              ["State", <StateBadge key="s" state={instance.state} />],
              ["Desired state", humanize(instance.desired_state)],
              [
                "Since",
                <span key="t" title={instance.state_changed_at}>
                  {formatRelative(instance.state_changed_at)}
                </span>,
              ],
              ["Generation", String(instance.generation)],
              ["Engine", humanize(instance.engine)],
            ]}
          />
        </section>
        <section className="card section" aria-label="Placement">
          <h2 className="section-title">Placement</h2>
          <Facts
            items={[
              [
                "Allocation",
                <>
                  {props.allocation !== undefined && describeAllocation(props.allocation)}
                  <div className="muted small">
                    <code>{instance.target_allocation_id}</code>
                  </div>
                </>,
              ],
              [
                "Node",
                props.allocation !== undefined ? (
                  <code key="node">{props.allocation.node_id}</code>
                ) : (
                  "—"
                ),
              ],
              [
                "GPUs",
                instance.gpu_indices.length === 0
                  ? "None"
                  : `Indices ${instance.gpu_indices.join(", ")}`,
              ],
            ]}
          />
        </section>
      </div>
      <section className="card section" aria-label="Image">
        <h2 className="section-title">Image</h2>
        <Facts
          items={[
            [
              "Digest",
              <span className="digest-row" key="d">
                <code className="digest" data-instance-digest={instance.resolved_digest}>
                  {instance.resolved_digest}
                </code>
                <CopyButton text={instance.resolved_digest} />
              </span>,
            ],
            ["Artifact", <code key="a">{instance.artifact_id}</code>],
            ["App version", `${instance.app_slug} ${instance.app_version}`],
          ]}
        />
      </section>
      <section className="card section" aria-label="Resolved values">
        <h2 className="section-title">Resolved values</h2>
        <div className="preview-grid">
          <Facts
            items={RESOURCE_PARAMETERS.filter((name) => launch.resources?.[name] !== undefined).map(
              (name) => [title(name), String(launch.resources?.[name])],
            )}
          />
          <Facts
            items={[
              ...configNames.map((name): [ReactNode, ReactNode] => [
                title(name),
                profile === undefined
                  ? formatValue(config[name])
                  : formatParameter(profile, name, config[name]),
              ]),
              ...(launch.storage ?? []).map((mount): [ReactNode, ReactNode] => [
                `Mount ${mount.name}`,
                <>
                  {humanize(mount.mode)} at <code>{mount.path}</code>
                </>,
              ]),
            ]}
          />
        </div>
      </section>
      <section className="card section" aria-label="Provenance">
        <h2 className="section-title">Provenance</h2>
        <Facts
          items={[
            ["Launched", `${formatTime(instance.created_at)} by ${launchedBy}`],
            ["Correlation id", <code key="c">{instance.correlation_id}</code>],
            ["Instance id", <code key="i">{instance.id}</code>],
          ]}
        />
      </section>
    </div>
  );
}

function EventsTab(props: { readonly base: string }) {
  const events = useResource(
    props.base,
    (signal) => callApiList<InstanceEvent>(`${props.base}/events?limit=200`, signal),
    3000,
  );
  if (events.error !== undefined && events.data === undefined)
    return <ErrorNotice error={events.error} />;
  if (events.data === undefined) return <Loading label="Loading events…" />;
  if (events.data.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ol className="timeline" aria-label="Events">
      {events.data.map((event) => {
        const view = toEventView(event.type, event.data);
        return (
          <li
            key={event.id}
            className={`timeline-item${view.failed ? " timeline-failed" : ""}`}
            data-event-type={event.type}
          >
            <div className="timeline-dot" aria-hidden="true" />
            <div className="timeline-body">
              <div className="timeline-head">
                <span className="strong">{describeEventType(event.type)}</span>
                <time className="muted small" dateTime={event.created_at}>
                  {formatTime(event.created_at)}
                </time>
              </div>
              <p>{event.message}</p>
              {view.reasons.map(([key, value]) => (
                <p key={key} className="timeline-reason">
                  <span className="strong">{describeEventKey(key)}:</span> {value}
                </p>
              ))}
              {view.excerpts.map(([key, value]) => (
                <div key={key} className="excerpt">
                  <div className="muted small">{describeEventKey(key)}</div>
                  <pre className="code-block">{value}</pre>
                </div>
              ))}
              <div className="timeline-meta muted small">
                <span>
                  {event.type} · correlation <code>{event.correlation_id}</code>
                </span>
              </div>
              {view.facts.length > 0 && (
                <details className="timeline-details">
                  <summary>Details</summary>
                  <Facts
                    items={view.facts.map(([key, value]): [ReactNode, ReactNode] => [
                      key,
                      <code key={key}>{value}</code>,
                    ])}
                  />
                </details>
              )}
            </div>
          </li>
        );
      })}
    </ol>
  );
}

function AccessTab(props: {
  readonly instance: Instance;
  readonly base: string;
  readonly profile: WorkloadProfile | undefined;
  readonly allocation: Allocation | undefined;
}) {
  const session = useSession();
  const members = useResource(props.base, (signal) =>
    callApiList<InstanceMember>(`${props.base}/members`, signal),
  );
  // The managed URL (or why there is none) comes from the routes the platform recorded.
  const exposure = useResource(`${props.base}|endpoints|${props.instance.state}`, (signal) =>
    callApiList<InstanceEndpoint>(`${props.base}/endpoints`, signal),
  );
  const launch = props.instance.resolved_values as StoredLaunch;
  const nodeId = members.data?.[0]?.node_id ?? props.allocation?.node_id;
  const node = useResource(nodeId, async (signal): Promise<NodeRecord | undefined> => {
    try {
      return await callApi<NodeRecord>(`/nodes/${seg(nodeId ?? "")}`, { signal });
    } catch {
      return undefined; // Only operators may read nodes; others see the node id.
    }
  });
  const email = session.me.user?.email ?? "";
  const [user, setUser] = useState(email.includes("@") ? (email.split("@")[0] ?? "") : "");
  const userId = useId();
  const endpoints = launch.endpoints ?? [];
  const running = props.instance.state === "running";
  const nodeHost = node.data?.name ?? nodeId ?? "<node>";
  return (
    <div className="access">
      {!running && (
        <Notice tone="info">
          Endpoints answer once the instance is running; it is{" "}
          {humanize(props.instance.state).toLowerCase()} now.
        </Notice>
      )}
      {endpoints.length === 0 && <p className="muted">This app declares no endpoints.</p>}
      {endpoints.some((endpoint) => !endpoint.managed_ingress) && (
        <div className="field field-inline">
          <label htmlFor={userId}>Your SSH user on the node</label>
          <input
            id={userId}
            type="text"
            value={user}
            spellCheck={false}
            onChange={(event) => setUser(event.target.value)}
          />
        </div>
      )}
      {endpoints.map((endpoint) => {
        const declared = props.profile?.network.endpoints.find(
          (candidate) => candidate.name === endpoint.name,
        );
        const member = members.data?.find((candidate) => candidate.host_port !== null);
        const hostPort = endpoint.host_port ?? member?.host_port ?? undefined;
        const path = declared?.managed_ingress.default_open_path ?? "/";
        const view = exposure.data?.find((candidate) => candidate.name === endpoint.name);
        const url = view?.managed?.url;
        return (
          <section
            key={endpoint.name}
            className="card section"
            aria-label={`Endpoint ${endpoint.name}`}
            data-endpoint={endpoint.name}
          >
            <h2 className="section-title">
              {endpoint.name}{" "}
              <span className="muted small">
                {declared?.type.toUpperCase() ?? ""} · container port {endpoint.port}
              </span>
            </h2>
            {endpoint.managed_ingress ? (
              url !== undefined ? (
                <>
                  <p>
                    Open{" "}
                    <a href={url} target="_blank" rel="noreferrer noopener" data-managed-url>
                      {url}
                    </a>
                  </p>
                  <p className="muted small">
                    {view?.managed?.client_auth === "api_bearer"
                      ? "API endpoint: send a platform token or an API key of this endpoint as Authorization: Bearer."
                      : "Opens with your platform sign-in; the session belongs to this address alone."}
                  </p>
                </>
              ) : (
                <Notice tone="info" title="Managed ingress">
                  {view?.not_exposed?.message ??
                    "The platform creates a route for this endpoint; its link appears here once the route exists."}
                </Notice>
              )
            ) : node.loading && node.data === undefined ? (
              <Loading label="Looking up the node…" />
            ) : hostPort === undefined ? (
              <p className="muted">This endpoint is private and has no host port.</p>
            ) : (
              <TunnelCommand
                user={user.trim() || "<user>"}
                node={nodeHost}
                hostPort={hostPort}
                path={path}
              />
            )}
          </section>
        );
      })}
    </div>
  );
}

function TunnelCommand(props: {
  readonly user: string;
  readonly node: string;
  readonly hostPort: number;
  readonly path: string;
}) {
  const [local, setLocal] = useState(String(props.hostPort));
  const localId = useId();
  const port =
    /^\d{1,5}$/.test(local) && Number(local) > 0 && Number(local) < 65536
      ? local
      : String(props.hostPort);
  const command = `ssh -N -L ${port}:127.0.0.1:${props.hostPort} ${props.user}@${props.node}`;
  return (
    <div className="tunnel">
      <p>
        This endpoint is private: it listens on <code>127.0.0.1:{props.hostPort}</code> of the node
        only. Reach it through an SSH tunnel:
      </p>
      <div className="command">
        <code data-tunnel-command>{command}</code>
        <CopyButton text={command} />
      </div>
      <div className="field field-inline">
        <label htmlFor={localId}>Local port</label>
        <input
          id={localId}
          type="number"
          min={1}
          max={65535}
          value={local}
          onChange={(event) => setLocal(event.target.value)}
        />
      </div>
      <p className="muted">
        Keep the tunnel open, then browse to{" "}
        <code>
          http://127.0.0.1:{port}
          {props.path}
        </code>
        .
      </p>
    </div>
  );
}

/** The shapes a logs answer may take: lines of text, or records with a line. */
function toLogLines(body: unknown): string[] {
  if (typeof body === "string") return body.split("\n");
  if (body === null || typeof body !== "object") return [];
  const record = body as Record<string, unknown>;
  for (const key of ["lines", "items", "entries"]) {
    const value = record[key];
    if (Array.isArray(value))
      return value.map((item) => {
        if (typeof item === "string") return item;
        if (item !== null && typeof item === "object") {
          const entry = item as Record<string, unknown>;
          const text = entry.line ?? entry.message ?? entry.text ?? JSON.stringify(entry);
          const time = typeof entry.time === "string" ? `${entry.time} ` : "";
          return `${time}${String(text)}`;
        }
        return String(item);
      });
  }
  for (const key of ["text", "content", "log", "logs"]) {
    const value = record[key];
    if (typeof value === "string") return value.split("\n");
  }
  return [];
}

function LogsTab(props: { readonly base: string; readonly instance: Instance }) {
  const [tail, setTail] = useState(200);
  const [follow, setFollow] = useState(false);
  const tailId = useId();
  const logs = useResource(
    `${props.base}|${tail}`,
    async (signal) => {
      const response = await fetch(`/api/v1${props.base}/logs?tail=${tail}`, {
        credentials: "same-origin",
        cache: "no-store",
        signal,
        headers: { accept: "application/json, text/plain" },
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      if (!response.ok) {
        const error = body as { code?: string; message?: string; correlation_id?: string };
        throw new ApiRequestError(response.status, {
          code: error.code ?? "http.unexpected",
          message: error.message ?? `The control plane answered ${response.status}.`,
          ...(error.correlation_id !== undefined ? { correlation_id: error.correlation_id } : {}),
        });
      }
      return toLogLines(body);
    },
    follow ? 3000 : undefined,
  );
  const code = logs.error instanceof ApiRequestError ? logs.error.body.code : undefined;
  const notServed = code === "request.not_found";
  return (
    <div className="logs">
      <div className="logs-toolbar">
        <label htmlFor={tailId}>Lines</label>
        <select id={tailId} value={tail} onChange={(event) => setTail(Number(event.target.value))}>
          {[100, 200, 500, 1000].map((count) => (
            <option key={count} value={count}>
              Last {count}
            </option>
          ))}
        </select>
        <button type="button" className="button button-small button-ghost" onClick={logs.reload}>
          Refresh
        </button>
        <label className="logs-follow">
          <input
            type="checkbox"
            checked={follow}
            onChange={(event) => setFollow(event.target.checked)}
          />
          Follow (every 3 s)
        </label>
      </div>
      {notServed ? (
        <Notice tone="info" title="Logs are not available yet">
          This control plane does not serve container logs yet. The Events tab shows what the node
          agent reported, including package-install output.
        </Notice>
      ) : code === "instance.logs_unavailable" && logs.error instanceof ApiRequestError ? (
        <Notice tone="info" title="No logs to show">
          {logs.error.body.message}
        </Notice>
      ) : logs.error !== undefined ? (
        <ErrorNotice error={logs.error} title="Could not read the logs" />
      ) : logs.data === undefined ? (
        <Loading label="Loading logs…" />
      ) : logs.data.length === 0 || (logs.data.length === 1 && logs.data[0] === "") ? (
        <p className="muted">
          No log lines
          {props.instance.state === "running"
            ? " yet."
            : ` (the instance is ${props.instance.state}).`}
        </p>
      ) : (
        <pre className="code-block logs-output" role="log" aria-label="Log lines">
          {logs.data.join("\n")}
        </pre>
      )}
      <p className="muted small">
        Instance <code>{shortId(props.instance.id)}</code>
        {logs.loading ? " · reading…" : ""}
      </p>
    </div>
  );
}

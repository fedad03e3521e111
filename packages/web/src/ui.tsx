/** Small building blocks shared by the pages: headers, badges, notices, dialogs. */
import type { InstanceState } from "@gpuaas/contract";
import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { ApiRequestError } from "./api-client.js";
import { humanize } from "./format.js";

/** The title row of a page, with an optional lead paragraph and actions on the right. */
export function PageHeader(props: {
  readonly title: ReactNode;
  readonly lead?: ReactNode;
  readonly actions?: ReactNode;
  readonly eyebrow?: ReactNode;
}) {
  return (
    <header className="page-header">
      <div>
        {props.eyebrow !== undefined && <div className="eyebrow">{props.eyebrow}</div>}
        <h1 tabIndex={-1} data-page-title>
          {props.title}
        </h1>
        {props.lead !== undefined && <p className="lead">{props.lead}</p>}
      </div>
      {props.actions !== undefined && <div className="page-actions">{props.actions}</div>}
    </header>
  );
}

const STATE_TONES: Record<InstanceState, string> = {
  pending: "info",
  deploying: "info",
  starting: "info",
  restarting: "info",
  running: "success",
  stopping: "warning",
  stopped: "neutral",
  decommissioning: "warning",
  decommissioned: "neutral",
  failed: "danger",
  unknown: "neutral",
};

const TRANSITIONAL = new Set<InstanceState>([
  "pending",
  "deploying",
  "starting",
  "restarting",
  "stopping",
  "decommissioning",
]);

/** True while an instance is moving between states (the pages poll faster then). */
export function isTransitional(state: InstanceState): boolean {
  return TRANSITIONAL.has(state);
}

/** A coloured badge for an instance state; transitional states pulse. */
export function StateBadge(props: { readonly state: InstanceState }) {
  const tone = STATE_TONES[props.state] ?? "neutral";
  return (
    <span
      className={`badge badge-${tone}${isTransitional(props.state) ? " badge-live" : ""}`}
      data-state={props.state}
    >
      <span className="badge-dot" aria-hidden="true" />
      {humanize(props.state)}
    </span>
  );
}

/** A neutral pill for labels such as the support level. */
export function Pill(props: { readonly children: ReactNode; readonly tone?: string }) {
  return <span className={`pill pill-${props.tone ?? "neutral"}`}>{props.children}</span>;
}

/** A notice box; `alert` makes screen readers announce it. */
export function Notice(props: {
  readonly tone: "info" | "warning" | "danger" | "success";
  readonly title?: ReactNode;
  readonly children?: ReactNode;
  readonly alert?: boolean;
}) {
  return (
    <div
      className={`notice notice-${props.tone}`}
      role={props.alert === true ? "alert" : undefined}
    >
      {props.title !== undefined && <strong className="notice-title">{props.title}</strong>}
      {props.children !== undefined && <div className="notice-body">{props.children}</div>}
    </div>
  );
}

/** Shows an API error: its message, and the correlation id to quote when reporting it. */
export function ErrorNotice(props: { readonly error: unknown; readonly title?: string }) {
  const { error } = props;
  const message =
    error instanceof ApiRequestError
      ? error.body.message
      : error instanceof Error
        ? error.message
        : "Something went wrong.";
  const correlation = error instanceof ApiRequestError ? error.body.correlation_id : undefined;
  return (
    <Notice tone="danger" title={props.title ?? "Something went wrong"} alert>
      <p>{message}</p>
      {correlation !== undefined && (
        <p className="muted small">
          Correlation id <code>{correlation}</code>
        </p>
      )}
    </Notice>
  );
}

/** A loading placeholder announced politely. */
export function Loading(props: { readonly label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {props.label ?? "Loading…"}
    </div>
  );
}

/** An empty state with a sentence and an optional action. */
export function EmptyState(props: {
  readonly title: string;
  readonly children?: ReactNode;
  readonly action?: ReactNode;
}) {
  return (
    <div className="empty">
      <h2>{props.title}</h2>
      {props.children !== undefined && <p className="muted">{props.children}</p>}
      {props.action}
    </div>
  );
}

/** A label/value grid for read-only facts. */
export function Facts(props: { readonly items: readonly [ReactNode, ReactNode][] }) {
  return (
    <dl className="facts">
      {props.items.map(([term, value], index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the list is static per render
        <div className="fact" key={index}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A button that copies text and says so. */
export function CopyButton(props: { readonly text: string; readonly label?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = window.setTimeout(() => setCopied(false), 2000);
    return () => window.clearTimeout(timer);
  }, [copied]);
  return (
    <button
      type="button"
      className="button button-small button-ghost"
      onClick={() => {
        void navigator.clipboard
          ?.writeText(props.text)
          .then(() => setCopied(true))
          .catch(() => undefined);
      }}
    >
      <span aria-live="polite">{copied ? "Copied" : (props.label ?? "Copy")}</span>
    </button>
  );
}

/**
 * A confirmation dialog on the native `<dialog>` element: modal, focus kept inside, Escape
 * cancels, focus returns to the button that opened it.
 */
export function ConfirmDialog(props: {
  readonly open: boolean;
  readonly title: string;
  readonly children: ReactNode;
  readonly confirmLabel: string;
  readonly tone?: "danger" | "primary";
  readonly busy?: boolean;
  readonly onConfirm: () => void;
  readonly onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const bodyId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div id={bodyId} className="dialog-body">
        {props.children}
      </div>
      <div className="dialog-actions">
        <button type="button" className="button button-ghost" onClick={props.onCancel}>
          Cancel
        </button>
        <button
          type="button"
          className={`button ${props.tone === "danger" ? "button-danger" : "button-primary"}`}
          onClick={props.onConfirm}
          disabled={props.busy === true}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/**
 * The reserved `platform.*` wizard components. The platform owns them; a manifest only says in
 * which step they appear. Each shows its own errors beside it (`role="alert"`, referenced by
 * `aria-describedby`).
 */
import type { ResolvedLaunch, WorkloadProfile } from "@gpuaas/contract";
import { RESOURCE_PARAMETERS } from "@gpuaas/contract";
import { type ReactNode, useId, useState } from "react";
import type { Allocation, ServiceAccount } from "./api-types.js";
import {
  describeAccelerator,
  describeAllocation,
  formatParameter,
  formatValue,
  humanize,
  orderParameters,
  shortDigest,
  shortId,
  titleOf,
} from "./format.js";
import { Facts, Notice, Pill } from "./ui.js";
import {
  type ArtifactChoices,
  createInitialValues,
  isResourceParameter,
  PYTHON_PACKAGES_PARAMETER,
  type WizardIssue,
} from "./wizard-model.js";

/** The error messages of a component, shown under it. */
function ComponentErrors(props: { readonly id: string; readonly issues: readonly WizardIssue[] }) {
  const errors = props.issues.filter((issue) => issue.severity === "error");
  if (errors.length === 0) return null;
  return (
    <div id={props.id} className="field-error" role="alert">
      {[...new Set(errors.map((issue) => issue.message))].map((message) => (
        <p key={message}>{message}</p>
      ))}
    </div>
  );
}

/** A radio group of cards. */
function ChoiceGroup(props: {
  readonly legend: string;
  readonly description?: ReactNode;
  readonly issues: readonly WizardIssue[];
  readonly children: ReactNode;
  readonly name: string;
}) {
  const errorId = useId();
  const descriptionId = useId();
  const invalid = props.issues.some((issue) => issue.severity === "error");
  return (
    <fieldset
      className={`choice-group${invalid ? " field-invalid" : ""}`}
      data-invalid={invalid}
      aria-describedby={
        [props.description !== undefined ? descriptionId : "", invalid ? errorId : ""]
          .filter(Boolean)
          .join(" ") || undefined
      }
      data-component={props.name}
    >
      <legend>{props.legend}</legend>
      {props.description !== undefined && (
        <p id={descriptionId} className="help">
          {props.description}
        </p>
      )}
      <div className="choices">{props.children}</div>
      <ComponentErrors id={errorId} issues={props.issues} />
    </fieldset>
  );
}

/** `platform.target_allocation`: the project's active allocations with their shape. */
export function TargetAllocationPicker(props: {
  readonly allocations: readonly Allocation[];
  readonly selected: string | undefined;
  readonly issues: readonly WizardIssue[];
  readonly notes: readonly string[];
  readonly onSelect: (allocation: Allocation) => void;
}) {
  const name = useId();
  const active = props.allocations.filter((allocation) => allocation.state === "active");
  return (
    <>
      <ChoiceGroup
        legend="Allocation"
        name="platform.target_allocation"
        description="The workload runs on the node of this allocation and within its GPUs, CPU and memory."
        issues={props.issues}
      >
        {active.length === 0 && (
          <Notice tone="warning">
            Your project has no active allocation. Ask a platform operator for one.
          </Notice>
        )}
        {active.map((allocation) => (
          <label
            key={allocation.id}
            className={`choice${props.selected === allocation.id ? " choice-selected" : ""}`}
          >
            <input
              type="radio"
              name={name}
              value={allocation.id}
              checked={props.selected === allocation.id}
              onChange={() => props.onSelect(allocation)}
            />
            <span className="choice-body">
              <span className="choice-title">
                {describeAccelerator(allocation.accelerator)} · {allocation.cpu_architecture}
              </span>
              <span className="choice-shape">
                <span>
                  <strong>{allocation.gpu_indices.length}</strong> GPU
                </span>
                <span>
                  <strong>{allocation.cpu_cores}</strong> CPU cores
                </span>
                <span>
                  <strong>{allocation.memory_gib}</strong> GiB memory
                </span>
              </span>
              <span className="choice-meta">
                Storage: {allocation.storage_modes.map(humanize).join(", ")} · allocation{" "}
                <code>{shortId(allocation.id)}</code> on node{" "}
                <code>{shortId(allocation.node_id)}</code>
              </span>
            </span>
          </label>
        ))}
      </ChoiceGroup>
      {props.notes.length > 0 && (
        <Notice tone="info" title="Adjusted to fit this allocation">
          <ul>
            {props.notes.map((note) => (
              <li key={note}>{note}</li>
            ))}
          </ul>
        </Notice>
      )}
    </>
  );
}

/** `platform.artifact_selector`: verified published images for the allocation and GPU count. */
export function ArtifactSelector(props: {
  readonly choices: ArtifactChoices;
  readonly selected: string | undefined;
  readonly gpuCount: number;
  readonly issues: readonly WizardIssue[];
  readonly onSelect: (artifactId: string) => void;
}) {
  const name = useId();
  const eligible = props.choices.choices.filter((choice) => choice.eligible);
  const ineligible = props.choices.choices.filter((choice) => !choice.eligible);
  const effective = props.selected ?? props.choices.best?.id;
  return (
    <ChoiceGroup
      legend="Runtime image"
      name="platform.artifact_selector"
      description={`Verified, digest-pinned images that fit the chosen allocation with ${props.gpuCount} GPU${props.gpuCount === 1 ? "" : "s"}. The digest you pick is the one that runs.`}
      issues={props.issues}
    >
      {eligible.length === 0 && props.choices.problem !== undefined && (
        <Notice tone="warning">{props.choices.problem}</Notice>
      )}
      {eligible.map((choice) => (
        <label
          key={choice.artifact.id}
          className={`choice${effective === choice.artifact.id ? " choice-selected" : ""}`}
        >
          <input
            type="radio"
            name={name}
            value={choice.artifact.id}
            checked={effective === choice.artifact.id}
            onChange={() => props.onSelect(choice.artifact.id)}
          />
          <span className="choice-body">
            <span className="choice-title">
              {choice.artifact.artifact_name}{" "}
              {props.choices.best?.id === choice.artifact.id && (
                <Pill tone="brand">Best match</Pill>
              )}{" "}
              <Pill tone={choice.artifact.state === "promoted" ? "success" : "neutral"}>
                {choice.artifact.state}
              </Pill>
            </span>
            <code className="digest" data-digest={choice.artifact.digest}>
              {choice.artifact.digest}
            </code>
            <span className="choice-meta">
              {choice.artifact.platform !== undefined
                ? `${choice.artifact.platform.os}/${choice.artifact.platform.architecture}`
                : "multi-platform"}{" "}
              ·{" "}
              {choice.artifact.accelerator !== undefined
                ? describeAccelerator(choice.artifact.accelerator)
                : "CPU only"}{" "}
              · variant {humanize(choice.variant ?? "")}
            </span>
          </span>
        </label>
      ))}
      {ineligible.length > 0 && (
        <details className="ineligible">
          <summary>
            {ineligible.length} image{ineligible.length === 1 ? " does" : "s do"} not fit
          </summary>
          <ul>
            {ineligible.map((choice) => (
              <li key={choice.artifact.id}>
                <span className="strong">{choice.artifact.artifact_name}</span>{" "}
                <code>{shortDigest(choice.artifact.digest)}</code>: {choice.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </ChoiceGroup>
  );
}

/** `platform.operator_service_account`: the project service account the app acts as. */
export function ServiceAccountPicker(props: {
  readonly accounts: readonly ServiceAccount[];
  readonly selected: string | undefined;
  readonly required: boolean;
  readonly issues: readonly WizardIssue[];
  readonly onSelect: (id: string | undefined) => void;
}) {
  const id = useId();
  const errorId = useId();
  const invalid = props.issues.some((issue) => issue.severity === "error");
  return (
    <div className={`field${invalid ? " field-invalid" : ""}`} data-invalid={invalid}>
      <label htmlFor={id}>
        Service account
        {!props.required && <span className="optional-mark"> (optional)</span>}
      </label>
      <p className="help">The project identity the app's own automation acts as.</p>
      <select
        id={id}
        value={props.selected ?? ""}
        aria-invalid={invalid}
        aria-describedby={invalid ? errorId : undefined}
        onChange={(event) =>
          props.onSelect(event.target.value === "" ? undefined : event.target.value)
        }
      >
        <option value="">{props.required ? "Choose a service account…" : "None"}</option>
        {props.accounts.map((account) => (
          <option key={account.id} value={account.id}>
            {account.name} ({humanize(account.role)})
          </option>
        ))}
      </select>
      <ComponentErrors id={errorId} issues={props.issues} />
    </div>
  );
}

/** `platform.access_credential`: a project SSH/bootstrap credential. */
export function AccessCredentialPicker(props: {
  readonly credentials: readonly { readonly id: string; readonly name: string }[] | undefined;
  readonly selected: string | undefined;
  readonly required: boolean;
  readonly issues: readonly WizardIssue[];
  readonly onSelect: (id: string | undefined) => void;
}) {
  const id = useId();
  const errorId = useId();
  const invalid = props.issues.some((issue) => issue.severity === "error");
  return (
    <div className={`field${invalid ? " field-invalid" : ""}`} data-invalid={invalid}>
      <label htmlFor={id}>
        Access credential
        {!props.required && <span className="optional-mark"> (optional)</span>}
      </label>
      <p className="help">The project SSH or bootstrap credential the app uses on its host.</p>
      <select
        id={id}
        value={props.selected ?? ""}
        disabled={props.credentials === undefined}
        aria-invalid={invalid}
        aria-describedby={invalid ? errorId : undefined}
        onChange={(event) =>
          props.onSelect(event.target.value === "" ? undefined : event.target.value)
        }
      >
        <option value="">
          {props.credentials === undefined
            ? "No access credentials are managed here yet"
            : props.required
              ? "Choose a credential…"
              : "None"}
        </option>
        {(props.credentials ?? []).map((credential) => (
          <option key={credential.id} value={credential.id}>
            {credential.name}
          </option>
        ))}
      </select>
      <ComponentErrors id={errorId} issues={props.issues} />
    </div>
  );
}

/** `platform.review`: the launch as it will be submitted, read-only, with its warnings. */
export function LaunchReview(props: {
  readonly profile: WorkloadProfile;
  readonly appVersion: string;
  readonly allocation: Allocation | undefined;
  readonly artifact: { readonly name: string; readonly digest: string } | undefined;
  readonly launch: ResolvedLaunch | undefined;
  readonly request: unknown;
  readonly displayName: string;
  readonly serviceAccount: ServiceAccount | undefined;
  readonly warnings: readonly string[];
  readonly issues: readonly WizardIssue[];
  readonly onDisplayName: (value: string) => void;
}) {
  const nameId = useId();
  const nameError = useId();
  const [showRequest, setShowRequest] = useState(false);
  const { profile, launch } = props;
  const nameIssues = props.issues.filter((issue) => issue.pointer === "/display_name");
  const otherIssues = props.issues.filter(
    (issue) => issue.pointer !== "/display_name" && issue.severity === "error",
  );
  const overrides = (props.request as { resource_overrides?: Record<string, number> })
    .resource_overrides;
  const title = (name: string) => titleOf(profile, name);
  const configNames = orderParameters(profile).filter((name) => !isResourceParameter(name));
  const defaults = createInitialValues(profile);
  return (
    <div className="review" data-component="platform.review">
      <div className={`field${nameIssues.length > 0 ? " field-invalid" : ""}`}>
        <label htmlFor={nameId}>
          Instance name<span className="optional-mark"> (optional)</span>
        </label>
        <input
          id={nameId}
          type="text"
          maxLength={128}
          value={props.displayName}
          placeholder={profile.profile.display_name}
          aria-invalid={nameIssues.length > 0}
          aria-describedby={nameIssues.length > 0 ? nameError : undefined}
          onChange={(event) => props.onDisplayName(event.target.value)}
        />
        <ComponentErrors id={nameError} issues={nameIssues} />
      </div>
      {otherIssues.length > 0 && (
        <div role="alert" className="notice notice-danger">
          <strong className="notice-title">The launch cannot go ahead yet</strong>
          <ul>
            {[...new Set(otherIssues.map((issue) => issue.message))].map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="review-grid">
        <section className="review-block" aria-label="Target">
          <h3>Target</h3>
          <Facts
            items={[
              ["App", `${profile.profile.display_name} ${props.appVersion}`],
              [
                "Allocation",
                props.allocation === undefined ? (
                  "—"
                ) : (
                  <>
                    {describeAllocation(props.allocation)}
                    <div className="muted small">
                      <code>{props.allocation.id}</code>
                    </div>
                  </>
                ),
              ],
              [
                "Image",
                props.artifact === undefined ? (
                  "Chosen by the platform"
                ) : (
                  <>
                    {props.artifact.name}
                    <div>
                      <code className="digest" data-review-digest={props.artifact.digest}>
                        {props.artifact.digest}
                      </code>
                    </div>
                  </>
                ),
              ],
              ...(props.serviceAccount !== undefined
                ? ([["Service account", props.serviceAccount.name]] as [ReactNode, ReactNode][])
                : []),
            ]}
          />
        </section>
        <section className="review-block" aria-label="Resources">
          <h3>Resources</h3>
          <Facts
            items={RESOURCE_PARAMETERS.map((name) => [
              title(name),
              <>
                {launch?.resources[name] ?? formatValue(overrides?.[name])}
                {overrides?.[name] !== undefined &&
                  defaults[name] !== undefined &&
                  overrides[name] !== defaults[name] && (
                    <span className="muted small"> · default {formatValue(defaults[name])}</span>
                  )}
              </>,
            ])}
          />
          <p className="muted small review-note">Sent as the launch's resource overrides.</p>
        </section>
        <section className="review-block" aria-label="Configuration">
          <h3>Configuration</h3>
          <Facts
            items={configNames.map((name) => [
              title(name),
              name === PYTHON_PACKAGES_PARAMETER && launch !== undefined ? (
                launch.python_packages.length === 0 ? (
                  "(none)"
                ) : (
                  <code key="packages">{launch.python_packages.join(" ")}</code>
                )
              ) : (
                formatParameter(profile, name, launch?.config[name])
              ),
            ])}
          />
        </section>
        <section className="review-block" aria-label="Access and storage">
          <h3>Access and storage</h3>
          <Facts
            items={[
              ...(launch?.storage ?? []).map((mount): [ReactNode, ReactNode] => [
                `Mount ${mount.name}`,
                <>
                  {humanize(mount.mode)} at <code>{mount.path}</code>
                </>,
              ]),
              ...(launch?.endpoints ?? []).map((endpoint): [ReactNode, ReactNode] => [
                `Endpoint ${endpoint.name}`,
                endpoint.managed_ingress
                  ? "Managed ingress (platform URL)"
                  : endpoint.host_port !== undefined
                    ? `Private, 127.0.0.1:${endpoint.host_port} on the node`
                    : "Private",
              ]),
            ]}
          />
        </section>
      </div>
      {props.warnings.length > 0 && (
        <Notice tone="warning" title="Before you launch">
          <ul>
            {props.warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        </Notice>
      )}
      <button
        type="button"
        className="button button-small button-ghost"
        aria-expanded={showRequest}
        onClick={() => setShowRequest((value) => !value)}
      >
        {showRequest ? "Hide" : "Show"} the launch request
      </button>
      {showRequest && (
        <section aria-label="Launch request">
          <pre className="code-block">{JSON.stringify(props.request, null, 2)}</pre>
        </section>
      )}
    </div>
  );
}

/**
 * The launch wizard shell. Steps, their titles, descriptions, order and fields come from the
 * profile's `parameters.ui.launch_wizard`; the shell draws them, validates each step with the
 * contract's `resolveLaunch` before moving on, submits the same request body the API documents,
 * and maps the server's refusals back onto the fields by their JSON pointers.
 */
import { resolveLaunch, type WizardComponent, type WorkloadProfile } from "@gpuaas/contract";
import { useEffect, useMemo, useRef, useState } from "react";
import { ApiRequestError, callApi, callApiList, seg } from "./api-client.js";
import type { Allocation, AppVersion, Artifact, Instance, ServiceAccount } from "./api-types.js";
import { loadAllocations, loadArtifacts, loadVersion } from "./catalog-data.js";
import { FieldForm, type FormField } from "./field-form.js";
import { humanize } from "./format.js";
import {
  AccessCredentialPicker,
  ArtifactSelector,
  LaunchReview,
  ServiceAccountPicker,
  TargetAllocationPicker,
} from "./platform-components.js";
import { Link, navigate, useLocation } from "./router.js";
import { useSession } from "./session.js";
import { ErrorNotice, Loading, Notice, PageHeader } from "./ui.js";
import { useResource } from "./use-resource.js";
import {
  createWizardState,
  currentGpuCount,
  findStepOfPointer,
  fitToAllocation,
  groupFieldErrors,
  isPointerWithin,
  listArtifactChoices,
  listLaunchWarnings,
  mapServerRefusal,
  resolveEffectiveArtifactId,
  selectStepIssues,
  toComponentPointers,
  toSubmission,
  validateWizard,
  type WizardContext,
  type WizardIssue,
  type WizardState,
} from "./wizard-model.js";

interface WizardData {
  readonly version: AppVersion;
  readonly allocations: Allocation[];
  readonly artifacts: Artifact[];
  readonly serviceAccounts: ServiceAccount[];
}

/** The launch page of one app (`/catalog/:slug/launch?version=`). */
export function LaunchWizardPage(props: { readonly slug: string }) {
  const session = useSession();
  const location = useLocation();
  const requested = new URLSearchParams(location.search).get("version") ?? undefined;
  const projectId = session.project?.id as string;
  const data = useResource(`${props.slug}|${requested ?? ""}|${projectId}`, async (signal) => {
    const { version } = await loadVersion(props.slug, requested, signal);
    if (version === undefined) return undefined;
    const components = version.profile.parameters.ui.launch_wizard.steps.flatMap(
      (step) => step.components,
    );
    const wantsAccounts = components.some(
      (component) => component.kind === "platform.operator_service_account",
    );
    const [allocations, artifacts, serviceAccounts] = await Promise.all([
      loadAllocations(projectId, signal),
      loadArtifacts(props.slug, version.version, signal),
      wantsAccounts
        ? callApiList<ServiceAccount>(`/projects/${seg(projectId)}/service-accounts`, signal)
        : Promise.resolve([]),
    ]);
    return { version, allocations, artifacts, serviceAccounts } satisfies WizardData;
  });
  if (data.error !== undefined) return <ErrorNotice error={data.error} />;
  if (data.loading && data.data === undefined) return <Loading label="Preparing the wizard…" />;
  if (data.data === undefined)
    return (
      <Notice tone="warning" title="No such version">
        This app has no version {requested}. <Link href="/catalog">Back to the catalog</Link>
      </Notice>
    );
  return <Wizard key={data.data.version.id} data={data.data} projectId={projectId} />;
}

function Wizard(props: { readonly data: WizardData; readonly projectId: string }) {
  const { version, allocations, artifacts, serviceAccounts } = props.data;
  const profile = version.profile;
  const steps = profile.parameters.ui.launch_wizard.steps;
  const context: WizardContext = useMemo(
    () => ({
      profile,
      appVersion: version.version,
      allocations: allocations.filter((allocation) => allocation.state === "active"),
      artifacts,
      serviceAccounts,
      accessCredentials: undefined,
    }),
    [profile, version.version, allocations, artifacts, serviceAccounts],
  );
  const [start] = useState(() => initialState(profile, context));
  const [state, setState] = useState<WizardState>(start.state);
  const [fitNotes, setFitNotes] = useState<string[]>(start.notes);
  const [current, setCurrent] = useState(0);
  const [reached, setReached] = useState(0);
  const [shown, setShown] = useState<ReadonlySet<number>>(new Set());
  const [serverIssues, setServerIssues] = useState<WizardIssue[]>([]);
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<unknown>(undefined);
  const heading = useRef<HTMLHeadingElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const focusInvalid = useRef(false);

  const issues = useMemo(
    () => [...serverIssues, ...validateAll(context, state)],
    [context, state, serverIssues],
  );
  const step = steps[current];

  // Land on the step's heading when the step changes, or on the first invalid field after a
  // refused "Next"/"Launch".
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the step or the errors change
  useEffect(() => {
    if (focusInvalid.current) {
      focusInvalid.current = false;
      const invalid = panel.current?.querySelector<HTMLElement>(
        '[data-invalid="true"] input:not([type="radio"]), [data-invalid="true"] select, [data-invalid="true"] textarea, [data-invalid="true"] input[type="radio"]',
      );
      if (invalid !== null && invalid !== undefined) {
        invalid.focus();
        return;
      }
    }
    heading.current?.focus();
  }, [current, shown]);

  if (step === undefined)
    return <Notice tone="danger">This profile declares no wizard steps.</Notice>;

  const update = (next: Partial<WizardState>, touchedNames: readonly string[] = []) => {
    setServerIssues([]);
    setSubmitError(undefined);
    setState((previous) => ({
      ...previous,
      ...next,
      touched: new Set([...previous.touched, ...touchedNames]),
    }));
  };

  const stepIssues = (index: number) =>
    selectStepIssues(steps, index, issues).filter((issue) => issue.severity === "error");
  const visibleIssues = shown.has(current) ? selectStepIssues(steps, current, issues) : [];

  const goTo = (index: number) => {
    setCurrent(index);
    setReached((value) => Math.max(value, index));
  };

  const next = () => {
    setShown((value) => new Set([...value, current]));
    if (stepIssues(current).length > 0) {
      focusInvalid.current = true;
      return;
    }
    goTo(current + 1);
  };

  const launch = async () => {
    const everyStep = new Set(steps.map((_, index) => index));
    setShown(everyStep);
    const blocking = issues.filter((issue) => issue.severity === "error");
    if (blocking.length > 0) {
      const first = Math.min(...blocking.map((issue) => findStepOfPointer(steps, issue.pointer)));
      focusInvalid.current = true;
      setCurrent(first);
      return;
    }
    setSubmitting(true);
    setSubmitError(undefined);
    try {
      const instance = await callApi<Instance>(`/projects/${seg(props.projectId)}/app-instances`, {
        method: "POST",
        body: toSubmission(context, state),
      });
      navigate(`/instances/${encodeURIComponent(instance.id)}`);
    } catch (error) {
      setSubmitting(false);
      if (error instanceof ApiRequestError && error.status >= 400 && error.status < 500) {
        const mapped = mapServerRefusal(error.body);
        setServerIssues(mapped);
        setSubmitError(error);
        const first = Math.min(...mapped.map((issue) => findStepOfPointer(steps, issue.pointer)));
        focusInvalid.current = true;
        setCurrent(first);
      } else {
        setSubmitError(error);
      }
    }
  };

  const allocation = context.allocations.find((candidate) => candidate.id === state.allocationId);
  const gpuCount = currentGpuCount(profile, state);
  const choices = listArtifactChoices(profile, allocation, artifacts, gpuCount);
  const effectiveArtifactId = resolveEffectiveArtifactId(context, state);
  const effectiveArtifact = artifacts.find((artifact) => artifact.id === effectiveArtifactId);
  const isLast = current === steps.length - 1;
  const stepErrors = visibleIssues.filter((issue) => issue.severity === "error");

  const renderComponents = () => {
    const out: React.ReactNode[] = [];
    let run: { component: WizardComponent; index: number }[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const fields: FormField[] = run.map(({ component }) => ({
        name: component.name as string,
        required: component.required === true,
      }));
      const first = run[0]?.index ?? 0;
      out.push(
        <FieldForm
          key={`fields-${first}`}
          profile={profile}
          idPrefix={`${step.id}-${first}`}
          fields={fields}
          values={state.values}
          errors={groupFieldErrors(
            fields.map((field) => field.name),
            visibleIssues,
          )}
          onChange={(values) => {
            const touchedNames = Object.keys(values).filter(
              (name) => values[name] !== state.values[name],
            );
            if (touchedNames.length === 0) return;
            update({ values: { ...state.values, ...values } }, touchedNames);
          }}
        />,
      );
      run = [];
    };
    step.components.forEach((component, index) => {
      if (component.kind === "field") {
        run.push({ component, index });
        return;
      }
      flush();
      const own = visibleIssues.filter((issue) =>
        toComponentPointers(component).some((owner) => isPointerWithin(issue.pointer, owner)),
      );
      out.push(
        // biome-ignore lint/suspicious/noArrayIndexKey: components have no id; the manifest fixes their order
        <div key={`platform-${index}`} className="platform-component">
          {renderPlatform(component, own)}
        </div>,
      );
    });
    flush();
    return out;
  };

  const renderPlatform = (component: WizardComponent, own: WizardIssue[]) => {
    switch (component.kind) {
      case "platform.target_allocation":
        return (
          <TargetAllocationPicker
            allocations={context.allocations}
            selected={state.allocationId}
            issues={own}
            notes={fitNotes}
            onSelect={(chosen) => {
              const fitted = fitToAllocation(profile, state.values, state.touched, chosen);
              setFitNotes(describeFitNotes(profile, fitted.notes));
              update({ allocationId: chosen.id, values: fitted.values, artifactId: undefined });
            }}
          />
        );
      case "platform.artifact_selector":
        return (
          <ArtifactSelector
            choices={choices}
            selected={state.artifactId}
            gpuCount={gpuCount}
            issues={own}
            onSelect={(artifactId) => update({ artifactId })}
          />
        );
      case "platform.operator_service_account":
        return (
          <ServiceAccountPicker
            accounts={serviceAccounts}
            selected={state.serviceAccountId}
            required={component.required === true}
            issues={own}
            onSelect={(serviceAccountId) => update({ serviceAccountId })}
          />
        );
      case "platform.access_credential":
        return (
          <AccessCredentialPicker
            credentials={undefined}
            selected={state.accessCredentialId}
            required={component.required === true}
            issues={own}
            onSelect={(accessCredentialId) => update({ accessCredentialId })}
          />
        );
      case "platform.review": {
        const request = toSubmission(context, state);
        return (
          <LaunchReview
            profile={profile}
            appVersion={version.version}
            allocation={allocation}
            artifact={
              effectiveArtifact === undefined
                ? undefined
                : { name: effectiveArtifact.artifact_name, digest: effectiveArtifact.digest }
            }
            launch={resolveLaunch(profile, request).launch}
            request={request}
            displayName={state.displayName}
            serviceAccount={serviceAccounts.find(
              (account) => account.id === state.serviceAccountId,
            )}
            warnings={listLaunchWarnings(context, state)}
            issues={visibleIssues.filter(
              (issue) => findStepOfPointer(steps, issue.pointer) === current,
            )}
            onDisplayName={(displayName) => update({ displayName })}
          />
        );
      }
      default:
        return null;
    }
  };

  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="/catalog">Catalog</Link> <span aria-hidden="true">/</span>{" "}
        <Link
          href={`/catalog/${encodeURIComponent(profile.profile.slug)}?version=${encodeURIComponent(version.version)}`}
        >
          {profile.profile.display_name}
        </Link>{" "}
        <span aria-hidden="true">/</span> <span>Launch</span>
      </nav>
      <PageHeader
        title={`Launch ${profile.profile.display_name}`}
        lead={
          <>
            Version <code>{version.version}</code> · {humanize(profile.profile.support_level)}
          </>
        }
      />
      <div className="wizard">
        <nav aria-label="Launch steps" className="stepper">
          <ol>
            {steps.map((candidate, index) => {
              const errors = shown.has(index) && stepIssues(index).length > 0;
              const done = index < reached && !errors;
              const reachable = index <= reached;
              return (
                <li key={candidate.id}>
                  <button
                    type="button"
                    className={`step${index === current ? " step-current" : ""}${done ? " step-done" : ""}${errors ? " step-error" : ""}`}
                    aria-current={index === current ? "step" : undefined}
                    disabled={!reachable}
                    onClick={() => goTo(index)}
                  >
                    <span className="step-number" aria-hidden="true">
                      {errors ? "!" : done ? "✓" : index + 1}
                    </span>
                    <span className="step-title">{candidate.title}</span>
                    <span className="visually-hidden">
                      {errors ? " (has errors)" : done ? " (done)" : ""}
                    </span>
                  </button>
                </li>
              );
            })}
          </ol>
        </nav>
        <section
          className="wizard-panel card"
          aria-labelledby={`step-${step.id}-title`}
          data-step={step.id}
          ref={panel}
        >
          <div className="wizard-step-head">
            <div className="muted small">
              Step {current + 1} of {steps.length}
            </div>
            <h2 id={`step-${step.id}-title`} ref={heading} tabIndex={-1}>
              {step.title}
            </h2>
            {step.description !== undefined && <p className="lead">{step.description}</p>}
          </div>
          {stepErrors.length > 0 && serverIssues.length === 0 && (
            <p className="step-summary">
              {stepErrors.length === 1
                ? "One thing needs your attention on this step."
                : `${stepErrors.length} things need your attention on this step.`}
            </p>
          )}
          {submitError !== undefined && serverIssues.length === 0 && (
            <ErrorNotice error={submitError} title="The launch was refused" />
          )}
          {submitError instanceof ApiRequestError && serverIssues.length > 0 && (
            <Notice tone="danger" title="The control plane refused the launch">
              {stepErrors.length > 0
                ? "Change what is marked below, then launch again."
                : submitError.body.message}
              {submitError.body.correlation_id !== undefined && (
                <div className="muted small">
                  Correlation id <code>{submitError.body.correlation_id}</code>
                </div>
              )}
            </Notice>
          )}
          <form
            className="wizard-body"
            noValidate
            onSubmit={(event) => {
              event.preventDefault();
              if (isLast) void launch();
              else next();
            }}
          >
            {renderComponents()}
            <div className="wizard-actions">
              <button
                type="button"
                className="button button-ghost"
                onClick={() =>
                  current === 0
                    ? navigate(`/catalog/${encodeURIComponent(profile.profile.slug)}`)
                    : goTo(current - 1)
                }
              >
                {current === 0 ? "Cancel" : "Back"}
              </button>
              <button type="submit" className="button button-primary" disabled={submitting}>
                {isLast ? (submitting ? "Launching…" : "Launch") : "Next"}
              </button>
            </div>
          </form>
        </section>
      </div>
    </>
  );
}

/** Every issue of the launch; a schema the browser cannot compile becomes one issue, not a crash. */
function validateAll(context: WizardContext, state: WizardState): WizardIssue[] {
  try {
    return validateWizard(context, state);
  } catch (error) {
    return [
      {
        pointer: "",
        code: "wizard.internal",
        message: `The launch cannot be checked here: ${error instanceof Error ? error.message : String(error)}`,
        severity: "error",
      },
    ];
  }
}

/** The starting state: defaults, and the project's only active allocation preselected. */
function initialState(
  profile: WorkloadProfile,
  context: WizardContext,
): { readonly state: WizardState; readonly notes: string[] } {
  const state = createWizardState(profile);
  const only = context.allocations.length === 1 ? context.allocations[0] : undefined;
  if (only === undefined) return { state, notes: [] };
  const fitted = fitToAllocation(profile, state.values, state.touched, only);
  return {
    state: { ...state, allocationId: only.id, values: fitted.values },
    notes: describeFitNotes(profile, fitted.notes),
  };
}

function describeFitNotes(
  profile: WorkloadProfile,
  notes: readonly { readonly name: string; readonly from: unknown; readonly to: unknown }[],
): string[] {
  return notes.map((note) => {
    const title = profile.parameters.schema.properties[note.name]?.title ?? humanize(note.name);
    return `${title}: ${humanize(String(note.from))} → ${humanize(String(note.to))}`;
  });
}

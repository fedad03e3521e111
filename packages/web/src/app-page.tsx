/**
 * The profile preview: what an app is and needs, read from its normalized profile — metadata,
 * execution engine, endpoints, resources, storage, inputs and wizard outline. The raw manifest
 * appears only in the advanced view.
 */
import type { ParameterSchema, WorkloadProfile } from "@gpuaas/contract";
import { useId, useState } from "react";
import type { AppVersion, Artifact } from "./api-types.js";
import { assessLaunchability } from "./assess-launchability.js";
import { loadAllocations, loadArtifacts, loadEntitledApps, loadVersion } from "./catalog-data.js";
import { AppMark } from "./catalog-page.js";
import { formatValue, humanize, shortDigest } from "./format.js";
import { Link, navigate, useLocation } from "./router.js";
import { canOperate, useSession } from "./session.js";
import { ErrorNotice, Facts, Loading, Notice, PageHeader, Pill } from "./ui.js";
import { useResource } from "./use-resource.js";
import { isResourceParameter, resourceBounds } from "./wizard-model.js";

/** The preview page of one app (`/catalog/:slug?version=`). */
export function AppPage(props: { readonly slug: string }) {
  const session = useSession();
  const location = useLocation();
  const requested = new URLSearchParams(location.search).get("version") ?? undefined;
  const projectId = session.project?.id as string;
  const resource = useResource(`${props.slug}|${requested ?? ""}|${projectId}`, async (signal) => {
    const [loaded, allocations, entitled] = await Promise.all([
      loadVersion(props.slug, requested, signal),
      loadAllocations(projectId, signal),
      loadEntitledApps(projectId, signal),
    ]);
    const artifacts =
      loaded.version === undefined
        ? []
        : await loadArtifacts(props.slug, loaded.version.version, signal);
    return { ...loaded, allocations, artifacts, entitled: entitled.has(props.slug) };
  });
  if (resource.error !== undefined) return <ErrorNotice error={resource.error} />;
  if (resource.data === undefined) return <Loading label="Loading the profile…" />;
  const { version, all, allocations, artifacts, entitled } = resource.data;
  if (version === undefined)
    return (
      <Notice tone="warning" title="No such version">
        This app has no version {requested}. <Link href="/catalog">Back to the catalog</Link>
      </Notice>
    );
  const profile = version.profile;
  const verdict = assessLaunchability(profile, allocations, artifacts, entitled);
  const launchHref = `/catalog/${encodeURIComponent(props.slug)}/launch?version=${encodeURIComponent(version.version)}`;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="/catalog">Catalog</Link> <span aria-hidden="true">/</span>{" "}
        <span>{profile.profile.display_name}</span>
      </nav>
      <PageHeader
        eyebrow={
          <span className="eyebrow-row">
            <AppMark slug={profile.profile.slug} name={profile.profile.display_name} />
            <Pill tone="brand">{humanize(profile.profile.support_level)}</Pill>
          </span>
        }
        title={profile.profile.display_name}
        lead={profile.profile.description}
        actions={
          <>
            {all.length > 1 && (
              <label className="inline-select">
                <span className="muted small">Version</span>
                <select
                  value={version.version}
                  onChange={(event) =>
                    navigate(
                      `/catalog/${encodeURIComponent(props.slug)}?version=${encodeURIComponent(event.target.value)}`,
                      { replace: true },
                    )
                  }
                >
                  {all.map((candidate) => (
                    <option key={candidate.id} value={candidate.version}>
                      {candidate.version}
                      {candidate.published ? "" : " (unpublished)"}
                    </option>
                  ))}
                </select>
              </label>
            )}
            {verdict.launchable && version.published && canOperate(session.project, session.me) && (
              <Link href={launchHref} className="button button-primary">
                Launch
              </Link>
            )}
          </>
        }
      />
      {!version.published && (
        <Notice tone="warning" title="Unpublished version">
          This version is not published and cannot be launched.
        </Notice>
      )}
      {verdict.launchable ? (
        <Notice tone="success" title="Ready to launch">
          {verdict.summary}
        </Notice>
      ) : (
        <Notice tone="warning" title="Not launchable">
          <p>{verdict.summary}</p>
          {verdict.reasons.length > 0 && (
            <ul>
              {verdict.reasons.map((reason) => (
                <li key={reason}>{reason}</li>
              ))}
            </ul>
          )}
        </Notice>
      )}
      <div className="preview-grid preview-grid-2">
        <Section title="Profile">
          <Facts
            items={[
              ["Slug", <code key="s">{profile.profile.slug}</code>],
              ["Version", <code key="v">{version.version}</code>],
              ["Support level", humanize(profile.profile.support_level)],
              ["Launch mode", humanize(profile.profile.launch_mode)],
              ["Schema version", profile.profile.schema_version],
              [
                "Authoring gate",
                version.gate_report.ready ? (
                  <Pill key="gate" tone="success">
                    Ready
                  </Pill>
                ) : (
                  <Pill key="gate" tone="warning">
                    Not ready
                  </Pill>
                ),
              ],
            ]}
          />
        </Section>
        <Section title="Execution">
          <EngineSummary profile={profile} />
        </Section>
        <Section title="Resources">
          <Facts
            items={[
              ["GPUs", describeRange(profile, "gpu_count")],
              ["CPU cores", describeRange(profile, "cpu_cores")],
              ["Memory (GiB)", describeRange(profile, "memory_gib")],
              ["GPU placement", humanize(profile.resources.gpu.placement)],
            ]}
          />
        </Section>
        <Section title="Storage">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Mount</th>
                <th scope="col">Path</th>
                <th scope="col">Modes</th>
              </tr>
            </thead>
            <tbody>
              {profile.storage.mounts.map((mount) => (
                <tr key={mount.name}>
                  <td>
                    {mount.name}
                    {mount.required && <span className="muted small"> · required</span>}
                  </td>
                  <td>
                    <code>{mount.path}</code>
                  </td>
                  <td>{mount.modes.map(humanize).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </div>
      <Section title="Endpoints">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Port</th>
              <th scope="col">Type</th>
              <th scope="col">Authentication</th>
              <th scope="col">Managed ingress</th>
            </tr>
          </thead>
          <tbody>
            {profile.network.endpoints.map((endpoint) => (
              <tr key={endpoint.name}>
                <td>{endpoint.name}</td>
                <td>{endpoint.port}</td>
                <td>{endpoint.type.toUpperCase()}</td>
                <td>{humanize(endpoint.auth_pattern)}</td>
                <td>
                  {endpoint.managed_ingress.enabled ? (
                    <>
                      {humanize(endpoint.managed_ingress.client_auth_mode)}, opens{" "}
                      <code>{endpoint.managed_ingress.default_open_path}</code>
                      {endpoint.managed_ingress.websocket_required && " · websockets"}
                    </>
                  ) : (
                    "Private only"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Launch inputs">
        <p className="muted">
          The launch wizard asks for these in {profile.parameters.ui.launch_wizard.steps.length}{" "}
          steps: {profile.parameters.ui.launch_wizard.steps.map((step) => step.title).join(" → ")}.
        </p>
        <ParameterTable profile={profile} />
      </Section>
      <Section title="Images">
        <ImageTable profile={profile} artifacts={artifacts} />
      </Section>
      <AdvancedManifest version={version} />
    </>
  );
}

function Section(props: { readonly title: string; readonly children: React.ReactNode }) {
  const id = useId();
  return (
    <section className="section card" aria-labelledby={id}>
      <h2 id={id} className="section-title">
        {props.title}
      </h2>
      {props.children}
    </section>
  );
}

function describeRange(
  profile: WorkloadProfile,
  name: "gpu_count" | "cpu_cores" | "memory_gib",
): string {
  const { min, max } = resourceBounds(profile, name);
  const fallback = profile.parameters.schema.properties[name]?.default;
  const start =
    fallback !== undefined
      ? `, default ${formatValue(fallback)}`
      : name === "gpu_count" && profile.resources.gpu.default_count !== undefined
        ? `, default ${profile.resources.gpu.default_count}`
        : "";
  return `${max === undefined ? `at least ${min}` : min === max ? `${min}` : `${min} – ${max}`}${start}`;
}

function EngineSummary(props: { readonly profile: WorkloadProfile }) {
  const { execution } = props.profile;
  const env = Object.keys(execution.container_env ?? {});
  return (
    <>
      <Facts
        items={[
          ["Default engine", humanize(execution.default_engine)],
          [
            "Engines",
            <ul className="plain-list" key="e">
              {execution.supported_engines.map((engine) => (
                <li key={engine.engine}>
                  {humanize(engine.engine)} <span className="muted small">({engine.adapter})</span>{" "}
                  <Pill tone={engine.status === "active" ? "success" : "neutral"}>
                    {engine.status}
                  </Pill>
                </li>
              ))}
            </ul>,
          ],
          [
            "Working directory",
            execution.working_dir ? <code key="wd">{execution.working_dir}</code> : "Image default",
          ],
          [
            "Environment",
            env.length === 0 ? "None" : `${env.length} variable${env.length === 1 ? "" : "s"}`,
          ],
          [
            "Readiness",
            props.profile.validation.readiness.length === 0
              ? "None"
              : props.profile.validation.readiness
                  .map(
                    (probe) => `${probe.type.toUpperCase()} ${probe.endpoint}${probe.path ?? ""}`,
                  )
                  .join(", "),
          ],
        ]}
      />
      {execution.compose !== undefined && (
        <p className="muted small">
          Compose renderer <code>{execution.compose.renderer}</code>
          {execution.compose.topology !== undefined &&
            `: ${execution.compose.topology.description ?? ""} ${execution.compose.topology.services
              .map((service) => `${service.name} (${humanize(service.role)})`)
              .join(", ")}`}
        </p>
      )}
    </>
  );
}

function describeConstraints(
  profile: WorkloadProfile,
  name: string,
  declared: ParameterSchema,
): string {
  const parts: string[] = [];
  // Resource parameters are bounded by the resources section too; show what a launch accepts.
  const schema = isResourceParameter(name)
    ? (() => {
        const { min, max } = resourceBounds(profile, name);
        return { ...declared, minimum: min, ...(max !== undefined ? { maximum: max } : {}) };
      })()
    : declared;
  if (schema.enum !== undefined) parts.push(schema.enum.map(String).map(humanize).join(" / "));
  if (schema.minimum !== undefined && schema.maximum !== undefined)
    parts.push(`${schema.minimum} – ${schema.maximum}`);
  else if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  else if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.maxLength !== undefined) parts.push(`up to ${schema.maxLength} characters`);
  if (schema.pattern !== undefined) parts.push("pattern");
  return parts.join("; ");
}

function ParameterTable(props: { readonly profile: WorkloadProfile }) {
  const { properties, required = [] } = props.profile.parameters.schema;
  const order = props.profile.parameters.ui.order ?? [];
  const names = [
    ...order.filter((name) => Object.hasOwn(properties, name)),
    ...Object.keys(properties).filter((name) => !order.includes(name)),
  ];
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Input</th>
          <th scope="col">Type</th>
          <th scope="col">Default</th>
          <th scope="col">Allowed</th>
        </tr>
      </thead>
      <tbody>
        {names.map((name) => {
          const schema = properties[name] as ParameterSchema;
          return (
            <tr key={name}>
              <td>
                <span className="strong">{schema.title ?? humanize(name)}</span>{" "}
                {required.includes(name) && <span className="muted small">required</span>}
                <div className="muted small">
                  <code>{name}</code>
                  {isResourceParameter(name) && " · resource"}
                </div>
              </td>
              <td>{schema.type}</td>
              <td>{formatValue(schema.default)}</td>
              <td className="small">{describeConstraints(props.profile, name, schema)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function ImageTable(props: {
  readonly profile: WorkloadProfile;
  readonly artifacts: readonly Artifact[];
}) {
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Variant</th>
          <th scope="col">Built for</th>
          <th scope="col">Published images</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(props.profile.artifacts).map(([key, variant]) => {
          const records = props.artifacts.filter(
            (artifact) => artifact.artifact_name === variant.artifact_name,
          );
          const accelerator = variant.accelerator;
          return (
            <tr key={key}>
              <td>
                <span className="strong">{variant.artifact_name}</span>
                <div className="muted small">{humanize(key)}</div>
              </td>
              <td>
                {accelerator === undefined || accelerator.vendor === "none"
                  ? "CPU"
                  : [
                      accelerator.vendor.toUpperCase(),
                      accelerator.family,
                      accelerator.skus?.join("/"),
                    ]
                      .filter(Boolean)
                      .join(" ")}
                {variant.cpu_architectures !== undefined &&
                  ` · ${variant.cpu_architectures.join(", ")}`}
              </td>
              <td>
                {records.length === 0 ? (
                  <span className="muted">None yet</span>
                ) : (
                  <ul className="plain-list">
                    {records.map((record) => (
                      <li key={record.id}>
                        <code title={record.digest}>{shortDigest(record.digest)}</code>{" "}
                        <Pill tone={record.state === "promoted" ? "success" : "neutral"}>
                          {record.state}
                        </Pill>
                      </li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function AdvancedManifest(props: { readonly version: AppVersion }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  return (
    <section className="section advanced">
      <button
        type="button"
        className="button button-ghost"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((value) => !value)}
      >
        {open ? "Hide advanced" : "Advanced"}: raw manifest
      </button>
      <div id={id} hidden={!open}>
        {open && (
          <>
            <p className="muted small">
              The manifest as registered (read-only). Launches use the normalized profile above.
            </p>
            <section aria-label="Raw manifest">
              <pre className="code-block">{JSON.stringify(props.version.manifest, null, 2)}</pre>
            </section>
          </>
        )}
      </div>
    </section>
  );
}

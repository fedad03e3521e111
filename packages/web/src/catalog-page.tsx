/** The catalog: one card per app, saying whether this project can launch it and, if not, why. */
import type { ReactNode } from "react";
import type { Allocation, AppVersion, Artifact, CatalogApp } from "./api-types.js";
import { assessLaunchability, type Launchability } from "./assess-launchability.js";
import {
  loadAllocations,
  loadArtifacts,
  loadCatalog,
  loadEntitledApps,
  loadVersion,
  pickLatestPublished,
} from "./catalog-data.js";
import { humanize } from "./format.js";
import { Link } from "./router.js";
import { canOperate, useSession } from "./session.js";
import { EmptyState, ErrorNotice, Loading, PageHeader, Pill } from "./ui.js";
import { useResource } from "./use-resource.js";

/** One card's data. */
interface CatalogEntry {
  readonly app: CatalogApp;
  readonly version: AppVersion | undefined;
  readonly artifacts: readonly Artifact[];
  readonly verdict: Launchability | undefined;
  readonly error: unknown;
}

async function loadEntries(projectId: string, signal: AbortSignal): Promise<CatalogEntry[]> {
  const [apps, allocations, entitled] = await Promise.all([
    loadCatalog(signal),
    loadAllocations(projectId, signal),
    loadEntitledApps(projectId, signal),
  ]);
  return Promise.all(apps.map((app) => loadEntry(app, allocations, entitled, signal)));
}

async function loadEntry(
  app: CatalogApp,
  allocations: readonly Allocation[],
  entitled: ReadonlySet<string>,
  signal: AbortSignal,
): Promise<CatalogEntry> {
  const latest = pickLatestPublished(app);
  if (latest === undefined)
    return { app, version: undefined, artifacts: [], verdict: undefined, error: undefined };
  try {
    const [{ version }, artifacts] = await Promise.all([
      loadVersion(app.slug, latest, signal),
      loadArtifacts(app.slug, latest, signal),
    ]);
    const verdict =
      version === undefined
        ? undefined
        : assessLaunchability(version.profile, allocations, artifacts, entitled.has(app.slug));
    return { app, version, artifacts, verdict, error: undefined };
  } catch (error) {
    return { app, version: undefined, artifacts: [], verdict: undefined, error };
  }
}

/** The catalog page. */
export function CatalogPage() {
  const session = useSession();
  const projectId = session.project?.id;
  const entries = useResource(projectId, (signal) => loadEntries(projectId as string, signal));
  return (
    <>
      <PageHeader
        title="Catalog"
        lead={
          <>
            Curated apps you can launch on the allocations of{" "}
            <strong>{session.project?.display_name}</strong>. Each runs a digest-pinned image the
            platform verified.
          </>
        }
      />
      {entries.error !== undefined && <ErrorNotice error={entries.error} />}
      {entries.data === undefined && entries.error === undefined && (
        <Loading label="Loading the catalog…" />
      )}
      {entries.data !== undefined && entries.data.length === 0 && (
        <EmptyState title="The catalog is empty">
          A platform operator registers apps from their profile manifests.
        </EmptyState>
      )}
      {entries.data !== undefined && entries.data.length > 0 && (
        <ul className="card-grid" aria-label="Apps">
          {entries.data.map((entry) => (
            <li key={entry.app.id}>
              <AppCard entry={entry} canLaunch={canOperate(session.project, session.me)} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** A square with the app's initial, coloured from its slug (no app-specific artwork). */
export function AppMark(props: { readonly slug: string; readonly name: string }) {
  let hash = 0;
  for (const char of props.slug) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return (
    <span className={`app-mark app-mark-${hash % 6}`} aria-hidden="true">
      {props.name.trim().charAt(0).toUpperCase()}
    </span>
  );
}

function AppCard(props: { readonly entry: CatalogEntry; readonly canLaunch: boolean }) {
  const { app, version, verdict, error } = props.entry;
  const published = app.versions.filter((candidate) => candidate.published).length;
  const href = `/catalog/${encodeURIComponent(app.slug)}`;
  let status: ReactNode;
  if (error !== undefined) status = <ErrorNotice error={error} title="Could not check this app" />;
  else if (version === undefined)
    status = <StatusLine ok={false} summary="No published version yet." reasons={[]} />;
  else if (verdict !== undefined)
    status = (
      <StatusLine ok={verdict.launchable} summary={verdict.summary} reasons={verdict.reasons} />
    );
  return (
    <article className="card app-card" aria-labelledby={`app-${app.slug}`} data-app={app.slug}>
      <div className="app-card-head">
        <AppMark slug={app.slug} name={app.display_name} />
        <div>
          <h2 id={`app-${app.slug}`} className="app-card-title">
            <Link href={href}>{app.display_name}</Link>
          </h2>
          <div className="app-card-meta">
            <Pill tone={app.support_level === "platform_curated" ? "brand" : "neutral"}>
              {humanize(app.support_level)}
            </Pill>
            <span className="muted small">
              {published} published version{published === 1 ? "" : "s"}
              {version !== undefined && (
                <>
                  {" "}
                  · latest <code>{version.version}</code>
                </>
              )}
            </span>
          </div>
        </div>
      </div>
      <p className="app-card-description">{app.description}</p>
      <div className="app-card-status">{status}</div>
      <div className="app-card-actions">
        <Link href={href} className="button button-ghost">
          View profile
        </Link>
        {verdict?.launchable === true && props.canLaunch && version !== undefined && (
          <Link
            href={`${href}/launch?version=${encodeURIComponent(version.version)}`}
            className="button button-primary"
            aria-label={`Launch ${app.display_name}`}
          >
            Launch
          </Link>
        )}
      </div>
    </article>
  );
}

function StatusLine(props: {
  readonly ok: boolean;
  readonly summary: string;
  readonly reasons: readonly string[];
}) {
  return (
    <div className={`status-line ${props.ok ? "status-ok" : "status-blocked"}`}>
      <span className="status-icon" aria-hidden="true">
        {props.ok ? "✓" : "!"}
      </span>
      <div>
        <span className="status-label">{props.ok ? "Ready to launch" : "Not launchable"}</span>
        <span className="status-summary">{props.summary}</span>
        {props.reasons.length > 0 && (
          <ul className="status-reasons">
            {props.reasons.map((reason) => (
              <li key={reason}>{reason}</li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

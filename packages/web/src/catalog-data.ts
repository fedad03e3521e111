/** Loaders for catalog data the catalog, preview and wizard pages share. */
import { callApiList, seg } from "./api-client.js";
import type { Allocation, AppVersion, Artifact, CatalogApp } from "./api-types.js";

/** The newest published version of an app, or undefined. */
export function pickLatestPublished(app: CatalogApp): string | undefined {
  return [...app.versions]
    .filter((version) => version.published)
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0))[0]
    ?.version;
}

/** Every version of an app with its manifest and normalized profile. */
export async function loadVersions(slug: string, signal?: AbortSignal): Promise<AppVersion[]> {
  return callApiList<AppVersion>(`/apps/catalog/${seg(slug)}/versions`, signal);
}

/** The artifacts of a version the caller may launch (operators see every state). */
export async function loadArtifacts(
  slug: string,
  version: string,
  signal?: AbortSignal,
): Promise<Artifact[]> {
  return callApiList<Artifact>(
    `/apps/catalog/${seg(slug)}/versions/${seg(version)}/artifacts`,
    signal,
  );
}

/** The project's allocations. */
export async function loadAllocations(
  projectId: string,
  signal?: AbortSignal,
): Promise<Allocation[]> {
  return callApiList<Allocation>(`/projects/${seg(projectId)}/allocations`, signal);
}

/** The catalog. */
export async function loadCatalog(signal?: AbortSignal): Promise<CatalogApp[]> {
  return callApiList<CatalogApp>("/apps/catalog", signal);
}

/** One version of an app, or the newest published one when `version` is undefined. */
export async function loadVersion(
  slug: string,
  version: string | undefined,
  signal?: AbortSignal,
): Promise<{ readonly version: AppVersion | undefined; readonly all: AppVersion[] }> {
  const all = await loadVersions(slug, signal);
  const sorted = [...all].sort((a, b) =>
    a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0,
  );
  const chosen =
    version !== undefined
      ? sorted.find((candidate) => candidate.version === version)
      : (sorted.find((candidate) => candidate.published) ?? sorted[0]);
  return { version: chosen, all: sorted };
}

/** The apps the project is entitled to launch (an app without an entry is not entitled). */
export async function loadEntitledApps(
  projectId: string,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const entries = await callApiList<{ app_slug: string; enabled: boolean }>(
    `/projects/${seg(projectId)}/apps/entitlements`,
    signal,
  );
  return new Set(entries.filter((entry) => entry.enabled).map((entry) => entry.app_slug));
}

/**
 * The browser session: sign-in trades a token for the control plane's HttpOnly cookie, so the
 * console never keeps a credential where a script could read it. A login link `/#token=…` signs
 * in once and removes the token from the address bar and the history before anything else runs.
 */
import { createContext, useContext } from "react";
import { callApi } from "./api-client.js";
import type { Me, ProjectWithRole } from "./api-types.js";

/** What every page knows about the signed-in user. */
export interface Session {
  readonly me: Me;
  readonly project: ProjectWithRole | undefined;
  readonly selectProject: (projectId: string) => void;
  readonly signOut: () => Promise<void>;
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The session of a signed-in page; pages are only rendered inside one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === undefined) throw new Error("useSession outside a signed-in page");
  return session;
}

/** Exchanges a token for the session cookie. */
export async function signIn(token: string): Promise<void> {
  await callApi("/sessions", { method: "POST", body: { token: token.trim() } });
}

/** Ends the session (the server revokes its token and clears the cookie). */
export async function signOut(): Promise<void> {
  await callApi("/sessions/current", { method: "DELETE" });
}

/**
 * Takes the token out of a `#token=…` login link and strips the fragment from the URL (replacing
 * the history entry), returning the token if there was one.
 */
export function takeLoginLinkToken(): string | undefined {
  const hash = window.location.hash;
  if (!hash.startsWith("#")) return undefined;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get("token");
  if (token === null) return undefined;
  window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}`);
  return token.length > 0 ? token : undefined;
}

const PROJECT_KEY = "gpuaas.project";

/** The project the user last worked in, if it is still one of theirs. */
export function loadPreferredProject(me: Me): ProjectWithRole | undefined {
  let stored: string | null = null;
  try {
    stored = window.localStorage.getItem(PROJECT_KEY);
  } catch {
    stored = null;
  }
  return me.projects.find((project) => project.id === stored) ?? me.projects[0];
}

/** Remembers the chosen project for the next visit. */
export function storePreferredProject(projectId: string): void {
  try {
    window.localStorage.setItem(PROJECT_KEY, projectId);
  } catch {
    // Storage may be disabled; the choice then lasts for this page only.
  }
}

/** True when the role may launch and operate instances (viewers read only). */
export function canOperate(project: ProjectWithRole | undefined, me: Me): boolean {
  if (me.platform_role === "platform_operator") return true;
  return project !== undefined && project.role !== "project_viewer";
}

/**
 * The console shell: signs in from a login link, keeps the session, draws the top bar and routes
 * to the pages. Every page below it is generic over the catalog: nothing here knows an app.
 */
import { useCallback, useEffect, useMemo, useState } from "react";
import { callApi, isSignedOutError } from "./api-client.js";
import type { Me } from "./api-types.js";
import { AppPage } from "./app-page.js";
import { CatalogPage } from "./catalog-page.js";
import { IngressSignInPage } from "./ingress-sign-in-page.js";
import { InstancePage } from "./instance-page.js";
import { InstancesPage } from "./instances-page.js";
import { LaunchWizardPage } from "./launch-wizard-page.js";
import { Link, navigate, parseRoute, type Route, useLocation } from "./router.js";
import {
  loadPreferredProject,
  type Session,
  SessionContext,
  signIn,
  signOut,
  storePreferredProject,
  takeLoginLinkToken,
} from "./session.js";
import { SignInPage } from "./sign-in-page.js";
import { EmptyState, ErrorNotice, Loading } from "./ui.js";

type Phase =
  | { readonly kind: "starting" }
  | { readonly kind: "signed-out"; readonly error?: unknown; readonly notice?: string }
  | { readonly kind: "signed-in"; readonly me: Me }
  | { readonly kind: "failed"; readonly error: unknown };

/** Reads the login-link token before the first render, so it never lingers in the URL. */
const linkToken = takeLoginLinkToken();

/** The console. */
export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: "starting" });
  const [projectId, setProjectId] = useState<string | undefined>(undefined);
  const location = useLocation();
  const route = parseRoute(location.pathname);

  const loadMe = useCallback(async () => {
    try {
      const me = await callApi<Me>("/me");
      setProjectId(loadPreferredProject(me)?.id);
      setPhase({ kind: "signed-in", me });
    } catch (error) {
      setPhase(isSignedOutError(error) ? { kind: "signed-out" } : { kind: "failed", error: error });
    }
  }, []);

  useEffect(() => {
    if (linkToken === undefined) {
      void loadMe();
      return;
    }
    signIn(linkToken)
      .then(loadMe)
      .catch((error: unknown) => setPhase({ kind: "signed-out", error }));
  }, [loadMe]);

  // A login link opened in a tab that already shows the console changes only the fragment.
  useEffect(() => {
    const onHashChange = () => {
      const token = takeLoginLinkToken();
      if (token === undefined) return;
      setPhase({ kind: "starting" });
      signIn(token)
        .then(loadMe)
        .catch((error: unknown) => setPhase({ kind: "signed-out", error }));
    };
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, [loadMe]);

  const session = useMemo<Session | undefined>(() => {
    if (phase.kind !== "signed-in") return undefined;
    const me = phase.me;
    return {
      me,
      project: me.projects.find((project) => project.id === projectId) ?? me.projects[0],
      selectProject: (id: string) => {
        storePreferredProject(id);
        setProjectId(id);
      },
      signOut: async () => {
        try {
          await signOut();
        } finally {
          setPhase({ kind: "signed-out", notice: "You are signed out." });
          navigate("/sign-in", { replace: true });
        }
      },
    };
  }, [phase, projectId]);

  // Move focus to the page title on navigation, so keyboard and screen-reader users land there.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on every navigation
  useEffect(() => {
    const title = document.querySelector<HTMLElement>("[data-page-title]");
    title?.focus({ preventScroll: true });
  }, [location.pathname]);

  if (phase.kind === "starting") return <Loading label="Opening the console…" />;
  if (phase.kind === "failed")
    return (
      <main className="main narrow">
        <ErrorNotice error={phase.error} title="The console cannot reach the control plane" />
      </main>
    );
  if (phase.kind === "signed-out" || session === undefined) {
    return (
      <SignInPage
        error={phase.kind === "signed-out" ? phase.error : undefined}
        notice={phase.kind === "signed-out" ? phase.notice : undefined}
        onSignedIn={async () => {
          await loadMe();
          if (route.page === "sign-in") navigate("/catalog", { replace: true });
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar route={route} session={session} />
      <main id="main" className="main">
        {route.page === "ingress-sign-in" ? (
          <IngressSignInPage search={location.search} />
        ) : (
          <RouteView route={route} session={session} />
        )}
      </main>
    </SessionContext.Provider>
  );
}

function RouteView(props: { readonly route: Route; readonly session: Session }) {
  const { route, session } = props;
  if (session.project === undefined) {
    return (
      <EmptyState title="You are not a member of any project">
        Ask an organization admin to add you to a project; the catalog and your instances live in
        projects.
      </EmptyState>
    );
  }
  switch (route.page) {
    case "catalog":
    case "sign-in":
    case "ingress-sign-in":
      return <CatalogPage />;
    case "app":
      return <AppPage slug={route.slug} />;
    case "launch":
      return <LaunchWizardPage slug={route.slug} />;
    case "instances":
      return <InstancesPage />;
    case "instance":
      return <InstancePage instanceId={route.instanceId} tab={route.tab} />;
    case "not-found":
      return (
        <EmptyState
          title="There is no page here"
          action={
            <Link className="button button-primary" href="/catalog">
              Go to the catalog
            </Link>
          }
        />
      );
  }
}

function TopBar(props: { readonly route: Route; readonly session: Session }) {
  const { route, session } = props;
  const section = route.page === "instances" || route.page === "instance" ? "instances" : "catalog";
  const user = session.me.user;
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <Link href="/catalog" className="brand" aria-label="gpuaas console home">
          <span className="brand-mark" aria-hidden="true" />
          gpuaas
        </Link>
        <nav aria-label="Main" className="nav">
          <Link
            href="/catalog"
            className="nav-link"
            aria-current={section === "catalog" ? "page" : undefined}
          >
            Catalog
          </Link>
          <Link
            href="/instances"
            className="nav-link"
            aria-current={section === "instances" ? "page" : undefined}
          >
            Instances
          </Link>
        </nav>
        <div className="topbar-right">
          {session.me.projects.length > 1 ? (
            <label className="project-picker">
              <span className="muted small">Project</span>
              <select
                value={session.project?.id ?? ""}
                onChange={(event) => session.selectProject(event.target.value)}
              >
                {session.me.projects.map((project) => (
                  <option key={project.id} value={project.id}>
                    {project.display_name}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            session.project !== undefined && (
              <span className="project-name" title="Project">
                {session.project.display_name}
              </span>
            )
          )}
          <span className="user" title={user?.email}>
            {user?.display_name ?? "Signed in"}
          </span>
          <button
            type="button"
            className="button button-small button-ghost"
            onClick={() => void session.signOut()}
          >
            Sign out
          </button>
        </div>
      </div>
    </header>
  );
}

/**
 * Sign-in for a managed browser endpoint (`/ingress/sign-in?rd=<original URL>`). The edge sends a
 * browser here when it has no session on the endpoint's own host. The signed-in user's console
 * session asks for a one-time ticket bound to that host, and the browser goes on to the host,
 * where the ticket becomes a session cookie of that host alone. The console's own cookie never
 * leaves the console's origin.
 */
import { useEffect, useState } from "react";
import { ApiRequestError, callApi } from "./api-client.js";
import type { IngressTicket } from "./api-types.js";
import { Loading, Notice } from "./ui.js";

function describeRefusal(error: unknown): string {
  if (error instanceof ApiRequestError) {
    if (error.body.code === "auth.forbidden")
      return "You may not open this endpoint: it is open to the instance's owner and, by the platform's policy, its project's members.";
    if (error.body.code === "ingress.unknown_route")
      return "No running instance serves this address any more. It may have been stopped.";
    if (error.body.code === "ingress.invalid_redirect")
      return "This sign-in link does not point at a managed endpoint of this platform.";
    return error.body.message;
  }
  return "The sign-in failed. Try again.";
}

/** Trades the console session for a ticket to `rd` and continues there. */
export function IngressSignInPage(props: { readonly search: string }) {
  const rd = new URLSearchParams(props.search).get("rd") ?? "";
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (rd === "") return;
    const controller = new AbortController();
    callApi<IngressTicket>("/ingress/tickets", {
      method: "POST",
      body: { rd },
      signal: controller.signal,
    })
      .then((ticket) => window.location.assign(ticket.redirect_url))
      .catch((reason: unknown) => {
        if (!controller.signal.aborted) setError(reason);
      });
    return () => controller.abort();
  }, [rd]);
  let host = "";
  try {
    host = rd === "" ? "" : new URL(rd).host;
  } catch {
    host = "";
  }
  return (
    <div className="main narrow">
      <h1 tabIndex={-1} data-page-title>
        Opening {host === "" ? "the endpoint" : host}
      </h1>
      {rd === "" ? (
        <Notice tone="warning">This sign-in link names no endpoint to open.</Notice>
      ) : error !== undefined ? (
        <Notice tone="warning" title="Not signed in to the endpoint">
          {describeRefusal(error)}
        </Notice>
      ) : (
        <Loading label="Signing you in to the endpoint…" />
      )}
    </div>
  );
}

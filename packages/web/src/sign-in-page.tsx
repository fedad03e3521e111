/** Sign-in: paste the token `gpuaas up` printed (or open its login link). */
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { ApiRequestError } from "./api-client.js";
import { signIn } from "./session.js";
import { Notice } from "./ui.js";

function describeSignInError(error: unknown): string {
  if (error instanceof ApiRequestError) {
    if (error.body.code === "auth.invalid_token")
      return "That token is unknown, revoked or expired. Check that you copied all of it.";
    if (error.body.code === "auth.session_needs_user")
      return "Service-account tokens cannot sign in to the console; use a user's token.";
    if (error.body.code === "request.invalid") return "Paste a token first.";
    return error.body.message;
  }
  return "The sign-in failed. Try again.";
}

/** The sign-in page. */
export function SignInPage(props: {
  readonly error?: unknown;
  readonly notice?: string | undefined;
  readonly onSignedIn: () => Promise<void>;
}) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(props.error);
  const inputId = useId();
  const errorId = useId();
  const helpId = useId();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (token.trim().length === 0) {
      setError(
        new ApiRequestError(400, { code: "request.invalid", message: "Paste a token first." }),
      );
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token);
      setToken("");
      await props.onSignedIn();
    } catch (reason) {
      setError(reason);
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <div className="signin-card">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          gpuaas
        </div>
        <h1 tabIndex={-1} data-page-title>
          Sign in to the console
        </h1>
        <p className="muted">Launch and operate workloads on your project's GPU allocations.</p>
        {props.notice !== undefined && error === undefined && (
          <Notice tone="success">{props.notice}</Notice>
        )}
        <form onSubmit={(event) => void submit(event)} noValidate>
          <div className={`field${error !== undefined ? " field-invalid" : ""}`}>
            <label htmlFor={inputId}>Access token</label>
            <input
              ref={input}
              id={inputId}
              name="token"
              type="password"
              autoComplete="off"
              spellCheck={false}
              value={token}
              onChange={(event) => setToken(event.target.value)}
              aria-invalid={error !== undefined}
              aria-describedby={`${helpId}${error !== undefined ? ` ${errorId}` : ""}`}
              placeholder="gpuaas_pat_…"
            />
            <p id={helpId} className="help">
              Paste the operator token <code>gpuaas up</code> printed, or a token an admin gave you.
              It is exchanged for a session cookie and not kept by the browser.
            </p>
            {error !== undefined && (
              <p id={errorId} className="field-error" role="alert">
                {describeSignInError(error)}
              </p>
            )}
          </div>
          <button type="submit" className="button button-primary button-block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}

/**
 * Loading and polling API data in components: `useResource` loads once per key and can poll, so
 * pages show state changes without a manual reload. Polling pauses while the tab is hidden.
 */
import { useCallback, useEffect, useRef, useState } from "react";

/** What a loader has produced so far. */
export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  /** Loads again now (after an action). */
  readonly reload: () => void;
}

/**
 * Runs `load` when `key` changes, and every `pollMs` when given. The previous data stays visible
 * while a poll runs; a failed poll keeps the data and reports the error.
 */
export function useResource<T>(
  key: string | undefined,
  load: (signal: AbortSignal) => Promise<T>,
  pollMs?: number,
): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(key !== undefined);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const keyRef = useRef(key);

  useEffect(() => {
    if (keyRef.current !== key) {
      keyRef.current = key;
      setData(undefined);
    }
  }, [key]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` is how a poll or reload asks for a fresh load
  useEffect(() => {
    if (key === undefined) return;
    const controller = new AbortController();
    setLoading(true);
    loadRef
      .current(controller.signal)
      .then((value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      })
      .catch((reason: unknown) => {
        if (controller.signal.aborted) return;
        setError(reason);
        setLoading(false);
      });
    return () => controller.abort();
  }, [key, tick]);

  useEffect(() => {
    if (key === undefined || pollMs === undefined) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") setTick((value) => value + 1);
    }, pollMs);
    return () => window.clearInterval(timer);
  }, [key, pollMs]);

  const reload = useCallback(() => setTick((value) => value + 1), []);
  return { data, error, loading, reload };
}

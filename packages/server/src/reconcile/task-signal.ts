/**
 * In-process wake-ups for long polls: a lease poll waits on its node's key, a logs request on its
 * task's key, and whoever queues or completes the matching task notifies it. Waits are bounded
 * and the pollers re-read the store anyway, so a notify missed (another replica queued the task)
 * costs at most one poll interval, never correctness.
 */

/** A set of keyed wake-ups; `close` releases every waiter and refuses new waits. */
export class TaskSignal {
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;

  /** True once {@link close} ran: pollers should answer with what they have. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Wakes every waiter of `key`. */
  notify(key: string): void {
    const waiters = this.#waiters.get(key);
    if (waiters === undefined) return;
    this.#waiters.delete(key);
    for (const wake of waiters) wake();
  }

  /** Resolves on a notify of `key`, after `ms`, on `signal` abort or on close, whichever is first. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted === true || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(key);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(key, waiters);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        const current = this.#waiters.get(key);
        current?.delete(done);
        if (current?.size === 0) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      waiters.add(done);
    });
  }

  /** Releases every waiter; later waits resolve at once. */
  close(): void {
    this.#closed = true;
    for (const key of [...this.#waiters.keys()]) this.notify(key);
  }
}

const signals = new WeakMap<object, TaskSignal>();

/** The signal of one app (keyed by its context object), created on first use. */
export function taskSignalFor(owner: object): TaskSignal {
  let signal = signals.get(owner);
  if (signal === undefined) {
    signal = new TaskSignal();
    signals.set(owner, signal);
  }
  return signal;
}

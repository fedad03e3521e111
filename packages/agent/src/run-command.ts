import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";

/** One program invocation: an argument array, never a shell line. */
export interface CommandRequest {
  readonly file: string;
  readonly args: readonly string[];
  /** Added to (or, with `undefined`, removed from) the agent's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs: number;
  /** Bytes kept from each of stdout and stderr; the child is killed when stdout passes it. */
  readonly maxOutputBytes?: number;
  readonly signal?: AbortSignal;
}

/** What a program did. Never throws for a non-zero exit; `spawnError` is set when it did not run. */
export interface CommandResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
  /** `ENOENT` when the program is not installed, or another spawn error code. */
  readonly spawnError?: string;
}

/** Runs commands; a port so tests and other hosts can substitute their own. */
export type CommandRunner = (request: CommandRequest) => Promise<CommandResult>;

const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const KILL_GRACE_MS = 2_000;

/**
 * Runs a program with `child_process.spawn` (no shell), a hard timeout (SIGTERM, then SIGKILL)
 * and bounded output.
 *
 * @example
 * await runCommand({ file: "podman", args: ["version", "--format", "json"], timeoutMs: 10_000 })
 */
export const runCommand: CommandRunner = (request) => {
  const started = Date.now();
  const max = request.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [key, value] of Object.entries(request.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return new Promise((resolve) => {
    const child = spawn(request.file, [...request.args], {
      shell: false,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout = new BoundedBuffer(max);
    const stderr = new BoundedBuffer(Math.min(max, 256 * 1024));
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      killTimer ??= setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, request.timeoutMs);
    timer.unref();
    const onAbort = (): void => kill();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      // A runaway stream (a huge log) is cut off rather than buffered without bound.
      if (!stdout.push(chunk)) kill();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
    });
    const finish = (result: Omit<CommandResult, "durationMs">): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      request.signal?.removeEventListener("abort", onAbort);
      resolve({ ...result, durationMs: Date.now() - started });
    };
    child.once("error", (error: NodeJS.ErrnoException) => {
      finish({
        exitCode: null,
        signal: null,
        stdout: "",
        stderr: "",
        timedOut: false,
        truncated: false,
        spawnError: error.code ?? "spawn_failed",
      });
    });
    child.once("close", (code, signal) => {
      finish({
        exitCode: code,
        signal,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        timedOut,
        truncated: stdout.truncated || stderr.truncated,
      });
    });
  });
};

class BoundedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  /** Keeps the chunk if it fits; false once the limit is passed. */
  push(chunk: Buffer): boolean {
    if (this.size >= this.max) {
      this.truncated = true;
      return false;
    }
    const room = this.max - this.size;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
    if (kept.length < chunk.length) {
      this.truncated = true;
      return false;
    }
    return true;
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * Finds an executable on `PATH` (or checks an absolute path) without running it.
 *
 * @example
 * await findExecutable("podman") // "/usr/bin/podman" or undefined
 */
export async function findExecutable(
  name: string,
  pathVariable: string = process.env.PATH ?? "",
): Promise<string | undefined> {
  const candidates = isAbsolute(name)
    ? [name]
    : pathVariable
        .split(delimiter)
        .filter((dir) => dir.length > 0)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next directory.
    }
  }
  return undefined;
}

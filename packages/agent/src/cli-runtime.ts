import {
  type ContainerCreateRequest,
  type ContainerDetails,
  type ContainerRuntime,
  type ExecResult,
  type ImageDetails,
  RuntimeCommandError,
  type RuntimeFailureKind,
  type RuntimeName,
  type RuntimeProbe,
} from "./container-runtime.js";
import {
  parseJsonDocuments,
  parsePsIds,
  toContainerDetails,
  toImageDetails,
} from "./parse-runtime-json.js";
import { createRedactor, toExcerpt } from "./redact.js";
import { renderCreateArgs } from "./render-create-args.js";
import {
  type CommandResult,
  type CommandRunner,
  findExecutable,
  runCommand,
} from "./run-command.js";

/** Options every CLI driver takes. */
export interface CliRuntimeOptions {
  /** The program to run: a name looked up on PATH or an absolute path. */
  readonly binary?: string;
  /** Extra environment for every invocation. */
  readonly env?: Readonly<Record<string, string>>;
  /** Substitute command runner (tests, remote hosts); defaults to {@link runCommand}. */
  readonly run?: CommandRunner;
  /** Bound of an ordinary command (inspect, create, start…); default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Bound of a pull; default 15 min. */
  readonly pullTimeoutMs?: number;
  /** Bytes of log output `readLogs` keeps; default 256 KiB. */
  readonly maxLogBytes?: number;
}

/** The places where podman, docker and nerdctl differ; everything else is shared. */
export interface CliFlavor {
  readonly name: RuntimeName;
  readonly versionArgs: readonly string[];
  readonly infoArgs: readonly string[];
  /** Reads what `version` and `info` printed into a probe. */
  toProbe(version: unknown, info: unknown): Partial<RuntimeProbe>;
  /** Arguments and environment of a pull, given the directory of the auth file. */
  pull(image: string, authDir: string | undefined): { args: string[]; env: Record<string, string> };
  readonly psFormat: string;
  readonly inspectArgs: readonly string[];
  /** Force removal without a stop grace period (callers stop gracefully first). */
  readonly removeArgs: readonly string[];
  /** Runs before the first command (podman writes its containers.conf here). */
  prepare?(): Promise<void>;
}

/** The bounds every runtime driver defaults to, the CLI drivers and the podman API alike. */
export const RUNTIME_DEFAULTS = {
  /** Bound of an ordinary operation (inspect, create, start…). */
  commandTimeoutMs: 30_000,
  /** Bound of a pull. */
  pullTimeoutMs: 15 * 60_000,
  /** Bytes of log output `readLogs` keeps. */
  maxLogBytes: 256 * 1024,
  /** Bytes of a runtime's error message kept in a {@link RuntimeCommandError}. */
  errorExcerptBytes: 2048,
  /** Pause before an inspect that failed is asked once more. */
  inspectRetryMs: 250,
} as const;
const redactGeneric = createRedactor();

/**
 * A runtime's error message as a driver hands it back: credentials redacted, bounded in bytes.
 *
 * @example
 * toRuntimeExcerpt("Error: password=hunter2hunter2") // "Error: password=[REDACTED]"
 */
export function toRuntimeExcerpt(text: string): string {
  return toExcerpt(redactGeneric(text.trim()), RUNTIME_DEFAULTS.errorExcerptBytes);
}

/**
 * Sorts a runtime's error message (a CLI's stderr, the podman API's `message`) into a kind a
 * caller can map to a stable code.
 *
 * @example
 * classifyRuntimeMessage("reading manifest sha256:00 in r/x: manifest unknown") // "manifest_unknown"
 */
export function classifyRuntimeMessage(text: string): RuntimeFailureKind {
  if (
    /unauthorized|authentication required|insufficient_scope|invalid username\/password|requested access to the resource is denied|\bdenied\b|status(?: code)?:? 401/i.test(
      text,
    )
  ) {
    return "unauthorized";
  }
  if (/manifest unknown|name unknown|manifest .*not found|not found: manifest/i.test(text)) {
    return "manifest_unknown";
  }
  if (
    /no such (?:container|object|image)|no container with name or id|not found|not known/i.test(
      text,
    )
  ) {
    return "not_found";
  }
  return "failed";
}

/** Sorts a runtime's complaint into a kind a caller can map to a stable code. */
export function classifyFailure(result: CommandResult): RuntimeFailureKind {
  if (result.spawnError === "ENOENT") return "missing_binary";
  if (result.timedOut) return "timeout";
  return classifyRuntimeMessage(`${result.stderr}\n${result.stdout}`);
}

/** A {@link ContainerRuntime} that drives a runtime's CLI with argument arrays and JSON output. */
export class CliRuntime implements ContainerRuntime {
  readonly name: RuntimeName;
  private readonly binary: string;
  private readonly run: CommandRunner;
  private readonly commandTimeoutMs: number;
  private readonly pullTimeoutMs: number;
  private readonly maxLogBytes: number;
  private prepared: Promise<void> | undefined;

  constructor(
    private readonly flavor: CliFlavor,
    private readonly options: CliRuntimeOptions,
  ) {
    this.name = flavor.name;
    this.binary = options.binary ?? flavor.name;
    this.run = options.run ?? runCommand;
    this.commandTimeoutMs = options.commandTimeoutMs ?? RUNTIME_DEFAULTS.commandTimeoutMs;
    this.pullTimeoutMs = options.pullTimeoutMs ?? RUNTIME_DEFAULTS.pullTimeoutMs;
    this.maxLogBytes = options.maxLogBytes ?? RUNTIME_DEFAULTS.maxLogBytes;
  }

  private async invoke(
    args: readonly string[],
    extra: { env?: Record<string, string>; timeoutMs?: number; maxOutputBytes?: number } = {},
  ): Promise<CommandResult> {
    this.prepared ??= (this.flavor.prepare?.() ?? Promise.resolve()).catch((error: unknown) => {
      // Try again on the next command rather than failing forever.
      this.prepared = undefined;
      throw error;
    });
    await this.prepared;
    return this.run({
      file: this.binary,
      args,
      env: { ...this.options.env, ...extra.env },
      timeoutMs: extra.timeoutMs ?? this.commandTimeoutMs,
      ...(extra.maxOutputBytes !== undefined ? { maxOutputBytes: extra.maxOutputBytes } : {}),
    });
  }

  private fail(operation: string, result: CommandResult): RuntimeCommandError {
    const stderr = toRuntimeExcerpt(result.stderr || result.stdout);
    return new RuntimeCommandError(operation, classifyFailure(result), result.exitCode, stderr);
  }

  private async mustSucceed(
    operation: string,
    args: readonly string[],
    extra: { env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<CommandResult> {
    const result = await this.invoke(args, extra);
    if (result.exitCode !== 0) throw this.fail(operation, result);
    return result;
  }

  async probe(): Promise<RuntimeProbe> {
    const base = { name: this.name, binary: this.binary };
    if ((await findExecutable(this.binary)) === undefined) {
      return {
        ...base,
        present: false,
        answering: false,
        problem: `${this.binary} is not on PATH`,
      };
    }
    const version = await this.invoke(this.flavor.versionArgs, { timeoutMs: 15_000 });
    if (version.spawnError !== undefined) {
      return { ...base, present: false, answering: false, problem: version.spawnError };
    }
    const info = await this.invoke(this.flavor.infoArgs, { timeoutMs: 20_000 });
    const [versionJson] = parseJsonDocuments(version.stdout);
    const [infoJson] = info.exitCode === 0 ? parseJsonDocuments(info.stdout) : [];
    const facts = this.flavor.toProbe(versionJson, infoJson);
    const answering = info.exitCode === 0 && infoJson !== undefined && facts.answering !== false;
    const problem = answering
      ? undefined
      : toRuntimeExcerpt(
          (info.stderr || version.stderr || "no answer").trim() ||
            (info.timedOut ? "timed out" : "no answer"),
        );
    return {
      ...base,
      ...facts,
      present: true,
      answering,
      ...(problem !== undefined ? { problem } : {}),
    };
  }

  async pullImage(image: string, options: { readonly authDir?: string }): Promise<void> {
    const { args, env } = this.flavor.pull(image, options.authDir);
    await this.mustSucceed("pull", args, { env, timeoutMs: this.pullTimeoutMs });
  }

  async inspectImage(image: string): Promise<ImageDetails | undefined> {
    const result = await this.invoke(["image", "inspect", image]);
    if (result.exitCode !== 0) {
      const error = this.fail("image inspect", result);
      if (error.kind === "not_found" || error.kind === "failed") return undefined;
      throw error;
    }
    const [first] = parseJsonDocuments(result.stdout);
    return toImageDetails(first);
  }

  renderCreateArgs(request: ContainerCreateRequest): string[] {
    return renderCreateArgs(this.name, request);
  }

  async createContainer(request: ContainerCreateRequest): Promise<string> {
    const result = await this.mustSucceed("create", this.renderCreateArgs(request), {
      timeoutMs: Math.max(this.commandTimeoutMs, 60_000),
    });
    const lines = result.stdout.trim().split("\n");
    return (lines[lines.length - 1] ?? "").trim();
  }

  async startContainer(name: string): Promise<void> {
    await this.mustSucceed("start", ["start", name], {
      timeoutMs: Math.max(this.commandTimeoutMs, 60_000),
    });
  }

  async stopContainer(name: string, timeoutSeconds: number): Promise<void> {
    await this.mustSucceed("stop", ["stop", "-t", String(timeoutSeconds), name], {
      timeoutMs: timeoutSeconds * 1000 + this.commandTimeoutMs,
    });
  }

  async restartContainer(name: string, timeoutSeconds: number): Promise<void> {
    await this.mustSucceed("restart", ["restart", "-t", String(timeoutSeconds), name], {
      timeoutMs: timeoutSeconds * 1000 + this.commandTimeoutMs,
    });
  }

  async removeContainer(name: string): Promise<boolean> {
    const result = await this.invoke([...this.flavor.removeArgs, name], {
      timeoutMs: Math.max(this.commandTimeoutMs, 60_000),
    });
    if (result.exitCode === 0) return true;
    const error = this.fail("rm", result);
    if (error.kind === "not_found") return false;
    throw error;
  }

  async inspectContainer(name: string): Promise<ContainerDetails | undefined> {
    let result = await this.invoke([...this.flavor.inspectArgs, name]);
    if (result.exitCode !== 0 && this.fail("inspect", result).kind !== "not_found") {
      // Inspecting changes nothing: ask once more before a transient failure (the runtime busy
      // removing another container) fails the task it belongs to.
      await new Promise((resolve) => setTimeout(resolve, RUNTIME_DEFAULTS.inspectRetryMs));
      result = await this.invoke([...this.flavor.inspectArgs, name]);
    }
    if (result.exitCode !== 0) {
      const error = this.fail("inspect", result);
      if (error.kind === "not_found") return undefined;
      throw error;
    }
    const [first] = parseJsonDocuments(result.stdout);
    return toContainerDetails(first);
  }

  async listContainers(labels: Readonly<Record<string, string>>): Promise<ContainerDetails[]> {
    const filters = Object.entries(labels).flatMap(([key, value]) => [
      "--filter",
      `label=${key}=${value}`,
    ]);
    const ps = await this.mustSucceed("ps", [
      "ps",
      "-a",
      "--no-trunc",
      ...filters,
      "--format",
      this.flavor.psFormat,
    ]);
    const ids = parsePsIds(ps.stdout);
    if (ids.length === 0) return [];
    const result = await this.invoke([...this.flavor.inspectArgs, ...ids]);
    // A container may vanish between ps and inspect; inspect still prints the others.
    return parseJsonDocuments(result.stdout)
      .map((raw) => toContainerDetails(raw))
      .filter((details): details is ContainerDetails => details !== undefined)
      .filter((details) => Object.entries(labels).every(([k, v]) => details.labels[k] === v));
  }

  async readLogs(name: string, tail: number): Promise<string> {
    const result = await this.invoke(["logs", "--tail", String(tail), name], {
      maxOutputBytes: this.maxLogBytes,
    });
    if (result.exitCode !== 0 && !result.truncated) throw this.fail("logs", result);
    // Containers write to both streams; the CLI relays them to ours.
    return [result.stdout, result.stderr].filter((part) => part.length > 0).join("\n");
  }

  async exec(name: string, argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
    const result = await this.invoke(["exec", name, ...argv], { timeoutMs });
    if (result.spawnError !== undefined) throw this.fail("exec", result);
    return {
      exit_code: result.exitCode,
      output: [result.stdout, result.stderr].filter((part) => part.length > 0).join("\n"),
      timed_out: result.timedOut,
      truncated: result.truncated,
    };
  }
}

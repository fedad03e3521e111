import { CommanderError } from "commander";
import type { CliIo } from "./cli-io.js";
import { EXIT_CODES, type ExitCode } from "./exit-codes.js";

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Print the stack of an internal error too (`GPUAAS_DEBUG=1`). */
  readonly debug?: boolean;
}

/**
 * Runs one `gpuaas` command line and returns its exit code; never throws. Usage errors exit 2,
 * and anything unexpected is one line, `gpuaas: internal error: …`, and exit 70.
 *
 * @example process.exitCode = await runCli(["profiles", "lint", "profiles/"], io);
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  options: RunCliOptions = {},
): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT_CODES.ok;
  try {
    const setExitCode = (code: ExitCode): void => {
      exitCode = code;
    };
    // `gpuaas agent …` runs on GPU hosts: it loads the agent only, never the control plane.
    const program =
      argv[0] === "agent"
        ? (await import("./agent-program.js")).createAgentProgram(io, setExitCode)
        : (await import("./create-program.js")).createProgram(io, setExitCode);
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    // Commander has already printed its message (or the help or version) when it throws this.
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    reportInternalError(error, io, options.debug ?? false);
    return EXIT_CODES.internal;
  }
}

/** Writes an unexpected error as one line to stderr, with its stack only when debugging. */
export function reportInternalError(error: unknown, io: CliIo, debug: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`gpuaas: internal error: ${message.replace(/\s*\n\s*/g, " ").trim()}\n`);
  if (debug && error instanceof Error && error.stack !== undefined) io.stderr(`${error.stack}\n`);
}

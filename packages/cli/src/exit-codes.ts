/**
 * The exit codes of every `gpuaas` command. Scripts branch on them, so they never change meaning.
 */
export const EXIT_CODES = {
  /** The command did what was asked and found nothing wrong (warnings are allowed). */
  ok: 0,
  /** A manifest breaks the contract, or a gate is not passed. */
  failed: 1,
  /** The command line or an input file cannot be used: bad usage, missing or malformed input. */
  usage: 2,
  /** An unexpected internal error (EX_SOFTWARE in sysexits.h). */
  internal: 70,
} as const;

/** One of {@link EXIT_CODES}. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

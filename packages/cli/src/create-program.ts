import { PROFILE_SCHEMA } from "@gpuaas/contract";
import { Command, Option } from "commander";
import { addAgentCommand } from "./agent-program.js";
import { checkProfileFile } from "./check-profile-file.js";
import type { CliIo } from "./cli-io.js";
import { EXIT_CODES, type ExitCode } from "./exit-codes.js";
import { gateProfileFile, toGateExitCode } from "./gate-profile-file.js";
import { lintProfiles, toLintExitCode } from "./lint-profiles.js";
import { readVersion } from "./read-version.js";
import { renderGateJson, renderGateText } from "./render-gate-report.js";
import { renderFileIssues } from "./render-issues.js";
import { renderLintJson, renderLintText } from "./render-lint-report.js";
import { type ProfileFormat, renderProfile } from "./render-profile.js";
import { AGENT_RUNTIME_CHOICES } from "./start-node-agent.js";
import { DEFAULT_PROFILES_DIR, runUp, type UpFlags } from "./up-command.js";
import { createServerFlagOptions } from "./up-flags.js";

type ReportFormat = "text" | "json";

const EXIT_STATUS_HELP = `
Exit status:
  0   no errors (warnings are allowed)
  1   a manifest breaks the contract
  2   bad usage, or an input that cannot be used (missing, unreadable, too large, malformed)
  70  internal error`;

/**
 * Builds the `gpuaas` command tree. Commands write through `io` and report their exit code through
 * `setExitCode`; commander's own usage errors surface as `CommanderError`s (see `runCli`).
 */
export function createProgram(io: CliIo, setExitCode: (code: ExitCode) => void): Command {
  // Output and exit settings first: subcommands created with .command() inherit them.
  const program = new Command("gpuaas")
    .description("Control plane for launchable, digest-pinned OCI workloads on GPU hosts.")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .version(readVersion(), "-V, --version", "print the version");

  const profiles = program
    .command("profiles")
    .description("check, normalize and gate profile manifests");

  profiles
    .command("lint")
    .description("validate profile manifests (YAML or JSON) and report every problem of each")
    .argument("<paths...>", "manifest files (.yaml, .yml, .json) or directories of them")
    .addOption(reportFormatOption())
    .addHelpText("after", EXIT_STATUS_HELP)
    .action(async (paths: string[], options: { output: ReportFormat }) => {
      const report = await lintProfiles(paths);
      io.stdout(options.output === "json" ? renderLintJson(report) : renderLintText(report));
      setExitCode(toLintExitCode(report));
    });

  profiles
    .command("normalize")
    .description("print a manifest normalized to the v1.1 shape (legacy endpoint fields rewritten)")
    .argument("<file>", "manifest file (.yaml, .yml, .json)")
    .addOption(
      new Option("-o, --output <format>", "output format")
        .choices(["yaml", "json"])
        .default("yaml"),
    )
    .addHelpText("after", EXIT_STATUS_HELP)
    .action(async (file: string, options: { output: ProfileFormat }) => {
      const check = await checkProfileFile(file);
      if (check.status !== "valid") {
        io.stderr(renderFileIssues(file, check.status === "unusable", check.issues));
        setExitCode(check.status === "unusable" ? EXIT_CODES.usage : EXIT_CODES.failed);
        return;
      }
      if (check.issues.length > 0) io.stderr(renderFileIssues(file, false, check.issues));
      io.stdout(renderProfile(check.profile, options.output));
    });

  profiles
    .command("gate")
    .description("check a manifest against the ten points of the config-only authoring gate")
    .argument("<file>", "manifest file (.yaml, .yml, .json)")
    .addOption(reportFormatOption())
    .addHelpText(
      "after",
      EXIT_STATUS_HELP.replace("breaks the contract", "breaks the contract or fails the gate"),
    )
    .action(async (file: string, options: { output: ReportFormat }) => {
      const outcome = await gateProfileFile(file);
      io.stdout(options.output === "json" ? renderGateJson(outcome) : renderGateText(outcome));
      setExitCode(toGateExitCode(outcome));
    });

  const up = program
    .command("up")
    .description(
      "start the control plane on its embedded defaults (PGlite store, curated profiles)",
    );
  for (const option of createServerFlagOptions()) up.addOption(option);
  up.option("--no-agent", "do not run a node agent for this host in process")
    .addOption(
      new Option("--agent-runtime <name>", "container runtime of the in-process agent")
        .choices(AGENT_RUNTIME_CHOICES)
        .default("auto"),
    )
    .option("--config <file>", "JSON file of options (flags and environment variables override it)")
    .option(
      "--profiles <dir>",
      "directory of curated profile manifests to load",
      DEFAULT_PROFILES_DIR,
    )
    .addHelpText(
      "after",
      `
Every option can also come from its environment variable (in brackets) or from the --config file
(keyed by the option's name, e.g. "managed_ingress_host_map"); flags win over the environment,
which wins over the file.`,
    )
    .action(async (flags: UpFlags) => runUp(flags, io, setExitCode));

  addAgentCommand(program, io, setExitCode);

  program
    .command("schema")
    .description("print canonical JSON Schemas")
    .command("profile")
    .description("print the canonical JSON Schema (2020-12) of the profile manifest")
    .action(() => {
      io.stdout(`${JSON.stringify(PROFILE_SCHEMA, null, 2)}\n`);
    });

  return program;
}

function reportFormatOption(): Option {
  return new Option("-o, --output <format>", "output format")
    .choices(["text", "json"])
    .default("text");
}

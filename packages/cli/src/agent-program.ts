// The `gpuaas agent` commands, and a program of them alone: a host that only runs the agent never
// loads the control plane (its HTTP server, store and database engine), which keeps the agent's
// memory small.
import { Command, Option } from "commander";
import { type AgentRunFlags, BOOTSTRAP_TOKEN_ENV, runAgent } from "./agent-command.js";
import type { CliIo } from "./cli-io.js";
import type { ExitCode } from "./exit-codes.js";
import { readVersion } from "./read-version.js";
import {
  AGENT_PODMAN_DRIVER_CHOICES,
  AGENT_RUNTIME_CHOICES,
  PODMAN_DRIVER_ENV,
  PODMAN_SOCKET_ENV,
} from "./start-node-agent.js";

/** Adds `gpuaas agent run` to a program. */
export function addAgentCommand(
  program: Command,
  io: CliIo,
  setExitCode: (code: ExitCode) => void,
): void {
  program
    .command("agent")
    .description("the node agent that runs workloads on a GPU host")
    .command("run")
    .description(
      "join a control plane (dial out only) and run its node tasks on this host's container runtime",
    )
    .requiredOption("--server <url>", "the control plane's base URL, e.g. https://gpuaas.example")
    .option(
      "--bootstrap-token <token>",
      `one-time bootstrap token from an operator (or ${BOOTSTRAP_TOKEN_ENV}); needed only until a node credential is stored`,
    )
    .option(
      "--state-dir <dir>",
      "where the node credential (0600) and workload directories live",
      ".gpuaas-agent",
    )
    .addOption(
      new Option(
        "--runtime <name>",
        "container runtime: the first answering of podman, docker, nerdctl, or one",
      )
        .choices(AGENT_RUNTIME_CHOICES)
        .default("auto"),
    )
    .option(
      "--plain-http-registry <host:port...>",
      "loopback registries to pull from over plain HTTP",
    )
    .option("--pip-index-url <url>", "package index for profiles that install Python packages")
    .option("--hostname <name>", "host name to register with (default: this machine's)")
    .addOption(
      new Option(
        "--podman-driver <driver>",
        "how the agent drives podman: its libpod API over a socket (the agent starts `podman system service` unless --podman-socket is given; falls back to the CLI when the service cannot start) or its CLI",
      )
        .choices(AGENT_PODMAN_DRIVER_CHOICES)
        .env(PODMAN_DRIVER_ENV),
    )
    .addOption(
      new Option(
        "--podman-socket <path>",
        "an existing libpod API socket (absolute path) to use instead of starting the agent's own service",
      ).env(PODMAN_SOCKET_ENV),
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["debug", "info", "warn", "error", "silent"])
        .default("info"),
    )
    .action(async (flags: AgentRunFlags) => runAgent(flags, io, setExitCode));
}

/**
 * The `gpuaas` program with the agent commands only, for `gpuaas agent …` (see `runCli`); help and
 * errors look the same as the full program's.
 */
export function createAgentProgram(io: CliIo, setExitCode: (code: ExitCode) => void): Command {
  const program = new Command("gpuaas")
    .description("Control plane for launchable, digest-pinned OCI workloads on GPU hosts.")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .version(readVersion(), "-V, --version", "print the version");
  addAgentCommand(program, io, setExitCode);
  return program;
}

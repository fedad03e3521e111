#!/usr/bin/env node
import type { CliIo } from "./cli-io.js";
import { EXIT_CODES } from "./exit-codes.js";
import { reportInternalError, runCli } from "./run-cli.js";

const debug = process.env.GPUAAS_DEBUG === "1";
let stdoutClosed = false;

const stderrIo: CliIo = {
  stdout: () => undefined,
  stderr: (text) => {
    process.stderr.write(text);
  },
};

function exitOnInternalError(error: unknown): void {
  reportInternalError(error, stderrIo, debug);
  process.exit(EXIT_CODES.internal);
}

process.on("uncaughtException", exitOnInternalError);
process.on("unhandledRejection", exitOnInternalError);
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  // The reader went away (`gpuaas … | head`): stop writing, but finish and keep the exit code.
  if (error.code === "EPIPE") stdoutClosed = true;
  else exitOnInternalError(error);
});

const io: CliIo = {
  stdout: (text) => {
    if (!stdoutClosed) process.stdout.write(text);
  },
  stderr: stderrIo.stderr,
};

runCli(process.argv.slice(2), io, { debug }).then((code) => {
  process.exitCode = code;
}, exitOnInternalError);

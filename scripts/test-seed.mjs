// Loaded before every test file (see run-tests.mjs). Property tests draw random inputs; on CI they
// use one fixed seed so a run is reproducible and a red build always means a change broke
// something, while local runs keep a fresh seed each time to explore new inputs. Set
// GPUAAS_TEST_SEED to replay a failure (fast-check prints the seed of a failing run).
import fc from "fast-check";

const fixed = process.env.GPUAAS_TEST_SEED ?? (process.env.CI ? "20261122" : undefined);
if (fixed !== undefined) {
  const seed = Number(fixed);
  if (!Number.isSafeInteger(seed))
    throw new Error(`GPUAAS_TEST_SEED must be an integer, got ${fixed}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}

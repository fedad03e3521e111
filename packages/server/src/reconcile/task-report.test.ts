import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EXCERPT_CHARS, EXCERPT_LINES, readTaskReport, toExcerptLines } from "./task-report.js";

describe("readTaskReport", () => {
  it("reads a launch success: container, ports, package install and runtime", () => {
    const report = readTaskReport(
      {
        container_id: "c0ffee",
        container_name: "gpuaas-1",
        ports: [
          { endpoint: "web", container_port: 8888, host_port: 18888 },
          { endpoint: "bad", host_port: 70000 },
        ],
        package_install: { packages: ["numpy==2.4.4"], exit_code: 0, excerpt: "ok" },
        runtime: { name: "podman", version: "4.3.1" },
      },
      false,
    );
    assert.equal(report.container_id, "c0ffee");
    assert.deepEqual(report.ports, [{ endpoint: "web", container_port: 8888, host_port: 18888 }]);
    assert.deepEqual(report.package_install, {
      packages: ["numpy==2.4.4"],
      exit_code: 0,
      excerpt: "ok",
    });
    assert.equal(report.runtime, "podman 4.3.1");
    assert.equal(report.failure, undefined);
  });

  it("reads a failure from the agent's error body, and makes one up when there is none", () => {
    const report = readTaskReport(
      {
        error: {
          code: "readiness.timeout",
          message: "no 200 within 300 s",
          details: { exit_code: 137, oom_killed: true },
        },
        log_excerpt: "a\nb\n",
      },
      true,
    );
    assert.deepEqual(report.failure, {
      code: "readiness.timeout",
      message: "no 200 within 300 s",
      phase: undefined,
      exit_code: 137,
      oom_killed: true,
      log_excerpt: ["a", "b"],
    });
    const bare = readTaskReport("junk", true);
    assert.equal(bare.failure?.code, "task.failed");
    assert.match(bare.failure?.message ?? "", /without a message/);
  });

  it("reads the agent package's OciLaunchResult failure shape (failure, error.details, ok flags)", () => {
    const report = readTaskReport(
      {
        kind: "workload.oci_launch",
        ok: false,
        container_name: "gpuaas-1",
        ports: [{ endpoint: "web", container_port: 8888, host_ip: "127.0.0.1", host_port: null }],
        package_install: {
          packages: ["numpy==2.4.4"],
          ok: false,
          exit_code: null,
          excerpt: "boom",
        },
        failure: {
          reason: "the container exited",
          state: "exited",
          exit_code: 1,
          oom_killed: false,
          log_excerpt: "Traceback\nValueError",
        },
        error: {
          code: "readiness.container_exited",
          message: "the container exited before it was ready",
          correlation_id: "c1",
        },
      },
      true,
    );
    assert.deepEqual(report.ports, [], "a port without a binding is not an endpoint");
    assert.equal(report.package_install?.exit_code, -1);
    assert.deepEqual(report.failure, {
      code: "readiness.container_exited",
      message: "the container exited before it was ready",
      phase: undefined,
      exit_code: 1,
      oom_killed: false,
      log_excerpt: ["Traceback", "ValueError"],
    });
  });

  it("never throws and keeps every excerpt bounded, whatever the agent sends", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, failed) => {
        const report = readTaskReport(value, failed);
        assert.ok((report.package_install?.excerpt.length ?? 0) <= EXCERPT_CHARS + 1);
        assert.ok((report.failure?.log_excerpt.length ?? 0) <= EXCERPT_LINES);
        assert.ok(report.ports.every((port) => port.host_port >= 1 && port.host_port <= 65_535));
        assert.equal(report.failure !== undefined, failed);
      }),
    );
  });

  it("keeps the last lines of a long excerpt", () => {
    const lines = Array.from({ length: 500 }, (_, index) => `line ${index} ${"x".repeat(200)}`);
    const kept = toExcerptLines(lines);
    assert.ok(kept.length <= EXCERPT_LINES);
    assert.ok(kept.join("").length <= EXCERPT_CHARS);
    assert.match(kept.at(-1) ?? "", /^line 499 /);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  normalizeArchitecture,
  parseJsonDocuments,
  parsePsIds,
  toContainerDetails,
  toImageDetails,
} from "./parse-runtime-json.js";

// Shapes from execution.md §1.3 (podman 4.3.1 and docker CLI 28.2.2, captured there).
const PODMAN_PS = `[{"Id":"9633aa","Names":["research-web1"],"Labels":{"a":"b"},"State":"running"},
{"Id":"77bb01","Names":["x"],"State":"exited","ExitCode":3}]`;
const DOCKER_PS = `{"ID":"8f2e74960bb1","Labels":"a=b,c=d","Names":"research-dk1","State":"running"}
{"ID":"0a0b0c0d0e0f","Names":"other","State":"exited"}
`;

const DOCKER_INSPECT = {
  Id: "8f2e74960bb1aa",
  Name: "/gpuaas-inst-1",
  Config: {
    Image: "127.0.0.1:5079/research/busyweb@sha256:32ac",
    Labels: { "dev.gpuaas.instance": "inst-1" },
  },
  State: {
    Status: "running",
    Running: true,
    ExitCode: 0,
    OOMKilled: false,
    StartedAt: "2026-11-21T23:39:49Z",
  },
  NetworkSettings: {
    Ports: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18081" }], "9090/tcp": null },
  },
  HostConfig: {
    Privileged: false,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    Memory: 268435456,
    NanoCpus: 1500000000,
    PidsLimit: 128,
  },
};

const PODMAN_INSPECT = {
  Id: "9633aa",
  Name: "research-web1",
  ImageName: "127.0.0.1:5079/research/busyweb@sha256:32ac",
  Config: { Labels: { "io.example.owner": "agent" } },
  State: { Status: "exited", Running: false, ExitCode: 137, OOMKilled: true, Error: "" },
  NetworkSettings: { Ports: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18080" }] } },
  HostConfig: { CapDrop: ["CAP_CHOWN", "CAP_KILL"], Memory: 268435456, PidsLimit: 128 },
};

describe("runtime JSON readers", () => {
  it("reads ps ids from podman's array and docker's lines", () => {
    assert.deepEqual(parsePsIds(PODMAN_PS), ["9633aa", "77bb01"]);
    assert.deepEqual(parsePsIds(DOCKER_PS), ["8f2e74960bb1", "0a0b0c0d0e0f"]);
    assert.deepEqual(parsePsIds(""), []);
    assert.deepEqual(parseJsonDocuments("not json\n{}\n"), [{}]);
  });

  it("normalises docker inspect", () => {
    assert.deepEqual(toContainerDetails(DOCKER_INSPECT), {
      id: "8f2e74960bb1aa",
      name: "gpuaas-inst-1",
      image: "127.0.0.1:5079/research/busyweb@sha256:32ac",
      state: "running",
      running: true,
      exit_code: 0,
      oom_killed: false,
      started_at: "2026-11-21T23:39:49Z",
      labels: { "dev.gpuaas.instance": "inst-1" },
      ports: [{ container_port: 8080, protocol: "tcp", host_ip: "127.0.0.1", host_port: 18081 }],
      host_config: {
        privileged: false,
        cap_drop: ["ALL"],
        security_opt: ["no-new-privileges"],
        memory_bytes: 268435456,
        nano_cpus: 1500000000,
        pids_limit: 128,
      },
    });
  });

  it("normalises podman inspect, including an OOM-killed exit", () => {
    const details = toContainerDetails(PODMAN_INSPECT);
    assert.ok(details);
    assert.equal(details.state, "exited");
    assert.equal(details.exit_code, 137);
    assert.equal(details.oom_killed, true);
    assert.equal(details.image, "127.0.0.1:5079/research/busyweb@sha256:32ac");
    assert.equal(details.ports[0]?.host_port, 18080);
    assert.equal(details.error, undefined);
    assert.equal(toContainerDetails({ State: {} }), undefined);
    assert.equal(
      toContainerDetails({ Id: "x", State: { Status: "configured" } })?.state,
      "created",
    );
  });

  it("reads image platforms with normalised architecture names", () => {
    assert.deepEqual(
      toImageDetails({ Id: "sha256:1", Architecture: "x86_64", Os: "linux", Size: 5 }),
      {
        id: "sha256:1",
        architecture: "amd64",
        os: "linux",
        size_bytes: 5,
      },
    );
    assert.equal(normalizeArchitecture("aarch64"), "arm64");
    assert.equal(normalizeArchitecture("riscv64"), "riscv64");
  });
});

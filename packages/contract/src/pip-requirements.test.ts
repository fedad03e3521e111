import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_PYTHON_PACKAGES, parsePythonPackages } from "./pip-requirements.js";

describe("parsePythonPackages: accepted", () => {
  it("splits the seed's example into single-token specifiers", () => {
    assert.deepEqual(
      parsePythonPackages("numpy==2.4.4 pandas>=2.2 torch~=2.9 requests[socks]>=2,<3"),
      {
        packages: ["numpy==2.4.4", "pandas>=2.2", "torch~=2.9", "requests[socks]>=2,<3"],
        problems: [],
      },
    );
  });

  it("reads an empty or blank list as no packages", () => {
    for (const value of ["", "   ", "\n\t"]) {
      assert.deepEqual(parsePythonPackages(value), { packages: [], problems: [] });
    }
  });

  it("splits on any whitespace", () => {
    assert.deepEqual(parsePythonPackages("  numpy\tpandas\nscipy  ").packages, [
      "numpy",
      "pandas",
      "scipy",
    ]);
  });

  for (const token of [
    "numpy",
    "NumPy",
    "scikit-learn",
    "zope.interface",
    "typing_extensions",
    "a",
    "jupyterlab-git==0.50.1",
    "torch===2.9.0",
    "torch!=2.8.0",
    "torch<=3",
    "torch<3",
    "torch>2",
    "torch==2.*",
    "torch==2.9.0+cu128",
    "pandas[performance,excel]>=2.2",
    "requests[socks]>=2,<3,!=2.30.0",
    "pre-release>=1.0rc1",
  ]) {
    it(`accepts ${token}`, () => {
      assert.deepEqual(parsePythonPackages(token), { packages: [token], problems: [] });
    });
  }
});

describe("parsePythonPackages: refused", () => {
  const refused: [string, RegExp][] = [
    ["--index-url", /options/],
    ["-e", /options/],
    ["--extra-index-url=https://evil.example.com", /options/],
    ["-rrequirements.txt", /options/],
    ["git+https://github.com/numpy/numpy.git", /URLs/],
    ["hg+http://example.com/repo", /URLs/],
    ["https://files.example.com/numpy-2.4.4.whl", /URLs/],
    ["file:///tmp/numpy.whl", /URLs/],
    ["./pkg", /paths/],
    ["/abs/path", /paths/],
    ["../pkg", /paths/],
    ["~/pkg", /paths/],
    ["pkg\\win", /paths/],
    [".", /paths/],
    ["name@https://example.com/x.whl", /URLs/],
    ["name@file.whl", /direct references/],
    ["@", /direct references/],
    ["pkg;", /markers/],
    ['python_version<"3"', /not a pip requirement/],
    ["numpy==", /not a pip requirement/],
    ["numpy=1.0", /not a pip requirement/],
    ["numpy>=1,", /not a pip requirement/],
    ["numpy[", /not a pip requirement/],
    ["-numpy", /options/],
    ["numpy-", /not a pip requirement/],
    ["numpy>=1.0<2", /not a pip requirement/],
    ["torch==2.9:cu128", /not a pip requirement/],
    ["$(reboot)", /not a pip requirement/],
    ["numpy`id`", /not a pip requirement/],
  ];
  for (const [token, reason] of refused) {
    it(`refuses ${JSON.stringify(token)}`, () => {
      const { packages, problems } = parsePythonPackages(token);
      assert.deepEqual(packages, []);
      assert.equal(problems.length, 1);
      assert.equal(problems[0]?.token, token);
      assert.equal(problems[0]?.index, 0);
      assert.match(problems[0]?.reason ?? "", reason);
    });
  }

  it("reports every bad entry with its position and accepts none", () => {
    const { packages, problems } = parsePythonPackages(
      'numpy --index-url x -e . name @ url pkg; python_version<"3"',
    );
    assert.deepEqual(packages, []);
    assert.deepEqual(
      problems.map((problem) => [problem.index, problem.token]),
      [
        [1, "--index-url"],
        [3, "-e"],
        [4, "."],
        [6, "@"],
        [8, "pkg;"],
        [9, 'python_version<"3"'],
      ],
    );
  });

  it("returns the tokens even beyond the most packages, so the caller can say how many", () => {
    const list = Array.from({ length: MAX_PYTHON_PACKAGES + 1 }, (_, i) => `p${i}`).join(" ");
    assert.equal(parsePythonPackages(list).packages.length, MAX_PYTHON_PACKAGES + 1);
  });

  it("answers quickly on long adversarial tokens", () => {
    const started = performance.now();
    for (const token of [
      `${"a".repeat(4096)}!`,
      `a[${"b,".repeat(2000)}`,
      `a${"==1".repeat(1300)}x`,
      `${"a.".repeat(2048)}-`,
    ]) {
      assert.equal(parsePythonPackages(token).problems.length, 1);
    }
    assert.ok(performance.now() - started < 250, "no catastrophic backtracking");
  });
});

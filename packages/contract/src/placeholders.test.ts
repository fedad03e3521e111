import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expandPlaceholders, findPlaceholders } from "./placeholders.js";

describe("placeholders", () => {
  it("finds declared-looking names and reports malformed ones", () => {
    assert.deepEqual(findPlaceholders("--model=${model} --tp=${tensor_parallel_size}"), {
      names: ["model", "tensor_parallel_size"],
      malformed: [],
    });
    assert.deepEqual(findPlaceholders("${Bad-Name} ${}"), {
      names: [],
      malformed: ["Bad-Name", ""],
    });
    assert.deepEqual(findPlaceholders("$${literal} plain"), { names: [], malformed: [] });
  });

  it("expands values as text and keeps $${ as a literal ${", () => {
    const values = { model: "org/m", gpu_count: 2, flag: true };
    assert.equal(
      expandPlaceholders("--model=${model} -n ${gpu_count} ${flag}", values),
      "--model=org/m -n 2 true",
    );
    assert.equal(expandPlaceholders("cost $${HOME} ${missing}", values), "cost ${HOME} ");
  });

  it("never reads inherited properties", () => {
    assert.equal(expandPlaceholders("${constructor}", {}), "");
  });
});

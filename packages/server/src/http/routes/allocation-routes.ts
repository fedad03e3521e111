import {
  ACCELERATOR_VENDORS,
  type AcceleratorVendor,
  CPU_ARCHITECTURES,
  type CpuArchitecture,
  STORAGE_MODES,
  type StorageMode,
} from "@gpuaas/contract";
import type { FastifyInstance } from "fastify";
import {
  createAllocation,
  createBootstrapToken,
  createNode,
  getAllocation,
  getNode,
  getProject,
  listAllocations,
  listNodes,
  setNodeState,
  transitionAllocation,
} from "../../store/index.js";
import {
  ALLOCATION_STATES,
  type Allocation,
  type AllocationState,
  type JsonObject,
  NODE_STATES,
  type Node,
  type NodeState,
} from "../../store/types.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import {
  auditRequest,
  isNonEmpty,
  type RequestProblem,
  toProblemError,
} from "../route-problems.js";
import {
  errorResponses,
  idSchema,
  listResponse,
  objectResponse,
  projectParams,
} from "../route-schemas.js";

const nodeParams = {
  type: "object",
  additionalProperties: false,
  required: ["node_id"],
  properties: { node_id: idSchema },
} as const;

const allocationParams = {
  type: "object",
  additionalProperties: false,
  required: ["allocation_id"],
  properties: { allocation_id: idSchema },
} as const;

const projectAllocationParams = {
  type: "object",
  additionalProperties: false,
  required: ["project_id", "allocation_id"],
  properties: { project_id: idSchema, allocation_id: idSchema },
} as const;

const labelSchema = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$",
} as const;

/** Bootstrap tokens live one hour unless told, one day at most. */
const BOOTSTRAP_TTL_DEFAULT_S = 3_600;
const BOOTSTRAP_TTL_MAX_S = 86_400;

/** Allocation states that hold their GPUs on the node. */
const HOLDING_STATES: readonly AllocationState[] = ["active", "releasing"];

const allocationBody = {
  type: "object",
  additionalProperties: false,
  required: [
    "project_id",
    "node_id",
    "accelerator",
    "cpu_architecture",
    "gpu_indices",
    "cpu_cores",
    "memory_gib",
    "storage_modes",
  ],
  properties: {
    project_id: idSchema,
    node_id: idSchema,
    accelerator: {
      type: "object",
      additionalProperties: false,
      required: ["vendor"],
      properties: {
        vendor: { type: "string", enum: ACCELERATOR_VENDORS },
        family: labelSchema,
        sku: labelSchema,
      },
    },
    cpu_architecture: { type: "string", enum: CPU_ARCHITECTURES },
    gpu_indices: {
      type: "array",
      maxItems: 64,
      uniqueItems: true,
      items: { type: "integer", minimum: 0, maximum: 1023 },
      description:
        "The allocation's device mask: host GPU indices it may use; empty for a CPU-only allocation.",
    },
    cpu_cores: { type: "integer", minimum: 1, maximum: 4096 },
    memory_gib: { type: "integer", minimum: 1, maximum: 65_536 },
    storage_modes: {
      type: "array",
      maxItems: STORAGE_MODES.length,
      uniqueItems: true,
      items: { type: "string", enum: STORAGE_MODES },
    },
  },
} as const;

interface AllocationBody {
  readonly project_id: string;
  readonly node_id: string;
  readonly accelerator: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
  readonly cpu_architecture: CpuArchitecture;
  readonly gpu_indices: readonly number[];
  readonly cpu_cores: number;
  readonly memory_gib: number;
  readonly storage_modes: readonly StorageMode[];
}

/**
 * Node and allocation routes: operators register GPU hosts, mint their agents' one-time bootstrap
 * tokens, and hand projects allocations on them; project members read their own project's
 * allocations only.
 */
export function registerAllocationRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;

  api.post<{ Body: { name: string; inventory?: JsonObject } }>(
    "/nodes",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["nodes"],
        summary: "Register a GPU host (state pending until its agent joins)",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["name"],
          properties: {
            name: {
              type: "string",
              minLength: 1,
              maxLength: 63,
              pattern: "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
            },
            inventory: {
              type: "object",
              description: "What the operator knows of the host until its agent reports.",
            },
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const node = await createNode(db, {
        name: request.body.name,
        ...(request.body.inventory !== undefined ? { inventory: request.body.inventory } : {}),
      });
      await auditRequest(db, request, "node.registered", `node:${node.id}`, null, {
        name: node.name,
      });
      return reply.status(201).send(node);
    },
  );

  api.get(
    "/nodes",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["nodes"],
        summary: "List nodes",
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async () => ({ items: await listNodes(db) }),
  );

  api.get<{ Params: { node_id: string } }>(
    "/nodes/:node_id",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["nodes"],
        summary: "Read a node",
        params: nodeParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => loadNode(request.params.node_id),
  );

  api.post<{ Params: { node_id: string }; Body: { to: NodeState } }>(
    "/nodes/:node_id/transitions",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["nodes"],
        summary: "Drain, retire or otherwise move a node along its lifecycle",
        params: nodeParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["to"],
          properties: { to: { type: "string", enum: NODE_STATES } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const before = await loadNode(request.params.node_id);
      const node = await setNodeState(db, {
        id: before.id,
        to: request.body.to,
        now: context.now(),
      });
      await auditRequest(db, request, `node.${node.state}`, `node:${node.id}`, null, {
        from: before.state,
        to: node.state,
      });
      return node;
    },
  );

  api.post<{ Params: { node_id: string }; Body: { ttl_seconds?: number } }>(
    "/nodes/:node_id/bootstrap-tokens",
    {
      config: { permission: "operator" },
      // The body is optional: a POST without one takes the defaults.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags: ["nodes"],
        summary: "Mint a one-time bootstrap token for the node's agent (shown once)",
        params: nodeParams,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            ttl_seconds: {
              type: "integer",
              minimum: 60,
              maximum: BOOTSTRAP_TTL_MAX_S,
              default: BOOTSTRAP_TTL_DEFAULT_S,
            },
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const node = await loadNode(request.params.node_id);
      if (node.state === "retired") {
        throw new ApiError(
          "resource.conflict",
          `node ${node.id} is retired; register a new node instead`,
        );
      }
      const ttl = request.body.ttl_seconds ?? BOOTSTRAP_TTL_DEFAULT_S;
      const created = await createBootstrapToken(db, {
        node_id: node.id,
        ttl_ms: ttl * 1000,
        now: context.now(),
      });
      // The plaintext is in the response only; the audit record names the token by id.
      await auditRequest(db, request, "node.bootstrap_token_created", `node:${node.id}`, null, {
        token_id: created.id,
        expires_at: created.expires_at,
      });
      return reply.status(201).header("cache-control", "no-store").send({
        id: created.id,
        node_id: created.node_id,
        token: created.plaintext,
        expires_at: created.expires_at,
      });
    },
  );

  api.post<{ Body: AllocationBody }>(
    "/allocations",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["allocations"],
        summary: "Give a project an allocation on a node (state active)",
        body: allocationBody,
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const problems: RequestProblem[] = [];
      const invalid = (pointer: string, message: string): void => {
        problems.push({ pointer, code: "allocation.invalid", message });
      };
      if ((await getProject(db, body.project_id)) === undefined)
        invalid("/body/project_id", `no project ${body.project_id}`);
      const node = await getNode(db, body.node_id);
      if (node === undefined) invalid("/body/node_id", `no node ${body.node_id}`);
      else if (node.state === "retired") invalid("/body/node_id", `node ${node.name} is retired`);
      const cpuOnly = body.accelerator.vendor === "none";
      if (cpuOnly && body.gpu_indices.length > 0) {
        invalid(
          "/body/gpu_indices",
          "a CPU-only allocation (accelerator vendor none) has no GPU indices",
        );
      }
      if (!cpuOnly && body.gpu_indices.length === 0) {
        invalid(
          "/body/gpu_indices",
          `a ${body.accelerator.vendor} allocation needs at least one GPU index`,
        );
      }
      if (
        cpuOnly &&
        (body.accelerator.family !== undefined || body.accelerator.sku !== undefined)
      ) {
        invalid("/body/accelerator", "a CPU-only allocation has no accelerator family or SKU");
      }
      if (isNonEmpty(problems))
        throw toProblemError(
          problems,
          `the allocation has ${problems.length} problems; see issues`,
        );
      if (node !== undefined && body.gpu_indices.length > 0) {
        const taken = await findTakenGpus(node.id, body.gpu_indices);
        if (taken.length > 0) {
          throw new ApiError(
            "allocation.gpu_conflict",
            `GPU(s) ${taken.map((entry) => entry.index).join(", ")} of node ${node.name} belong to another allocation`,
            {
              details: { taken },
            },
          );
        }
      }
      const allocation = await createAllocation(db, {
        project_id: body.project_id,
        node_id: body.node_id,
        accelerator: body.accelerator,
        cpu_architecture: body.cpu_architecture,
        gpu_indices: body.gpu_indices,
        cpu_cores: body.cpu_cores,
        memory_gib: body.memory_gib,
        storage_modes: body.storage_modes,
      });
      await auditRequest(
        db,
        request,
        "allocation.created",
        `allocation:${allocation.id}`,
        allocation.project_id,
        {
          node_id: allocation.node_id,
          gpu_indices: [...allocation.gpu_indices],
        },
      );
      return reply.status(201).send(allocation);
    },
  );

  api.get<{ Querystring: { project_id?: string; node_id?: string } }>(
    "/allocations",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["allocations"],
        summary: "List allocations of a project or on a node (give at least one)",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { project_id: idSchema, node_id: idSchema },
        },
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { project_id, node_id } = request.query;
      if (project_id !== undefined) {
        return {
          items: await listAllocations(db, {
            project_id,
            ...(node_id !== undefined ? { node_id } : {}),
          }),
        };
      }
      if (node_id !== undefined) return { items: await listAllocations(db, { node_id }) };
      throw toProblemError(
        [
          {
            pointer: "/query",
            code: "request.invalid",
            message: "filter the list by project_id or node_id",
          },
        ],
        "",
      );
    },
  );

  api.get<{ Params: { allocation_id: string } }>(
    "/allocations/:allocation_id",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["allocations"],
        summary: "Read an allocation",
        params: allocationParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => loadAllocation(request.params.allocation_id),
  );

  api.post<{ Params: { allocation_id: string }; Body: { to: AllocationState } }>(
    "/allocations/:allocation_id/transitions",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["allocations"],
        summary: "Release an allocation (active → releasing → released)",
        params: allocationParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["to"],
          properties: { to: { type: "string", enum: ALLOCATION_STATES } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const before = await loadAllocation(request.params.allocation_id);
      const allocation = await transitionAllocation(db, {
        id: before.id,
        to: request.body.to,
        now: context.now(),
      });
      await auditRequest(
        db,
        request,
        `allocation.${allocation.state}`,
        `allocation:${allocation.id}`,
        allocation.project_id,
        {
          from: before.state,
          to: allocation.state,
        },
      );
      return allocation;
    },
  );

  api.get<{ Params: { project_id: string } }>(
    "/projects/:project_id/allocations",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["allocations"],
        summary: "List the project's allocations",
        params: projectParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => ({
      items: await listAllocations(db, { project_id: request.params.project_id }),
    }),
  );

  api.get<{ Params: { project_id: string; allocation_id: string } }>(
    "/projects/:project_id/allocations/:allocation_id",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["allocations"],
        summary: "Read one of the project's allocations",
        params: projectAllocationParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const allocation = await getAllocation(db, request.params.allocation_id);
      // Another project's allocation reads as absent, so ids cannot be probed across projects.
      if (allocation === undefined || allocation.project_id !== request.params.project_id) {
        throw new ApiError(
          "resource.not_found",
          `no allocation ${request.params.allocation_id} in this project`,
        );
      }
      return allocation;
    },
  );

  async function loadNode(id: string): Promise<Node> {
    const node = await getNode(db, id);
    if (node === undefined) throw new ApiError("resource.not_found", `no node ${id}`);
    return node;
  }

  async function loadAllocation(id: string): Promise<Allocation> {
    const allocation = await getAllocation(db, id);
    if (allocation === undefined) throw new ApiError("resource.not_found", `no allocation ${id}`);
    return allocation;
  }

  /** GPU indices of the node that an active or releasing allocation already holds. */
  async function findTakenGpus(
    nodeId: string,
    wanted: readonly number[],
  ): Promise<{ index: number; allocation_id: string }[]> {
    const taken: { index: number; allocation_id: string }[] = [];
    for (const other of await listAllocations(db, { node_id: nodeId })) {
      if (!HOLDING_STATES.includes(other.state)) continue;
      for (const index of other.gpu_indices) {
        if (wanted.includes(index)) taken.push({ index, allocation_id: other.id });
      }
    }
    return taken.sort((a, b) => a.index - b.index);
  }
}

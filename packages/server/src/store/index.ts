export {
  type AllocationInput,
  createAllocation,
  getAllocation,
  listAllocations,
  listClaimedGpuIndices,
  transitionAllocation,
} from "./allocations.js";
export {
  type ArtifactInput,
  createArtifact,
  deleteArtifact,
  getArtifact,
  listArtifacts,
  transitionArtifact,
} from "./artifacts.js";
export {
  type AppVersionSummary,
  getApp,
  getAppVersion,
  getAppVersionById,
  isEntitled,
  listApps,
  listAppVersionSummaries,
  listAppVersions,
  listEntitlements,
  registerAppVersion,
  setAppVersionPublished,
  setEntitlement,
} from "./catalog.js";
export type { Database, StoreDb } from "./database.js";
export {
  type AuditInput,
  appendAudit,
  appendEvent,
  type EventInput,
  listAudit,
  listEvents,
} from "./events.js";
export {
  authenticateToken,
  createMembership,
  createOrganization,
  createProject,
  createServiceAccount,
  createToken,
  createUser,
  deleteMembership,
  getOrganization,
  getProject,
  getServiceAccount,
  getToken,
  getUser,
  getUserByEmail,
  listMemberships,
  listOrganizations,
  listProjects,
  listServiceAccounts,
  listTokens,
  type MembershipGrant,
  revokeToken,
  setPlatformRole,
} from "./iam.js";
export {
  hashRequest,
  type IdempotentOutcome,
  type IdempotentResponse,
  purgeIdempotencyKeys,
  runIdempotent,
} from "./idempotency.js";
export { inTransaction } from "./in-transaction.js";
export {
  createInstanceWithTask,
  getInstance,
  getInstanceMember,
  type InstanceInput,
  type LaunchRecord,
  listInstanceMembers,
  listInstances,
  reviseInstance,
  transitionInstance,
  upsertInstanceMember,
} from "./instances.js";
export {
  ALLOCATION_TRANSITIONS,
  ARTIFACT_TRANSITIONS,
  canTransition,
  GPU_HOLDING_STATES,
  INSTANCE_TRANSITIONS,
  NODE_TRANSITIONS,
} from "./lifecycles.js";
export { migrateToLatest } from "./migrate-to-latest.js";
export { MIGRATIONS } from "./migrations/migrations.js";
export type { SqlMigration } from "./migrations/sql-migration.js";
export { newId, toLogIdentity } from "./mint-secret.js";
export {
  authenticateNode,
  createBootstrapToken,
  createNode,
  getNode,
  listNodes,
  recordHeartbeat,
  redeemBootstrapToken,
  setNodeState,
} from "./nodes.js";
export { createPgliteTemplate, openStore, type Store, type StoreOptions } from "./open-store.js";
export { PAGE_LIMITS } from "./page-cursor.js";
export {
  isStoreError,
  STORE_ERRORS,
  StoreError,
  type StoreErrorCode,
} from "./store-error.js";
export {
  completeTask,
  enqueueTask,
  extendTaskLease,
  getTask,
  leaseTasks,
  listTasks,
  type TaskInput,
} from "./tasks.js";
export * from "./types.js";

export {
  type AppContext,
  type BuildAppOptions,
  buildApp,
  CLOSE_GRACE_MS,
} from "./http/build-app.js";
export {
  type ConfigProblem,
  type ConfigResult,
  isLoopbackHost,
  loadServerConfig,
  SERVER_OPTIONS,
  type ServerConfig,
} from "./http/server-config.js";
export { ensureRegistryTokenSigner, resolveTokenKeyPaths } from "./registry/token-service.js";
export * from "./store/index.js";
export {
  ensureLocalNode,
  type LocalHostShape,
  type LocalNode,
  mintLocalBootstrapToken,
  toNodeName,
} from "./up/ensure-local-node.js";
export {
  type CaddyEdge,
  type CaddyEdgeOptions,
  checkEdgeStart,
  type EdgeAdminAddress,
  startCaddyEdge,
  toEdgeAdminAddress,
} from "./up/start-caddy-edge.js";
export {
  type ControlPlane,
  type CuratedManifest,
  startControlPlane,
  toCuratedVersion,
} from "./up/start-control-plane.js";

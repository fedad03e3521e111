import { isAllowedAdminEndpoint } from "@gpuaas/ingress/caddy-admin";
import { Ajv2020 } from "ajv/dist/2020.js";

/** One configuration option: where it can come from and how it is checked. */
interface OptionSpec {
  readonly env: string;
  readonly flag: string;
  readonly description: string;
  readonly schema: Readonly<Record<string, unknown>>;
  /** Secret values are never printed, logged or echoed in an error. */
  readonly secret?: boolean;
}

/**
 * Every option of the control plane, with its flag, environment variable, default and check.
 * This table is the single source of `gpuaas up --help`, the docs and start-up validation.
 */
export const SERVER_OPTIONS = {
  host: {
    env: "GPUAAS_HOST",
    flag: "--host",
    description:
      "Address to listen on. Anything but loopback requires every route to authenticate (it always does).",
    schema: { type: "string", minLength: 1, maxLength: 255, default: "127.0.0.1" },
  },
  port: {
    env: "GPUAAS_PORT",
    flag: "--port",
    description: "TCP port to listen on (0 picks a free one).",
    schema: { type: "integer", minimum: 0, maximum: 65535, default: 8080 },
  },
  data_dir: {
    env: "GPUAAS_DATA_DIR",
    flag: "--data-dir",
    description: "Directory of the embedded PGlite store and of admin.token.",
    schema: { type: "string", minLength: 1, default: ".gpuaas" },
  },
  database_url: {
    env: "DATABASE_URL",
    flag: "--database-url",
    description:
      "PostgreSQL connection string; when set, the store uses PostgreSQL instead of PGlite.",
    schema: { type: "string", pattern: "^postgres(ql)?://" },
    secret: true,
  },
  registry_url: {
    env: "GPUAAS_REGISTRY_URL",
    flag: "--registry-url",
    description:
      "Base URL of the platform OCI registry (https, or http on a loopback address only).",
    schema: { type: "string", pattern: "^https?://[^/\\s]+/?$", default: "http://127.0.0.1:5055" },
  },
  oci_node_tasks_enabled: {
    env: "APP_RUNTIME_LAUNCHABLE_OCI_NODE_TASKS_ENABLED",
    flag: "--enable-oci-node-tasks",
    description: "Hand accepted launches to node agents. Off (fail-closed) unless enabled.",
    schema: { type: "boolean", default: false },
  },
  managed_ingress_host_map: {
    env: "APP_RUNTIME_MANAGED_INGRESS_PUBLIC_HOST_MAP",
    flag: "--managed-ingress-host-map",
    description:
      'JSON object "<app_slug>.<endpoint>" → public base host (jupyter.apps.example.test, *.apps.example.test, or a bare label under --ingress-domain); each instance gets its own single-label host under it. Managed ingress is offered only for mapped endpoints.',
    schema: {
      type: "object",
      propertyNames: { pattern: "^[a-z][a-z0-9-]*\\.[a-z][a-z0-9_]*$" },
      additionalProperties: {
        type: "string",
        pattern: "^(\\*\\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
      },
      default: {},
    },
  },
  ingress_domain: {
    env: "GPUAAS_INGRESS_DOMAIN",
    flag: "--ingress-domain",
    description:
      "The apps domain every managed-ingress host lies under (e.g. apps.example.test; one *.domain certificate covers them); bare-label host map values sit under it. Keep it apart from the console's domain.",
    schema: {
      type: "string",
      maxLength: 253,
      pattern: "^$|^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
      default: "",
    },
  },
  ingress_public_scheme: {
    env: "GPUAAS_INGRESS_PUBLIC_SCHEME",
    flag: "--ingress-public-scheme",
    description:
      "Scheme browsers use to reach managed endpoints (http only where TLS ends in front of the edge, or in tests). Default https; with --edge-caddy, the edge's own (https with --edge-tls-cert-file, else http).",
    schema: { type: "string", enum: ["https", "http"], default: "https" },
  },
  ingress_public_port: {
    env: "GPUAAS_INGRESS_PUBLIC_PORT",
    flag: "--ingress-public-port",
    description:
      "Port browsers use to reach the edge; 0 means the scheme's default (443 or 80). With --edge-caddy, default the port of --edge-listen.",
    schema: { type: "integer", minimum: 0, maximum: 65535, default: 0 },
  },
  ingress_access: {
    env: "GPUAAS_INGRESS_ACCESS",
    flag: "--ingress-access",
    description:
      "Who may reach an instance's managed endpoints: its owner only, or also the members (project_member and above) of its project. per_user_instance endpoints are always owner-only.",
    schema: { type: "string", enum: ["owner", "project_members"], default: "owner" },
  },
  ingress_console_url: {
    env: "GPUAAS_INGRESS_CONSOLE_URL",
    flag: "--ingress-console-url",
    description:
      "Public base URL of the console: browser routes send users to <url>/ingress/sign-in, and it is the issuer (iss) of the identity assertions. Empty: the control plane's own address.",
    schema: { type: "string", maxLength: 2048, pattern: "^$|^https?://[^/?#\\s]+/?$", default: "" },
  },
  ingress_forward_auth_url: {
    env: "GPUAAS_INGRESS_FORWARD_AUTH_URL",
    flag: "--ingress-forward-auth-url",
    description:
      "Base URL the edge dials for forward auth (plain HTTP, e.g. http://127.0.0.1:8080). Empty: the control plane's own listen address.",
    schema: { type: "string", maxLength: 2048, pattern: "^$|^http://[^/?#@\\s]+/?$", default: "" },
  },
  caddy_admin_url: {
    env: "GPUAAS_CADDY_ADMIN_URL",
    flag: "--caddy-admin-url",
    description:
      "Caddy admin API of the edge (http://127.0.0.1:<port> or unix:<absolute socket path>; never another address; only a unix socket with --edge-caddy). When set, the control plane applies managed routes to it. Empty: routes are stored but no edge is driven.",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  edge_caddy: {
    env: "GPUAAS_EDGE_CADDY",
    flag: "--edge-caddy",
    description:
      "Path of a caddy binary (e.g. /usr/bin/caddy): gpuaas up starts that Caddy as the managed-ingress edge, loads its base configuration through the admin API (a unix socket in <data-dir>/edge unless --caddy-admin-url names another unix socket; never a TCP port), restarts it if it dies and stops it at exit. Empty: no edge is started (point --caddy-admin-url at a Caddy you run).",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  edge_listen: {
    env: "GPUAAS_EDGE_LISTEN",
    flag: "--edge-listen",
    description:
      "Address the Caddy started by --edge-caddy serves managed endpoints on (host:port; :443 or 0.0.0.0:443 for every interface). Browsers reach it at --ingress-public-scheme and --ingress-public-port.",
    schema: {
      type: "string",
      pattern: "^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+|localhost)?:[0-9]{1,5}$",
      default: "127.0.0.1:8081",
    },
  },
  edge_tls_cert_file: {
    env: "GPUAAS_EDGE_TLS_CERT_FILE",
    flag: "--edge-tls-cert-file",
    description:
      "PEM certificate (chain) the Caddy started by --edge-caddy serves, e.g. one for *.<ingress domain>; with --edge-tls-key-file. Empty: the edge speaks plain HTTP (TLS ends in front of it, or tests).",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  edge_tls_key_file: {
    env: "GPUAAS_EDGE_TLS_KEY_FILE",
    flag: "--edge-tls-key-file",
    description: "PEM private key of --edge-tls-cert-file.",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  ingress_edge_retry_ms: {
    env: "GPUAAS_INGRESS_EDGE_RETRY_MS",
    flag: "--ingress-edge-retry-ms",
    description:
      "How often the edge applier retries route changes the edge has not taken yet, and re-checks the edge; 0 turns the retries off.",
    schema: { type: "integer", minimum: 0, maximum: 3_600_000, default: 5_000 },
  },
  ingress_signing_key_file: {
    env: "GPUAAS_INGRESS_SIGNING_KEY_FILE",
    flag: "--ingress-signing-key-file",
    description:
      "PEM (PKCS#8) P-256 key that signs the identity assertions (ES256) workloads receive, made on first use (mode 0600); its public half is served at /.well-known/jwks.json. Empty: <data-dir>/ingress/assertion-key.pem.",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  registry_token_service: {
    env: "GPUAAS_REGISTRY_TOKEN_SERVICE",
    flag: "--registry-token-service",
    description:
      "The service name the platform registry sends in its token challenges (its auth.token.service); the audience of pull tokens.",
    schema: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,128}$", default: "gpuaas-registry" },
  },
  registry_token_issuer: {
    env: "GPUAAS_REGISTRY_TOKEN_ISSUER",
    flag: "--registry-token-issuer",
    description:
      "The issuer of registry pull tokens; configure the registry's auth.token.issuer to the same value.",
    schema: {
      type: "string",
      pattern: "^[A-Za-z0-9._:/-]{1,128}$",
      default: "gpuaas-control-plane",
    },
  },
  registry_token_key_file: {
    env: "GPUAAS_REGISTRY_TOKEN_KEY_FILE",
    flag: "--registry-token-key-file",
    description:
      "PEM (PKCS#8) RSA key that signs registry pull tokens, made on first use (mode 0600). Empty: <data-dir>/registry-token/key.pem.",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  registry_token_cert_file: {
    env: "GPUAAS_REGISTRY_TOKEN_CERT_FILE",
    flag: "--registry-token-cert-file",
    description:
      "Self-signed certificate of that key, made on first use; give it to the registry as auth.token.rootcertbundle. Empty: <data-dir>/registry-token/cert.pem.",
    schema: { type: "string", maxLength: 4096, default: "" },
  },
  registry_token_ttl_seconds: {
    env: "GPUAAS_REGISTRY_TOKEN_TTL_SECONDS",
    flag: "--registry-token-ttl-seconds",
    description: "Lifetime of a registry pull token, in seconds (60 to 300).",
    schema: { type: "integer", minimum: 60, maximum: 300, default: 300 },
  },
  agent_lease_ms: {
    env: "GPUAAS_AGENT_LEASE_MS",
    flag: "--agent-lease-ms",
    description:
      "How long a node task stays leased to its agent before it is handed out again; agents extend the lease while they work. Pull credentials expire with it.",
    schema: { type: "integer", minimum: 5_000, maximum: 3_600_000, default: 60_000 },
  },
  agent_offline_after_ms: {
    env: "GPUAAS_AGENT_OFFLINE_AFTER_MS",
    flag: "--agent-offline-after-ms",
    description:
      "A node whose agent sent no heartbeat for this long is marked offline and its busy instances unknown.",
    schema: { type: "integer", minimum: 1_000, maximum: 86_400_000, default: 60_000 },
  },
  agent_sweep_interval_ms: {
    env: "GPUAAS_AGENT_SWEEP_INTERVAL_MS",
    flag: "--agent-sweep-interval-ms",
    description: "How often the control plane looks for lost agents; 0 turns the sweep off.",
    schema: { type: "integer", minimum: 0, maximum: 3_600_000, default: 10_000 },
  },
  instance_logs_timeout_ms: {
    env: "GPUAAS_INSTANCE_LOGS_TIMEOUT_MS",
    flag: "--instance-logs-timeout-ms",
    description:
      "How long GET …/app-instances/{id}/logs waits for the node agent's answer before 504 instance.logs_timeout.",
    schema: { type: "integer", minimum: 100, maximum: 60_000, default: 10_000 },
  },
  body_limit_bytes: {
    env: "GPUAAS_BODY_LIMIT_BYTES",
    flag: "--body-limit-bytes",
    description: "Largest request body accepted, in bytes.",
    schema: { type: "integer", minimum: 1024, maximum: 16_777_216, default: 1_048_576 },
  },
  log_level: {
    env: "GPUAAS_LOG_LEVEL",
    flag: "--log-level",
    description: "Log level.",
    schema: {
      type: "string",
      enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
      default: "info",
    },
  },
} as const satisfies Record<string, OptionSpec>;

/** The validated, frozen configuration. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly data_dir: string;
  readonly database_url?: string;
  readonly registry_url: string;
  readonly oci_node_tasks_enabled: boolean;
  readonly managed_ingress_host_map: Readonly<Record<string, string>>;
  readonly ingress_domain: string;
  readonly ingress_public_scheme: "https" | "http";
  readonly ingress_public_port: number;
  readonly ingress_access: "owner" | "project_members";
  readonly ingress_console_url: string;
  readonly ingress_forward_auth_url: string;
  readonly caddy_admin_url: string;
  readonly edge_caddy: string;
  readonly edge_listen: string;
  readonly edge_tls_cert_file: string;
  readonly edge_tls_key_file: string;
  readonly ingress_edge_retry_ms: number;
  readonly ingress_signing_key_file: string;
  readonly registry_token_service: string;
  readonly registry_token_issuer: string;
  readonly registry_token_key_file: string;
  readonly registry_token_cert_file: string;
  readonly registry_token_ttl_seconds: number;
  readonly agent_lease_ms: number;
  readonly agent_offline_after_ms: number;
  readonly agent_sweep_interval_ms: number;
  readonly instance_logs_timeout_ms: number;
  readonly body_limit_bytes: number;
  readonly log_level: string;
}

/** One problem with the configuration, named by the option's flag and its environment variable. */
export interface ConfigProblem {
  readonly option: string;
  readonly message: string;
}

/** The configuration, or every problem with it. */
export type ConfigResult =
  | { ok: true; config: ServerConfig }
  | { ok: false; problems: readonly ConfigProblem[] };

type OptionName = keyof typeof SERVER_OPTIONS;

const ajv = new Ajv2020({ allErrors: true, useDefaults: true, coerceTypes: true, strict: false });
const validate = ajv.compile({
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(
    Object.entries(SERVER_OPTIONS).map(([name, spec]) => [name, spec.schema]),
  ),
});

/**
 * With an edge that `gpuaas up` runs (`edge_caddy`), the address browsers use defaults to that
 * edge's: `http` unless it serves TLS, on its listen port. Only what the operator left unset is
 * filled in; behind a proxy or a port mapping they set both.
 */
function deriveEdgeAddress(raw: Record<string, unknown>): void {
  if (typeof raw.edge_caddy !== "string" || raw.edge_caddy === "") return;
  if (raw.ingress_public_scheme === undefined) {
    const tls = typeof raw.edge_tls_cert_file === "string" && raw.edge_tls_cert_file !== "";
    raw.ingress_public_scheme = tls ? "https" : "http";
  }
  if (raw.ingress_public_port === undefined) {
    const listen =
      typeof raw.edge_listen === "string"
        ? raw.edge_listen
        : SERVER_OPTIONS.edge_listen.schema.default;
    const port = Number(/:(\d{1,5})$/.exec(listen)?.[1]);
    if (Number.isInteger(port) && port > 0 && port <= 65535) raw.ingress_public_port = port;
  }
}

/**
 * Builds the configuration from (in rising precedence) a config file's object, the environment
 * and command-line values, validates it all at once and freezes it. Pure: callers read the file
 * and pass `process.env`.
 */
export function loadServerConfig(sources: {
  readonly file?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly flags?: Readonly<Partial<Record<OptionName, unknown>>>;
}): ConfigResult {
  const raw: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(sources.file ?? {})) {
    if (!(key in SERVER_OPTIONS))
      problems.push({ option: key, message: `unknown option "${key}" in the config file` });
    else raw[key] = value;
  }
  for (const [name, spec] of Object.entries(SERVER_OPTIONS) as [OptionName, OptionSpec][]) {
    const fromEnv = sources.env?.[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") raw[name] = parseText(fromEnv, problems, spec);
    const fromFlag = sources.flags?.[name];
    if (fromFlag !== undefined)
      raw[name] = typeof fromFlag === "string" ? parseText(fromFlag, problems, spec) : fromFlag;
  }
  deriveEdgeAddress(raw);
  if (!validate(raw)) {
    for (const error of validate.errors ?? []) {
      const name = error.instancePath.split("/")[1] as OptionName | undefined;
      const spec = name ? SERVER_OPTIONS[name] : undefined;
      const label = spec ? `${spec.flag} / ${spec.env}` : (name ?? "config");
      const shown =
        spec && "secret" in spec && spec.secret ? "" : ` (got ${JSON.stringify(error.data)})`;
      problems.push({ option: label, message: `${error.message ?? "invalid"}${shown}` });
    }
  }
  const config = raw as unknown as ServerConfig;
  if (
    typeof config.registry_url === "string" &&
    !isLoopbackRegistry(config.registry_url) &&
    config.registry_url.startsWith("http:")
  ) {
    problems.push({
      option: `${SERVER_OPTIONS.registry_url.flag} / ${SERVER_OPTIONS.registry_url.env}`,
      message: "plain-HTTP registries are allowed only on a loopback address; use https",
    });
  }
  if (
    typeof config.caddy_admin_url === "string" &&
    config.caddy_admin_url !== "" &&
    !isAllowedAdminEndpoint(config.caddy_admin_url)
  ) {
    problems.push({
      option: `${SERVER_OPTIONS.caddy_admin_url.flag} / ${SERVER_OPTIONS.caddy_admin_url.env}`,
      message:
        "the edge's admin API must be on loopback (http://127.0.0.1:<port>, http://[::1]:<port>, http://localhost:<port>) or a unix socket (unix:/absolute/path); it is never reachable from another host",
    });
  }
  // Checks a schema cannot express run even when others failed: every problem is reported at once.
  problems.push(...checkEdgeOptions(raw));
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: Object.freeze({
      ...config,
      managed_ingress_host_map: Object.freeze({ ...config.managed_ingress_host_map }),
    }),
  };
}

/** A flag or environment value as the option's type: JSON for object options, else the text. */
function parseText(value: string, problems: ConfigProblem[], spec: OptionSpec): unknown {
  if (spec.schema.type !== "object") return value;
  try {
    return JSON.parse(value);
  } catch {
    problems.push({ option: `${spec.flag} / ${spec.env}`, message: "is not a JSON object" });
    return undefined;
  }
}

/** The problems of the edge options that a schema cannot express (on the raw, unchecked values). */
function checkEdgeOptions(raw: Readonly<Record<string, unknown>>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const label = (name: OptionName) => `${SERVER_OPTIONS[name].flag} / ${SERVER_OPTIONS[name].env}`;
  const listen = /:(\d{1,5})$/.exec(typeof raw.edge_listen === "string" ? raw.edge_listen : "");
  if (listen !== null && !(Number(listen[1]) >= 1 && Number(listen[1]) <= 65535)) {
    problems.push({ option: label("edge_listen"), message: "the port must be 1-65535" });
  }
  const edgeCaddy = typeof raw.edge_caddy === "string" ? raw.edge_caddy : "";
  const adminUrl = typeof raw.caddy_admin_url === "string" ? raw.caddy_admin_url : "";
  // The edge gpuaas up starts takes any config its admin API is given, forward auth or not: a TCP
  // port on loopback is open to every local user, a socket in a private directory is not. (Any
  // non-loopback address is already refused for every edge.)
  if (
    edgeCaddy !== "" &&
    adminUrl !== "" &&
    !adminUrl.startsWith("unix:") &&
    isAllowedAdminEndpoint(adminUrl)
  ) {
    problems.push({
      option: label("caddy_admin_url"),
      message: `with ${SERVER_OPTIONS.edge_caddy.flag} the edge's admin API must be a unix socket (unix:/absolute/path, in a directory only this user can enter) or left empty for <data-dir>/edge/caddy-admin.sock; a TCP port, even on loopback, is reachable by every local user`,
    });
  }
  const cert = typeof raw.edge_tls_cert_file === "string" ? raw.edge_tls_cert_file : "";
  const key = typeof raw.edge_tls_key_file === "string" ? raw.edge_tls_key_file : "";
  if ((cert === "") !== (key === "")) {
    problems.push({
      option: label(cert === "" ? "edge_tls_cert_file" : "edge_tls_key_file"),
      message: "the edge's certificate and key go together: give both or neither",
    });
  }
  return problems;
}

/** True when a registry URL names a loopback host. */
export function isLoopbackRegistry(url: string): boolean {
  const host = url
    .replace(/^https?:\/\//, "")
    .replace(/\/.*$/, "")
    .replace(/:\d+$/, "");
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** True when a listen address is loopback only. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

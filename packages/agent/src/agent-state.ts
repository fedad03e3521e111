import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What the agent keeps between runs: which control plane it joined, as which node, with what. */
export interface AgentState {
  readonly version: 1;
  /** The control plane's base URL when the credential was issued. */
  readonly server_url: string;
  readonly node_id: string;
  /** The node credential (`gpuaas_node_…`); the file holding it is 0600 in a 0700 directory. */
  readonly node_credential: string;
  readonly registered_at: string;
}

/** The state file's name inside the agent's state directory. */
export const AGENT_STATE_FILE = "agent-state.json";

function isState(value: unknown): value is AgentState {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record.version === 1 &&
    typeof record.server_url === "string" &&
    typeof record.node_id === "string" &&
    typeof record.node_credential === "string" &&
    record.node_credential.length > 0 &&
    typeof record.registered_at === "string"
  );
}

/**
 * Reads the stored node credential, or undefined when there is none (or it is unreadable: the
 * agent then registers again with a bootstrap token).
 */
export async function loadAgentState(stateDir: string): Promise<AgentState | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(join(stateDir, AGENT_STATE_FILE), "utf8"));
    return isState(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the state file atomically (a 0600 temporary file renamed over it) in a 0700 directory,
 * so the node credential is never readable by another user, not even for a moment.
 */
export async function saveAgentState(stateDir: string, state: AgentState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700);
  const target = join(stateDir, AGENT_STATE_FILE);
  const temporary = `${target}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, target);
  } finally {
    await rm(temporary, { force: true });
  }
}

/** Deletes the stored credential (the control plane refused it). */
export async function clearAgentState(stateDir: string): Promise<void> {
  await rm(join(stateDir, AGENT_STATE_FILE), { force: true });
}

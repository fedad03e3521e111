import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A pull credential minted by the control plane for one task: the registry it is for and a
 * short-lived token the registry's token service accepts as the password of `username`.
 */
export interface PullCredential {
  /** `host:port` of the registry, exactly as in the image reference. */
  readonly registry: string;
  readonly token: string;
  /** Defaults to the agent's configured registry user name. */
  readonly username?: string;
  readonly expires_at?: string;
}

/** The file name inside an auth directory: podman's `--authfile` and docker's `DOCKER_CONFIG`. */
export const AUTH_FILE_NAME = "config.json";
/** Prefix of every private directory holding a pull auth file. */
export const AUTH_DIR_PREFIX = "pull-";

/**
 * The registry part of an image reference (`host:port/repo@sha256:…` → `host:port`).
 *
 * @example
 * registryOfImage("127.0.0.1:5055/apps/web@sha256:ab…") // "127.0.0.1:5055"
 */
export function registryOfImage(image: string): string {
  const slash = image.indexOf("/");
  return slash < 0 ? "" : image.slice(0, slash);
}

/**
 * A token as it may appear in logs and results: `token:<first 6 hex of its sha256>`.
 *
 * @example
 * fingerprintToken("abc") // "token:ba7816"
 */
export function fingerprintToken(token: string): string {
  return `token:${createHash("sha256").update(token).digest("hex").slice(0, 6)}`;
}

/**
 * The docker-style auth file (`{"auths":{"<registry>":{"auth":"base64(user:token)"}}}`) that
 * podman's `--authfile`, docker's `DOCKER_CONFIG` and nerdctl all read. `registrytoken` is not
 * used: containers/image ignores it (execution.md §3.1).
 */
export function renderAuthConfig(credential: PullCredential, defaultUsername: string): string {
  const user = credential.username ?? defaultUsername;
  const auth = Buffer.from(`${user}:${credential.token}`).toString("base64");
  return `${JSON.stringify({ auths: { [credential.registry]: { auth } } })}\n`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64);
}

/**
 * Runs `fn` with a private directory (0700) holding a 0600 auth file for the credential, and
 * deletes the directory when `fn` settles, whether it succeeded or threw.
 */
export async function withPullAuth<T>(
  secretsDir: string,
  instanceId: string,
  credential: PullCredential,
  defaultUsername: string,
  fn: (authDir: string) => Promise<T>,
): Promise<T> {
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(secretsDir, `${AUTH_DIR_PREFIX}${safeSegment(instanceId)}-`));
  try {
    await chmod(dir, 0o700);
    await writeFile(join(dir, AUTH_FILE_NAME), renderAuthConfig(credential, defaultUsername), {
      mode: 0o600,
      flag: "wx",
    });
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Deletes auth directories left behind by an agent that died mid-pull: all of them, or those of one
 * instance. Returns how many were removed.
 */
export async function sweepAuthDirs(secretsDir: string, instanceId?: string): Promise<number> {
  // mkdtemp appends six characters; matching them exactly keeps instance "a" off "a-b"'s files.
  const segment =
    instanceId === undefined ? "[A-Za-z0-9_.-]+" : escapeRegExp(safeSegment(instanceId));
  const pattern = new RegExp(`^${AUTH_DIR_PREFIX}${segment}-[A-Za-z0-9]{6}$`);
  const names = await readdir(secretsDir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (!pattern.test(name)) continue;
    await rm(join(secretsDir, name), { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}

/**
 * The credentials of managed-ingress routes, none of them a platform token: one-time sign-in
 * tickets and host-only app sessions of browser routes, and per-endpoint API keys of API routes.
 * Only SHA-256 digests are stored; each plaintext is handed out once.
 */
import type { Selectable } from "kysely";
import type { StoreDb } from "./database.js";
import { getServiceAccount, getUser } from "./iam.js";
import { type IngressDatabase, toIngressDb } from "./ingress-database.js";
import { hashSecret, isSecretOfKind, mintSecret, newId } from "./mint-secret.js";
import type { ServiceAccount, TokenOwner, User } from "./types.js";

/** A secret handed out once, with when it stops working. */
export interface IssuedSecret {
  readonly plaintext: string;
  readonly expires_at: string;
}

/** Who a ticket or an app session signs in. */
export interface IngressSignIn {
  readonly user: User;
  /** The console session (or token) the sign-in came from; its revocation ends the app session. */
  readonly parent_token_id: string;
}

/**
 * Mints a one-time ticket that signs `user_id` in on one route's host: the console hands it to
 * the browser, the route's forward-auth redeems it for an app session.
 */
export async function createIngressTicket(
  db: StoreDb,
  input: {
    readonly route_id: string;
    readonly user_id: string;
    readonly parent_token_id: string;
    readonly ttl_ms: number;
    readonly now: Date;
  },
): Promise<IssuedSecret> {
  const secret = mintSecret("ingress_ticket");
  const expires = new Date(input.now.getTime() + input.ttl_ms);
  await toIngressDb(db)
    .insertInto("ingress_tickets")
    .values({
      ticket_hash: secret.hash,
      route_id: input.route_id,
      user_id: input.user_id,
      parent_token_id: input.parent_token_id,
      expires_at: expires,
    })
    .execute();
  return { plaintext: secret.plaintext, expires_at: expires.toISOString() };
}

/**
 * Redeems a ticket for `route_id`: it is deleted whatever the outcome (one use only), and signs
 * its user in only when it was minted for this route, is unexpired and its parent is still valid.
 */
export async function redeemIngressTicket(
  db: StoreDb,
  input: { readonly plaintext: string; readonly route_id: string; readonly now: Date },
): Promise<IngressSignIn | undefined> {
  if (!isSecretOfKind(input.plaintext, "ingress_ticket")) return undefined;
  const idb = toIngressDb(db);
  const ticket = await idb
    .deleteFrom("ingress_tickets")
    .where("ticket_hash", "=", hashSecret(input.plaintext))
    .returningAll()
    .executeTakeFirst();
  if (
    ticket === undefined ||
    ticket.route_id !== input.route_id ||
    ticket.expires_at.getTime() <= input.now.getTime() ||
    !(await isTokenValid(db, ticket.parent_token_id, input.now))
  ) {
    return undefined;
  }
  const user = await getUser(db, ticket.user_id);
  return user === undefined ? undefined : { user, parent_token_id: ticket.parent_token_id };
}

/** Opens an app session on one route for a user the ticket signed in. */
export async function createAppSession(
  db: StoreDb,
  input: {
    readonly route_id: string;
    readonly user_id: string;
    readonly parent_token_id: string;
    readonly ttl_ms: number;
    readonly now: Date;
  },
): Promise<IssuedSecret> {
  const secret = mintSecret("app_session");
  const expires = new Date(input.now.getTime() + input.ttl_ms);
  await toIngressDb(db)
    .insertInto("ingress_sessions")
    .values({
      id: newId(),
      token_hash: secret.hash,
      route_id: input.route_id,
      user_id: input.user_id,
      parent_token_id: input.parent_token_id,
      expires_at: expires,
    })
    .execute();
  return { plaintext: secret.plaintext, expires_at: expires.toISOString() };
}

/**
 * The user an app session of `route_id` signs in, or undefined when the session is unknown,
 * of another route, expired, or its console session was signed out or revoked.
 */
export async function authenticateAppSession(
  db: StoreDb,
  input: { readonly plaintext: string; readonly route_id: string; readonly now: Date },
): Promise<IngressSignIn | undefined> {
  if (!isSecretOfKind(input.plaintext, "app_session")) return undefined;
  const session = await toIngressDb(db)
    .selectFrom("ingress_sessions")
    .selectAll()
    .where("token_hash", "=", hashSecret(input.plaintext))
    .where("route_id", "=", input.route_id)
    .where("expires_at", ">", input.now)
    .executeTakeFirst();
  if (session === undefined || !(await isTokenValid(db, session.parent_token_id, input.now))) {
    return undefined;
  }
  const user = await getUser(db, session.user_id);
  return user === undefined ? undefined : { user, parent_token_id: session.parent_token_id };
}

async function isTokenValid(db: StoreDb, tokenId: string, now: Date): Promise<boolean> {
  const token = await db
    .selectFrom("api_tokens")
    .select("id")
    .where("id", "=", tokenId)
    .where("revoked_at", "is", null)
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
    .executeTakeFirst();
  return token !== undefined;
}

/** Deletes expired tickets and app sessions; returns how many went. */
export async function purgeIngressCredentials(db: StoreDb, now: Date): Promise<number> {
  const idb = toIngressDb(db);
  const tickets = await idb.deleteFrom("ingress_tickets").where("expires_at", "<=", now).execute();
  const sessions = await idb
    .deleteFrom("ingress_sessions")
    .where("expires_at", "<=", now)
    .execute();
  return Number(tickets[0]?.numDeletedRows ?? 0) + Number(sessions[0]?.numDeletedRows ?? 0);
}

/** An endpoint API key's metadata; the secret is shown once, at creation or rotation. */
export interface EndpointApiKey {
  readonly id: string;
  readonly instance_id: string;
  readonly project_id: string;
  readonly endpoint_name: string;
  readonly name: string;
  /** Who the key acts for: the caller who created it. */
  readonly owner: TokenOwner;
  readonly fingerprint: string;
  readonly created_at: string;
  readonly rotated_at: string | null;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
}

/** The identity an API key or token acts for. */
export type IngressPrincipal =
  | { readonly kind: "user"; readonly user: User }
  | { readonly kind: "service_account"; readonly service_account: ServiceAccount };

type KeyRow = Selectable<IngressDatabase["endpoint_api_keys"]>;

function toEndpointApiKey(row: KeyRow): EndpointApiKey {
  const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());
  return {
    id: row.id,
    instance_id: row.instance_id,
    project_id: row.project_id,
    endpoint_name: row.endpoint_name,
    name: row.name,
    owner:
      row.user_id !== null
        ? { kind: "user", user_id: row.user_id }
        : { kind: "service_account", service_account_id: row.service_account_id ?? "" },
    fingerprint: row.fingerprint,
    created_at: row.created_at.toISOString(),
    rotated_at: iso(row.rotated_at),
    expires_at: iso(row.expires_at),
    revoked_at: iso(row.revoked_at),
    last_used_at: iso(row.last_used_at),
  };
}

/** Creates an API key for one endpoint of an instance, acting for `owner`. */
export async function createEndpointApiKey(
  db: StoreDb,
  input: {
    readonly instance_id: string;
    readonly project_id: string;
    readonly endpoint_name: string;
    readonly name: string;
    readonly owner: TokenOwner;
    readonly expires_at?: Date | null;
  },
): Promise<{ readonly key: EndpointApiKey; readonly plaintext: string }> {
  const secret = mintSecret("endpoint_api_key");
  const row = await toIngressDb(db)
    .insertInto("endpoint_api_keys")
    .values({
      id: newId(),
      instance_id: input.instance_id,
      project_id: input.project_id,
      endpoint_name: input.endpoint_name,
      name: input.name,
      user_id: input.owner.kind === "user" ? input.owner.user_id : null,
      service_account_id:
        input.owner.kind === "service_account" ? input.owner.service_account_id : null,
      key_hash: secret.hash,
      fingerprint: secret.fingerprint,
      expires_at: input.expires_at ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { key: toEndpointApiKey(row), plaintext: secret.plaintext };
}

/** The API keys of one endpoint of an instance, revoked ones included, oldest first. */
export async function listEndpointApiKeys(
  db: StoreDb,
  input: { readonly instance_id: string; readonly endpoint_name: string },
): Promise<EndpointApiKey[]> {
  const rows = await toIngressDb(db)
    .selectFrom("endpoint_api_keys")
    .selectAll()
    .where("instance_id", "=", input.instance_id)
    .where("endpoint_name", "=", input.endpoint_name)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map(toEndpointApiKey);
}

/**
 * Gives an unrevoked key a new secret; the old one stops working at once. Undefined when the key
 * is unknown, of another endpoint, or revoked.
 */
export async function rotateEndpointApiKey(
  db: StoreDb,
  input: {
    readonly id: string;
    readonly instance_id: string;
    readonly endpoint_name: string;
    readonly now: Date;
  },
): Promise<{ readonly key: EndpointApiKey; readonly plaintext: string } | undefined> {
  const secret = mintSecret("endpoint_api_key");
  const row = await toIngressDb(db)
    .updateTable("endpoint_api_keys")
    .set({ key_hash: secret.hash, fingerprint: secret.fingerprint, rotated_at: input.now })
    .where("id", "=", input.id)
    .where("instance_id", "=", input.instance_id)
    .where("endpoint_name", "=", input.endpoint_name)
    .where("revoked_at", "is", null)
    .returningAll()
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { key: toEndpointApiKey(row), plaintext: secret.plaintext };
}

/** Revokes a key (idempotent); undefined when it is unknown or of another endpoint. */
export async function revokeEndpointApiKey(
  db: StoreDb,
  input: {
    readonly id: string;
    readonly instance_id: string;
    readonly endpoint_name: string;
    readonly now: Date;
  },
): Promise<EndpointApiKey | undefined> {
  const idb = toIngressDb(db);
  await idb
    .updateTable("endpoint_api_keys")
    .set({ revoked_at: input.now })
    .where("id", "=", input.id)
    .where("instance_id", "=", input.instance_id)
    .where("endpoint_name", "=", input.endpoint_name)
    .where("revoked_at", "is", null)
    .execute();
  const row = await idb
    .selectFrom("endpoint_api_keys")
    .selectAll()
    .where("id", "=", input.id)
    .where("instance_id", "=", input.instance_id)
    .where("endpoint_name", "=", input.endpoint_name)
    .executeTakeFirst();
  return row === undefined ? undefined : toEndpointApiKey(row);
}

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The principal an API key of this endpoint acts for, or undefined when the key is malformed,
 * unknown, of another endpoint, revoked or expired.
 */
export async function authenticateEndpointApiKey(
  db: StoreDb,
  input: {
    readonly plaintext: string;
    readonly instance_id: string;
    readonly endpoint_name: string;
    readonly now: Date;
  },
): Promise<{ readonly key: EndpointApiKey; readonly principal: IngressPrincipal } | undefined> {
  if (!isSecretOfKind(input.plaintext, "endpoint_api_key")) return undefined;
  const idb = toIngressDb(db);
  const row = await idb
    .selectFrom("endpoint_api_keys")
    .selectAll()
    .where("key_hash", "=", hashSecret(input.plaintext))
    .where("instance_id", "=", input.instance_id)
    .where("endpoint_name", "=", input.endpoint_name)
    .where("revoked_at", "is", null)
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", input.now)]))
    .executeTakeFirst();
  if (row === undefined) return undefined;
  let principal: IngressPrincipal | undefined;
  if (row.user_id !== null) {
    const user = await getUser(db, row.user_id);
    if (user !== undefined) principal = { kind: "user", user };
  } else if (row.service_account_id !== null) {
    const account = await getServiceAccount(db, row.service_account_id);
    if (account !== undefined) principal = { kind: "service_account", service_account: account };
  }
  if (principal === undefined) return undefined;
  if (
    row.last_used_at === null ||
    input.now.getTime() - row.last_used_at.getTime() >= LAST_USED_RESOLUTION_MS
  ) {
    await idb
      .updateTable("endpoint_api_keys")
      .set({ last_used_at: input.now })
      .where("id", "=", row.id)
      .execute();
  }
  return { key: toEndpointApiKey(row), principal };
}

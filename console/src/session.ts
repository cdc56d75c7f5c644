// The signed-in user: tokens, claims and one credential set per role, in memory only.

import type { Config } from "./config";
import { type AwsCredentials, type IdClaims, type Tokens, claims, credentialsFor, identityId, revoke } from "./cognito";

export type Permission = "StartDataExport" | "RetrieveDataExport";

export interface Session {
  tokens: Tokens;
  claims: IdClaims;
  identityId: string;
  credentials: Partial<Record<Permission, AwsCredentials>>;
}

let current: Session | undefined;

export function session(): Session | undefined {
  return current;
}

export function holds(permission: Permission): boolean {
  return current?.claims.groups.includes(permission) ?? false;
}

export class NoPermissionError extends Error {
  constructor(readonly permission: Permission) {
    super(`Your sign-in does not include the ${permission} permission.`);
  }
}

export class SessionEndedError extends Error {
  constructor() {
    super("Your session has ended. Sign in again.");
  }
}

/** Exchanges the ID token for one credential set per group the user is in. */
export async function establish(config: Config, tokens: Tokens): Promise<Session> {
  const c = claims(tokens.idToken);
  const identity = await identityId(config, tokens.idToken);
  const credentials: Session["credentials"] = {};
  for (const permission of ["StartDataExport", "RetrieveDataExport"] as const) {
    const role = config.roles[permission];
    if (c.groups.includes(permission) && role) {
      credentials[permission] = await credentialsFor(config, identity, tokens.idToken, role);
    }
  }
  current = { tokens, claims: c, identityId: identity, credentials };
  return current;
}

/** The credentials for a permission, renewed with the ID token when they are about to expire. */
export async function credentialsOf(config: Config, permission: Permission): Promise<AwsCredentials> {
  const s = current;
  if (!s) throw new SessionEndedError();
  const role = config.roles[permission];
  if (!s.claims.groups.includes(permission) || !role) throw new NoPermissionError(permission);
  const held = s.credentials[permission];
  if (held && held.expiresAt - Date.now() > 60_000) return held;
  if (s.claims.expiresAt - Date.now() < 30_000) throw new SessionEndedError();
  const renewed = await credentialsFor(config, s.identityId, s.tokens.idToken, role);
  s.credentials[permission] = renewed;
  return renewed;
}

/** Forgets everything: tokens, credentials, and any storage this origin holds. */
export async function signOut(config: Config | undefined): Promise<void> {
  const s = current;
  current = undefined;
  try {
    localStorage.clear();
    sessionStorage.clear();
  } catch {
    // Storage may be unavailable (privacy settings): nothing was stored there anyway.
  }
  if (s && config) await revoke(config, s.tokens);
}

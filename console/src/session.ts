// The signed-in user: tokens, claims and one credential set per role, in memory only.

import type { Config } from "./config";
import {
  type AwsCredentials,
  type IdClaims,
  type Tokens,
  CognitoError,
  claims,
  credentialsFor,
  identityId,
  refreshTokens,
  revoke,
} from "./cognito";

export type Permission = "StartDataExport" | "RetrieveDataExport" | "RevokeDataExport";

export interface Session {
  tokens: Tokens;
  claims: IdClaims;
  identityId: string;
  credentials: Partial<Record<Permission, AwsCredentials>>;
  /** The refresh under way, shared by every call that finds the ID token old at once. */
  refreshing?: Promise<void>;
}

let current: Session | undefined;

export function session(): Session | undefined {
  return current;
}

export function holds(permission: Permission): boolean {
  return current?.claims.groups.includes(permission) ?? false;
}

/** May see the account's exports: RetrieveDataExport, or RevokeDataExport (whose role reads too). */
export function canRead(): boolean {
  return holds("RetrieveDataExport") || holds("RevokeDataExport");
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
  for (const permission of ["StartDataExport", "RetrieveDataExport", "RevokeDataExport"] as const) {
    const role = config.roles[permission];
    if (c.groups.includes(permission) && role) {
      credentials[permission] = await credentialsFor(config, identity, tokens.idToken, role);
    }
  }
  current = { tokens, claims: c, identityId: identity, credentials };
  return current;
}

/** Less than this left of the ID token: it is refreshed before the next call. */
const REFRESH_MARGIN_MS = 2 * 60_000;

/**
 * Keeps the ID token current with the refresh token (the app client's RefreshTokenValidity,
 * 12 hours in the template), so a session outlives the one-hour ID token. Each refresh takes the
 * groups from the new token and drops the credentials, so a group an operator took away, or a
 * disabled user (whose refresh Cognito refuses), stops the console within the token's lifetime.
 */
async function freshTokens(config: Config, s: Session): Promise<void> {
  if (s.claims.expiresAt - Date.now() > REFRESH_MARGIN_MS) return;
  if (!s.tokens.refreshToken) throw new SessionEndedError();
  s.refreshing ??= (async () => {
    let tokens: Tokens;
    try {
      tokens = await refreshTokens(config, s.tokens.refreshToken as string);
    } catch (error) {
      if (error instanceof CognitoError && error.code === "NetworkError") throw error;
      throw new SessionEndedError();
    }
    const c = claims(tokens.idToken);
    if (c.username !== s.claims.username || c.chatAccountId !== s.claims.chatAccountId) throw new SessionEndedError();
    s.tokens = tokens;
    s.claims = c;
    s.credentials = {};
  })().finally(() => {
    s.refreshing = undefined;
  });
  await s.refreshing;
}

/** A current access token (refreshed first when it is about to expire), for the user's own calls
 * to the user pool (the sign-in security page). */
export async function accessToken(config: Config): Promise<string> {
  const s = current;
  if (!s) throw new SessionEndedError();
  await freshTokens(config, s);
  if (current !== s) throw new SessionEndedError();
  return s.tokens.accessToken;
}

/** The credentials for a permission, renewed with the ID token when they are about to expire. */
export async function credentialsOf(config: Config, permission: Permission): Promise<AwsCredentials> {
  const s = current;
  if (!s) throw new SessionEndedError();
  await freshTokens(config, s);
  if (current !== s) throw new SessionEndedError(); // signed out meanwhile
  const role = config.roles[permission];
  if (!s.claims.groups.includes(permission) || !role) throw new NoPermissionError(permission);
  const held = s.credentials[permission];
  if (held && held.expiresAt - Date.now() > 60_000) return held;
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

// The signed-in user: tokens, claims and one credential set per role, in memory only.

import type { Config } from "./config";
import {
  type AwsCredentials,
  type IdClaims,
  type Tokens,
  CognitoError,
  claims,
  credentialsFor,
  credentialsForChatToken,
  identityId,
  refreshTokens,
  revoke,
} from "./cognito";

export type Permission = "StartDataExport" | "RetrieveDataExport" | "RevokeDataExport";
/** The chat user's one permission (ChatUserConsoleRole): their own /users/{id}/data-exports routes. */
export const SELF_SERVICE = "SelfServiceDataExport";
export type SignedPermission = Permission | typeof SELF_SERVICE;

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

/** A chat user signed in through the chat service (My attachments): no user pool tokens, one set
 * of credentials for the hour the identity pool gives; then they open My attachments again. */
export interface ChatSession {
  userId: string;
  identityId: string;
  credentials: AwsCredentials;
}

let chat: ChatSession | undefined;

export function chatSession(): ChatSession | undefined {
  return chat;
}

/** Exchanges the chat service's token for the chat user's credentials; USERID is what the link
 * says the token is for (IAM holds the credentials to the chatUserId tag whatever it says). */
export async function establishChatUser(config: Config, userId: string, identity: string, token: string): Promise<ChatSession> {
  const credentials = await credentialsForChatToken(config, identity, token);
  chat = { userId, identityId: identity, credentials };
  return chat;
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

/** Forgets the chat user's credentials (a new hand-over from the chat replaces them). */
export function forgetChatUser(): void {
  chat = undefined;
}

export class SessionEndedError extends Error {
  constructor(message = "Your session has ended. Sign in again.") {
    super(message);
  }
}

/** A chat user's hour is over (or they signed out): only the chat service can sign them in again. */
export class ChatSessionEndedError extends SessionEndedError {
  constructor() {
    super("Your sign-in to My attachments has ended. Open My attachments from the chat again.");
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
export async function credentialsOf(config: Config, permission: SignedPermission): Promise<AwsCredentials> {
  if (permission === SELF_SERVICE) {
    const c = chat;
    if (!c) throw new ChatSessionEndedError();
    // No refresh: only the chat service can vouch for the user again.
    if (c.credentials.expiresAt - Date.now() < 60_000) {
      chat = undefined;
      throw new ChatSessionEndedError();
    }
    return c.credentials;
  }
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
  chat = undefined;
  try {
    localStorage.clear();
    sessionStorage.clear();
  } catch {
    // Storage may be unavailable (privacy settings): nothing was stored there anyway.
  }
  if (s && config) await revoke(config, s.tokens);
}

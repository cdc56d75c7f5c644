// Sign-in against the Cognito user pool and the credential exchange with the identity pool, both
// through their JSON APIs with fetch. Tokens and credentials are kept in memory only: nothing is
// written to localStorage, sessionStorage, cookies or IndexedDB.
//
// Flow: USER_SRP_AUTH, the one the template's app client allows: the password never leaves the
// browser. The SRP arithmetic is amazon-cognito-identity-js's AuthenticationHelper (only that class
// of the library is used; its CognitoUser and token storage are not). Then the NEW_PASSWORD_REQUIRED
// and SOFTWARE_TOKEN_MFA challenges, and MFA_SETUP (enrolling an authenticator app:
// AssociateSoftwareToken and VerifySoftwareToken with the challenge's session). Locally, moto_server.py checks the SRP proof as Cognito does.

import AuthenticationHelper from "amazon-cognito-identity-js/es/AuthenticationHelper";
import BigInteger from "amazon-cognito-identity-js/es/BigInteger";
import type { Config } from "./config";

export class CognitoError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "CognitoError";
  }
}

async function call(endpoint: string, target: string, body: unknown): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target },
      body: JSON.stringify(body),
    });
  } catch {
    throw new CognitoError("NetworkError", "The sign-in service could not be reached. Check your connection and try again.");
  }
  let data: Record<string, unknown> = {};
  try {
    data = (await response.json()) as Record<string, unknown>;
  } catch {
    data = {};
  }
  if (!response.ok) {
    const rawCode = String(data["__type"] ?? data["code"] ?? response.headers.get("x-amzn-errortype") ?? "UnknownError");
    const code = rawCode.split("#").pop()?.split(":")[0] ?? rawCode;
    const message = String(data["message"] ?? data["Message"] ?? "");
    throw new CognitoError(code, message);
  }
  return data;
}

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken?: string;
}

export type SignInStep =
  | { kind: "done"; tokens: Tokens }
  | { kind: "newPassword"; session: string; username: string }
  | { kind: "totp"; session: string; username: string }
  | { kind: "mfaSetup"; session: string; username: string }
  | { kind: "unsupported"; challenge: string };

function step(config: Config, username: string, data: Record<string, unknown>): SignInStep {
  const result = data["AuthenticationResult"] as Record<string, unknown> | undefined;
  if (result && typeof result["IdToken"] === "string" && typeof result["AccessToken"] === "string") {
    const tokens: Tokens = { idToken: result["IdToken"], accessToken: result["AccessToken"] };
    if (typeof result["RefreshToken"] === "string") tokens.refreshToken = result["RefreshToken"];
    return { kind: "done", tokens };
  }
  const challenge = String(data["ChallengeName"] ?? "");
  const session = String(data["Session"] ?? "");
  const params = (data["ChallengeParameters"] ?? {}) as Record<string, unknown>;
  // Cognito may answer with the user's canonical name (case-insensitive pools): use it from now on.
  const name = typeof params["USERNAME"] === "string" ? params["USERNAME"] : username;
  void config;
  if (challenge === "NEW_PASSWORD_REQUIRED") return { kind: "newPassword", session, username: name };
  if (challenge === "SOFTWARE_TOKEN_MFA") return { kind: "totp", session, username: name };
  if (challenge === "MFA_SETUP") {
    // MFAS_CAN_SETUP: a JSON list as a string, e.g. "[\"SOFTWARE_TOKEN_MFA\"]". Only TOTP is enrolled here.
    const can = String(params["MFAS_CAN_SETUP"] ?? "SOFTWARE_TOKEN_MFA");
    if (can.includes("SOFTWARE_TOKEN_MFA")) return { kind: "mfaSetup", session, username: name };
  }
  return { kind: "unsupported", challenge };
}

const IDP = "AWSCognitoIdentityProviderService";

// --- SRP -------------------------------------------------------------------------------------

function promised<T>(run: (callback: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

/** "Tue Nov 3 09:05:01 UTC 2026": the TIMESTAMP format Cognito's PASSWORD_VERIFIER expects. */
function srpTimestamp(now = new Date()): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${days[now.getUTCDay()]} ${months[now.getUTCMonth()]} ${now.getUTCDate()} ${p(now.getUTCHours())}:${p(
    now.getUTCMinutes(),
  )}:${p(now.getUTCSeconds())} UTC ${now.getUTCFullYear()}`;
}

function base64ToBytes(b64: string): Uint8Array {
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return new TextEncoder().encode(b64);
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export async function signIn(config: Config, username: string, password: string): Promise<SignInStep> {
  const poolName = config.userPoolId.split("_")[1] ?? "";
  const helper = new AuthenticationHelper(poolName);
  const a = await promised<BigInteger>((cb) => helper.getLargeAValue(cb));
  const first = await call(config.cognitoIdpEndpoint, `${IDP}.InitiateAuth`, {
    AuthFlow: "USER_SRP_AUTH",
    ClientId: config.userPoolClientId,
    AuthParameters: { USERNAME: username, SRP_A: a.toString(16) },
  });
  if (first["ChallengeName"] !== "PASSWORD_VERIFIER") return step(config, username, first);
  const params = (first["ChallengeParameters"] ?? {}) as Record<string, string>;
  const userIdForSrp = params["USER_ID_FOR_SRP"] ?? username;
  const secretBlock = params["SECRET_BLOCK"] ?? "";
  const key = await promised<Uint8Array>((cb) =>
    helper.getPasswordAuthenticationKey(
      userIdForSrp,
      password,
      new BigInteger(params["SRP_B"] ?? "0", 16),
      new BigInteger(params["SALT"] ?? "0", 16),
      cb,
    ),
  );
  const timestamp = srpTimestamp();
  const enc = new TextEncoder();
  const message = new Uint8Array([
    ...enc.encode(poolName),
    ...enc.encode(userIdForSrp),
    ...base64ToBytes(secretBlock),
    ...enc.encode(timestamp),
  ]);
  const hmacKey = await crypto.subtle.importKey("raw", new Uint8Array(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, message));
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.RespondToAuthChallenge`, {
    ChallengeName: "PASSWORD_VERIFIER",
    ClientId: config.userPoolClientId,
    Session: first["Session"],
    ChallengeResponses: {
      USERNAME: userIdForSrp,
      PASSWORD_CLAIM_SECRET_BLOCK: secretBlock,
      TIMESTAMP: timestamp,
      PASSWORD_CLAIM_SIGNATURE: bytesToBase64(signature),
    },
  });
  // Later challenges name the user as the verifier did (amazon-cognito-identity-js does the same).
  return step(config, userIdForSrp, data);
}

export async function answerNewPassword(
  config: Config,
  session: string,
  username: string,
  newPassword: string,
): Promise<SignInStep> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.RespondToAuthChallenge`, {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: config.userPoolClientId,
    Session: session,
    ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword },
  });
  return step(config, username, data);
}

export async function answerTotp(config: Config, session: string, username: string, code: string): Promise<SignInStep> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.RespondToAuthChallenge`, {
    ChallengeName: "SOFTWARE_TOKEN_MFA",
    ClientId: config.userPoolClientId,
    Session: session,
    ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code },
  });
  return step(config, username, data);
}

/** Who asks for an authenticator: a sign-in's MFA_SETUP challenge (its session), or a signed-in
 * user (the access token). */
export type TotpAuth = { session: string } | { accessToken: string };

function totpAuth(auth: TotpAuth): Record<string, string> {
  return "session" in auth ? { Session: auth.session } : { AccessToken: auth.accessToken };
}

/** A new TOTP secret (base32) for the user, and, in a sign-in, the next session. */
export async function associateTotp(config: Config, auth: TotpAuth): Promise<{ secret: string; session?: string }> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.AssociateSoftwareToken`, totpAuth(auth));
  const secret = data["SecretCode"];
  if (typeof secret !== "string" || !secret) throw new CognitoError("InvalidResponse", "The sign-in service gave no secret key.");
  const session = typeof data["Session"] === "string" ? data["Session"] : "session" in auth ? auth.session : undefined;
  return session === undefined ? { secret } : { secret, session };
}

/** Checks a code of the new secret; in a sign-in, returns the session for the challenge's answer. */
export async function verifyTotp(config: Config, auth: TotpAuth, code: string): Promise<string | undefined> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.VerifySoftwareToken`, {
    ...totpAuth(auth),
    UserCode: code,
    FriendlyDeviceName: "attachment-export console",
  });
  if (data["Status"] !== undefined && data["Status"] !== "SUCCESS") {
    throw new CognitoError("EnableSoftwareTokenMFAException", "Code mismatch");
  }
  return typeof data["Session"] === "string" ? data["Session"] : "session" in auth ? auth.session : undefined;
}

/** Whether the signed-in user signs in with an authenticator app (GetUser's MFA settings). */
export async function usesTotp(config: Config, accessToken: string): Promise<boolean> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.GetUser`, { AccessToken: accessToken });
  const list = Array.isArray(data["UserMFASettingList"]) ? (data["UserMFASettingList"] as unknown[]) : [];
  return list.includes("SOFTWARE_TOKEN_MFA") || data["PreferredMfaSetting"] === "SOFTWARE_TOKEN_MFA";
}

/** Makes the verified authenticator the user's second sign-in step (SetUserMFAPreference). */
export async function preferTotp(config: Config, accessToken: string): Promise<void> {
  await call(config.cognitoIdpEndpoint, `${IDP}.SetUserMFAPreference`, {
    AccessToken: accessToken,
    SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
  });
}

export async function answerMfaSetup(config: Config, session: string, username: string): Promise<SignInStep> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.RespondToAuthChallenge`, {
    ChallengeName: "MFA_SETUP",
    ClientId: config.userPoolClientId,
    Session: session,
    ChallengeResponses: { USERNAME: username },
  });
  return step(config, username, data);
}

/** The otpauth:// URI authenticator apps read (Key Uri Format): issuer, account and secret. */
export function otpauthUri(issuer: string, username: string, secret: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(username)}`;
  return `otpauth://totp/${label}?secret=${encodeURIComponent(secret)}&issuer=${encodeURIComponent(issuer)}`;
}

/** New ID and access tokens for a refresh token (REFRESH_TOKEN_AUTH, which the app client
 * allows). Cognito refuses a revoked or expired refresh token and one of a user who has been
 * disabled since: the caller ends the session then. */
export async function refreshTokens(config: Config, refreshToken: string): Promise<Tokens> {
  const data = await call(config.cognitoIdpEndpoint, `${IDP}.InitiateAuth`, {
    AuthFlow: "REFRESH_TOKEN_AUTH",
    ClientId: config.userPoolClientId,
    AuthParameters: { REFRESH_TOKEN: refreshToken },
  });
  const result = data["AuthenticationResult"] as Record<string, unknown> | undefined;
  if (!result || typeof result["IdToken"] !== "string" || typeof result["AccessToken"] !== "string") {
    throw new CognitoError("InvalidResponse", "The sign-in service gave no tokens.");
  }
  // Cognito does not rotate the refresh token unless the client asks for rotation; keep ours then.
  const next = typeof result["RefreshToken"] === "string" ? result["RefreshToken"] : refreshToken;
  return { idToken: result["IdToken"], accessToken: result["AccessToken"], refreshToken: next };
}

/** Best effort: revokes the refresh token so it cannot be used after sign-out. */
export async function revoke(config: Config, tokens: Tokens): Promise<void> {
  if (!tokens.refreshToken) return;
  try {
    await call(config.cognitoIdpEndpoint, `${IDP}.RevokeToken`, {
      Token: tokens.refreshToken,
      ClientId: config.userPoolClientId,
    });
  } catch {
    // Sign-out goes on: the in-memory tokens are dropped whatever the answer.
  }
}

/** A sign-in error as the administrator reads it. */
export function signInMessage(error: unknown): string {
  if (error instanceof CognitoError) {
    switch (error.code) {
      case "NotAuthorizedException":
      case "UserNotFoundException":
        if (/session/i.test(error.message)) return "The sign-in session has ended. Start again with your user name and password.";
        if (/disabled/i.test(error.message)) return "This user is disabled. Ask your operator to enable it.";
        if (/expired/i.test(error.message)) return "Your temporary password has expired. Ask your operator for a new one.";
        return "The user name or password is not correct.";
      case "PasswordResetRequiredException":
        return "Your password must be reset. Ask your operator to reset it.";
      case "UserNotConfirmedException":
        return "This user is not confirmed yet. Ask your operator.";
      case "InvalidPasswordException":
        return `The new password is not accepted: ${error.message || "it does not meet the password policy."}`;
      case "InvalidParameterException":
        return `The sign-in was refused: ${error.message || "a value is not valid."}`;
      case "EnableSoftwareTokenMFAException":
      case "CodeMismatchException":
        return "The code is not correct. Enter the current 6-digit code from your authenticator app.";
      case "ExpiredCodeException":
        return "The code has expired. Enter the current code from your authenticator app.";
      case "TooManyRequestsException":
      case "LimitExceededException":
      case "TooManyFailedAttemptsException":
        return "Too many attempts. Wait a few minutes, then try again.";
      case "NetworkError":
        return error.message;
      case "ResourceNotFoundException":
        return "The sign-in session has ended. Start again with your user name and password.";
      default:
        return "The sign-in service refused the request. Try again; if it keeps failing, contact your operator.";
    }
  }
  return "The sign-in failed unexpectedly. Try again.";
}

// --- ID token ---------------------------------------------------------------------------------

export interface IdClaims {
  username: string;
  groups: string[];
  chatAccountId: string | undefined;
  expiresAt: number;
  issuer: string;
}

function base64UrlDecode(part: string): string {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const binary = atob(b64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Reads (does not verify: the identity pool does) the claims the console needs. `expiresAt` is
 * on this computer's clock: the token's lifetime (exp - iat) from when it arrived, so a clock that
 * is off neither ends a session early nor refreshes on every call. */
export function claims(idToken: string, receivedAt = Date.now()): IdClaims {
  const payload = idToken.split(".")[1];
  if (!payload) throw new CognitoError("InvalidToken", "The sign-in returned an unreadable token.");
  const data = JSON.parse(base64UrlDecode(payload)) as Record<string, unknown>;
  const groups = Array.isArray(data["cognito:groups"]) ? (data["cognito:groups"] as unknown[]).map(String) : [];
  return {
    username: String(data["cognito:username"] ?? data["username"] ?? data["email"] ?? "you"),
    groups,
    chatAccountId: typeof data["custom:chatAccountId"] === "string" ? data["custom:chatAccountId"] : undefined,
    expiresAt:
      typeof data["exp"] === "number" && typeof data["iat"] === "number" && data["exp"] > data["iat"]
        ? receivedAt + (data["exp"] - data["iat"]) * 1000
        : receivedAt + 3600_000,
    issuer: String(data["iss"] ?? ""),
  };
}

// --- Identity pool ----------------------------------------------------------------------------

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

const IDENTITY = "AWSCognitoIdentityService";

function logins(config: Config, idToken: string): Record<string, string> {
  return { [`cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`]: idToken };
}

export async function identityId(config: Config, idToken: string): Promise<string> {
  const data = await call(config.cognitoIdentityEndpoint, `${IDENTITY}.GetId`, {
    IdentityPoolId: config.identityPoolId,
    Logins: logins(config, idToken),
  });
  const id = data["IdentityId"];
  if (typeof id !== "string") throw new CognitoError("InvalidResponse", "The identity pool gave no identity.");
  return id;
}

export async function credentialsFor(
  config: Config,
  identity: string,
  idToken: string,
  roleArn: string,
): Promise<AwsCredentials> {
  const data = await call(config.cognitoIdentityEndpoint, `${IDENTITY}.GetCredentialsForIdentity`, {
    IdentityId: identity,
    Logins: logins(config, idToken),
    CustomRoleArn: roleArn,
  });
  return parseCredentials(data);
}

function parseCredentials(data: Record<string, unknown>): AwsCredentials {
  const c = data["Credentials"] as Record<string, unknown> | undefined;
  if (!c || typeof c["AccessKeyId"] !== "string" || typeof c["SecretKey"] !== "string" || typeof c["SessionToken"] !== "string") {
    throw new CognitoError("InvalidResponse", "The identity pool gave no credentials.");
  }
  const exp = c["Expiration"];
  const expiresAt =
    typeof exp === "number" ? exp * 1000 : typeof exp === "string" ? Date.parse(exp) || Date.now() + 3600_000 : Date.now() + 3600_000;
  return { accessKeyId: c["AccessKeyId"], secretAccessKey: c["SecretKey"], sessionToken: c["SessionToken"], expiresAt };
}

// --- Chat users (My attachments) ----------------------------------------------------------------

/** What the console reads (does not verify: the identity pool does) of the OpenID token the chat
 * service made for a chat user: the identity it names, the pool it is for, when it expires. */
export interface ChatToken {
  identityId: string;
  identityPoolId: string;
  expiresAt: number;
}

export function chatToken(token: string): ChatToken | undefined {
  const payload = token.split(".")[1];
  if (!payload || token.split(".").length !== 3) return undefined;
  try {
    const data = JSON.parse(base64UrlDecode(payload)) as Record<string, unknown>;
    if (typeof data["sub"] !== "string" || typeof data["aud"] !== "string" || typeof data["exp"] !== "number") return undefined;
    return { identityId: data["sub"], identityPoolId: data["aud"], expiresAt: data["exp"] * 1000 };
  } catch {
    return undefined;
  }
}

/** The chat users' pool's credentials for that token: its one role (ChatUserConsoleRole), tagged
 * with the chatUserId the chat service set. No CustomRoleArn: the pool has no other role. */
export async function credentialsForChatToken(config: Config, identity: string, token: string): Promise<AwsCredentials> {
  const data = await call(config.cognitoIdentityEndpoint, `${IDENTITY}.GetCredentialsForIdentity`, {
    IdentityId: identity,
    Logins: { "cognito-identity.amazonaws.com": token },
  });
  return parseCredentials(data);
}

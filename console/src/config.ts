// The console's configuration: /config.json beside index.html. The code is the same in AWS and
// locally; only this file differs (written by `make deploy` from the stack's outputs, or by the
// local stack's console server).

export interface Roles {
  StartDataExport?: string;
  RetrieveDataExport?: string;
  RevokeDataExport?: string;
}

export interface Config {
  region: string;
  apiUrl: string;
  userPoolId: string;
  userPoolClientId: string;
  identityPoolId: string;
  /** The chat users' identity pool (My attachments); absent: the console has no My attachments. */
  chatUserIdentityPoolId?: string;
  roles: Roles;
  /** Only locally: the user pool's endpoint. In AWS: https://cognito-idp.<region>.amazonaws.com/ */
  cognitoIdpEndpoint: string;
  /** Only locally: the identity pool's endpoint. In AWS: https://cognito-identity.<region>.amazonaws.com/ */
  cognitoIdentityEndpoint: string;
}

function text(raw: Record<string, unknown>, key: string): string {
  const value = raw[key];
  if (typeof value !== "string" || value.length === 0) {
    throw new Error(`The console's configuration has no ${key}.`);
  }
  return value;
}

export function parseConfig(raw: unknown): Config {
  if (typeof raw !== "object" || raw === null) throw new Error("The console's configuration is not a JSON object.");
  const r = raw as Record<string, unknown>;
  const region = text(r, "region");
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new Error("The console's configuration has an invalid region.");
  const rolesRaw = (typeof r["roles"] === "object" && r["roles"] !== null ? r["roles"] : {}) as Record<string, unknown>;
  const roles: Roles = {};
  if (typeof rolesRaw["StartDataExport"] === "string") roles.StartDataExport = rolesRaw["StartDataExport"];
  if (typeof rolesRaw["RetrieveDataExport"] === "string") roles.RetrieveDataExport = rolesRaw["RetrieveDataExport"];
  if (typeof rolesRaw["RevokeDataExport"] === "string") roles.RevokeDataExport = rolesRaw["RevokeDataExport"];
  const optional = (key: string, fallback: string): string =>
    typeof r[key] === "string" && (r[key] as string).length > 0 ? (r[key] as string) : fallback;
  return {
    region,
    apiUrl: text(r, "apiUrl").replace(/\/+$/, ""),
    userPoolId: text(r, "userPoolId"),
    userPoolClientId: text(r, "userPoolClientId"),
    identityPoolId: text(r, "identityPoolId"),
    ...(typeof r["chatUserIdentityPoolId"] === "string" && r["chatUserIdentityPoolId"]
      ? { chatUserIdentityPoolId: r["chatUserIdentityPoolId"] }
      : {}),
    roles,
    cognitoIdpEndpoint: optional("cognitoIdpEndpoint", `https://cognito-idp.${region}.amazonaws.com/`),
    cognitoIdentityEndpoint: optional("cognitoIdentityEndpoint", `https://cognito-identity.${region}.amazonaws.com/`),
  };
}

export async function loadConfig(): Promise<Config> {
  const response = await fetch("config.json", { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(`The console's configuration could not be loaded (HTTP ${response.status}).`);
  return parseConfig(await response.json());
}

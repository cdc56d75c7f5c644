// The two pieces of amazon-cognito-identity-js the console uses for SRP (its package types do not
// declare them). The rest of that library (CognitoUser, its token storage) is not used.
declare module "amazon-cognito-identity-js/es/BigInteger" {
  export default class BigInteger {
    constructor(value: string, radix: number);
    toString(radix: number): string;
  }
}
declare module "amazon-cognito-identity-js/es/AuthenticationHelper" {
  import type BigInteger from "amazon-cognito-identity-js/es/BigInteger";
  export default class AuthenticationHelper {
    constructor(poolName: string);
    getLargeAValue(callback: (error: unknown, a: BigInteger) => void): void;
    getPasswordAuthenticationKey(
      username: string,
      password: string,
      serverB: BigInteger,
      salt: BigInteger,
      callback: (error: unknown, key: Uint8Array) => void,
    ): void;
  }
}

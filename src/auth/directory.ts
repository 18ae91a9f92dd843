// The identity directory of the rules, as the verifiers read it: API-key hashes with expiry,
// password hashes, token subjects and issuers, the trusted ALB, groups and the anonymous caller.
// Built by the rules compiler (rules/compile-auth.ts); read by authenticate and auth/*.
import type { Identity, Profile, RateLimit } from './identity.ts';
import type { ParsedHash } from './password.ts';

export interface StoredApiKey {
  identity: Identity;
  /** Refused from this instant on (epoch ms). */
  expiresAtMs?: number;
}

export interface StoredPassword {
  identity: Identity;
  hash: ParsedHash;
}

export interface CompiledJwtIssuer {
  issuer: string;
  jwksUrl?: string;
  audiences: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  subjectClaim: string;
  groupsClaim: string;
  jwksCooldownMs: number;
}

export interface CompiledAlbOidc {
  albArn: string;
  keyEndpoint: string;
  clockSkewSeconds: number;
  subjectClaim: string;
  groupsClaim: string;
}

export interface CompiledAuth {
  /** The WWW-Authenticate challenge(s) a 401 carries: Basic only when some client has a password. */
  challenge: string;
  /** hex SHA-256 of an API key → identity */
  apiKeys: ReadonlyMap<string, StoredApiKey>;
  /** client id (the Basic user name) → its password hash */
  passwords: ReadonlyMap<string, StoredPassword>;
  /** token subject → the client it acts as */
  subjects: ReadonlyMap<string, Profile>;
  /** group name → its profile, in file order */
  groups: ReadonlyMap<string, Profile>;
  jwtIssuers: ReadonlyArray<CompiledJwtIssuer>;
  alb?: CompiledAlbOidc;
  anonymous?: Identity;
  /** Failed sign-ins allowed per client address (limits/sign-in-failures.ts). */
  failedSignInLimit?: RateLimit;
  /** A cookie that may carry a JWT of the issuers above (browsers behind single sign-on). */
  jwtCookie?: string;
}

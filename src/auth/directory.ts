// The identity directory of the rules, as the verifiers read it: API-key hashes with expiry,
// password hashes, token subjects and issuers, the trusted ALB, groups and the anonymous caller.
// Built by the rules compiler (rules/compile-auth.ts); read by authenticate and auth/*.
import type { Identity, Profile, RateLimit } from './identity.ts';
import type { ParsedHash } from './password.ts';
import type { X509Certificate } from 'node:crypto';
import type { RevocationList } from './x509.ts';

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

/** One clients[].certificates entry: what it matches (a key of its kind), and whose it is. */
export interface CertificateRule {
  kind: 'subject' | 'san' | 'serial';
  /** subject: nameKey of the DN; san: `TYPE:value` (DNS lower-cased); serial: normalized hex. */
  key: string;
  /** nameKey of the issuing CA's DN, when the entry pins one. */
  issuerKey?: string;
  /** The entry as written, for explain and the audit reason. */
  text: string;
  client: Profile;
}

export interface CompiledAlbMtls {
  mode: 'verify' | 'passthrough';
  clockSkewMs: number;
  /** `${kind}\n${key}` → the entries with that match (several only when they pin different issuers). */
  rules: ReadonlyMap<string, ReadonlyArray<CertificateRule>>;
  /** passthrough: the CAs of caBundle. */
  anchors: ReadonlyArray<X509Certificate>;
  /** passthrough: nameKey of a CA's DN → its CRL (signature already checked against that CA). */
  crls: ReadonlyMap<string, RevocationList>;
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
  albMtls?: CompiledAlbMtls;
  anonymous?: Identity;
  /** Failed sign-ins allowed per client address (limits/sign-in-failures.ts). */
  failedSignInLimit?: RateLimit;
  /** A cookie that may carry a JWT of the issuers above (browsers behind single sign-on). */
  jwtCookie?: string;
}

// Who a request acts as, once authenticated: the configured client (or token subject), how it
// proved it, and what it may do. Configured clients and groups are compiled into profiles once;
// a token's identity is put together from its subject and groups claims (identityFromClaims).
import type { CompiledPolicy } from './policy.ts';

export type AuthMethod = 'api-key' | 'basic' | 'jwt' | 'alb-oidc' | 'alb-mtls' | 'anonymous';

export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

/** What a configured client, group or the anonymous caller may do, independent of how it signs in. */
export interface Profile {
  id: string;
  policies: ReadonlyArray<CompiledPolicy>;
  assumeRoleArn?: string;
  rateLimit?: RateLimit;
}

/** Who holds which policies: what a denial's "who would be allowed" note is drawn from. */
export interface PolicyDirectory {
  policies: ReadonlyMap<string, CompiledPolicy>;
  clientsById: ReadonlyMap<string, Profile>;
  groups: ReadonlyMap<string, Profile>;
  anonymous?: Profile;
}

export interface Identity extends Profile {
  authMethod: AuthMethod;
  /** Configured groups the token named (JWT / ALB-OIDC only). */
  groups?: ReadonlyArray<string>;
}

export function withMethod(profile: Profile, authMethod: AuthMethod): Identity {
  return { ...profile, authMethod };
}

/**
 * A token holder's identity: the client whose `subjects` list the subject (if any) comes first,
 * then every configured group the token names, in file order. Client settings (role, rate limit)
 * win over group ones; among groups, the first in the file that sets one.
 */
export function identityFromClaims(
  subject: string,
  tokenGroups: ReadonlyArray<string>,
  authMethod: AuthMethod,
  directory: { subjects: ReadonlyMap<string, Profile>; groups: ReadonlyMap<string, Profile> },
): Identity {
  const client = directory.subjects.get(subject);
  const named = new Set(tokenGroups);
  const groups = [...directory.groups.values()].filter((group) => named.has(group.id));
  const policies: CompiledPolicy[] = [...(client?.policies ?? [])];
  for (const group of groups) for (const policy of group.policies) if (!policies.includes(policy)) policies.push(policy);
  const assumeRoleArn = client?.assumeRoleArn ?? groups.find((g) => g.assumeRoleArn)?.assumeRoleArn;
  const rateLimit = client?.rateLimit ?? groups.find((g) => g.rateLimit)?.rateLimit;
  return {
    id: client?.id ?? subject,
    authMethod,
    policies,
    ...(groups.length ? { groups: groups.map((g) => g.id) } : {}),
    ...(assumeRoleArn ? { assumeRoleArn } : {}),
    ...(rateLimit ? { rateLimit } : {}),
  };
}

/** A claim as a list of group names: JSON array of strings, or a space/comma-separated string. */
export function groupsFromClaim(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

// Which AWS credentials sign for an identity: the client's own role when it has one
// (`assumeRoleArn` on a client or group), else the host's. Used wherever the gateway calls AWS for
// a client: SageMaker MLflow calls (sign), the UI entry's presigned link, the artifact store.
import type { Identity } from '../auth/identity.ts';
import type { CredentialCache } from './credentials.ts';
import type { ClientRoleCredentials } from './client-roles.ts';
import type { AwsCredentials } from './sigv4.ts';
import { SigningFailed } from '../errors.ts';

export interface CredentialSources {
  /** The host's credentials (instance role, or backend.assumeRoleArn). */
  host?: CredentialCache;
  /** Credentials of clients' own roles. */
  clientRoles?: ClientRoleCredentials;
}

/** The client's own role when it has one, else the host's credentials. */
export function credentialCacheFor(identity: Identity, sources: CredentialSources): CredentialCache | undefined {
  if (!identity.assumeRoleArn) return sources.host;
  // Never fall back to the host's (broader) role for a client that is meant to have its own.
  if (!sources.clientRoles) throw new SigningFailed(`client ${identity.id} has a role but no role credentials are configured`);
  return sources.clientRoles.forClient(identity.assumeRoleArn, identity.id);
}

/**
 * Current credentials of a cache, waiting for a refresh if needed; SigningFailed when there are none.
 * The hot path asks `cache.cached()` first and comes here only when that has nothing.
 */
export async function credentialsOf(cache: CredentialCache | undefined): Promise<AwsCredentials> {
  if (!cache) throw new SigningFailed('no credential source configured');
  try {
    return await cache.get();
  } catch (error) {
    throw new SigningFailed(error instanceof Error ? `credentials: ${error.name}: ${error.message}` : 'credentials unavailable');
  }
}

// Per-client IAM roles: a client (or group) with `assumeRoleArn` has its requests signed with that
// role's credentials rather than the host's. The gateway assumes the role with the host's
// credentials, RoleSessionName and SourceIdentity both set from the client id, so CloudTrail names
// the client for every call. One refreshing cache per (role, client), made on first use.
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { cachedCredentials, type CacheOptions, type CredentialCache, type CredentialProvider } from './credentials.ts';

export interface ClientRoleCredentials {
  forClient(roleArn: string, clientId: string): CredentialCache;
}

export type RoleProviderFactory = (roleArn: string, sessionName: string) => CredentialProvider;

/**
 * STS's rules for RoleSessionName and SourceIdentity: 2–64 characters of [\w+=,.@-]. A client id
 * (or token subject) outside that set is mapped into it, keeping it recognisable.
 */
export function sessionNameFor(clientId: string): string {
  const cleaned = clientId.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return cleaned.length >= 2 ? cleaned : `${cleaned}--`.slice(0, 2);
}

/** The production factory: STS AssumeRole with the host's credentials (the default chain or backend.assumeRoleArn's). */
export function stsRoleProvider(master: CredentialProvider, region: string): RoleProviderFactory {
  return (roleArn, sessionName) =>
    fromTemporaryCredentials({
      masterCredentials: master,
      params: { RoleArn: roleArn, RoleSessionName: sessionName, SourceIdentity: sessionName, DurationSeconds: 3600 },
      clientConfig: { region },
    });
}

const MAX_CACHES = 10_000;

export function clientRoleCredentials(factory: RoleProviderFactory, options: CacheOptions = {}): ClientRoleCredentials {
  const caches = new Map<string, CredentialCache>();
  return {
    forClient(roleArn, clientId) {
      const sessionName = sessionNameFor(clientId);
      const key = `${roleArn}\n${sessionName}`;
      let cache = caches.get(key);
      if (!cache) {
        if (caches.size >= MAX_CACHES) caches.delete(caches.keys().next().value!);
        cache = cachedCredentials(factory(roleArn, sessionName), options);
        caches.set(key, cache);
      }
      return cache;
    },
  };
}

// Stand-in AWS credentials. AWS endpoints cannot be reached here, so the stand-ins (data plane,
// instance metadata) share one convention: a secret is derivable from its access key id, so the
// Python stand-in can verify signatures independently. Never real credentials.
import { createHash } from 'node:crypto';
import type { CredentialCache } from '../../src/aws/credentials.ts';

export interface StandinCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export function standinSecret(accessKeyId: string): string {
  return createHash('sha256').update(`standin-secret:${accessKeyId}`).digest('hex').slice(0, 40);
}

export function staticCredentials(suffix = 'EXAMPLE000001'): StandinCredentials {
  const accessKeyId = `AKIA${suffix}`.slice(0, 20).padEnd(20, '0');
  return { accessKeyId, secretAccessKey: standinSecret(accessKeyId) };
}

/** Temporary credentials: `ASIA` + 10-digit expiry epoch + 6 characters, with the derived token. */
export function temporaryCredentials(expiresAt: Date, serial: number): StandinCredentials {
  const epoch = Math.floor(expiresAt.getTime() / 1000).toString().padStart(10, '0');
  const accessKeyId = `ASIA${epoch}${serial.toString(36).toUpperCase().padStart(6, '0').slice(-6)}`;
  return { accessKeyId, secretAccessKey: standinSecret(accessKeyId), sessionToken: `standin-token:${accessKeyId}`, expiration: expiresAt };
}

/** A credential cache whose every lookup fails, as when no instance role is attached. */
export function failingCredentialCache(): CredentialCache {
  return {
    get: async () => {
      throw new Error('no IMDS');
    },
    cached: () => undefined,
    expiration: () => undefined,
    refreshes: () => 0,
  };
}

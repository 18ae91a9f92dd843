// TEST STAND-IN for the EC2 instance metadata service (IMDSv2), which cannot be reached here.
// It behaves like IMDS for the AWS SDK's provider: a session token from PUT /latest/api/token is
// required on every GET; the role's credentials are temporary and short-lived, and each fetch
// after the previous ones near expiry hands out new ones (a rotation).
import { temporaryCredentials } from '../support/credentials.ts';

export interface MetadataStandin {
  port: number;
  /** Access key ids handed out, in order. */
  issued: string[];
  /** Makes the service fail (503 on every call, as during an IMDS outage) or serve again. */
  setDown(down: boolean): void;
  /** Calls received while down. */
  callsWhileDown(): number;
  stop(): void;
}

const ROLE = 'sagemaker-mlflow-proxy-role';

/** `lifetimeMs`: how long each credential set is valid from the moment it is issued. */
export function startInstanceMetadata(lifetimeMs: number): MetadataStandin {
  const issued: string[] = [];
  const tokens = new Set<string>();
  let current: ReturnType<typeof temporaryCredentials> | undefined;
  let down = false;
  let downCalls = 0;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      if (down) {
        downCalls++;
        return new Response('', { status: 503 });
      }
      const path = new URL(request.url).pathname;
      if (request.method === 'PUT' && path === '/latest/api/token') {
        if (!request.headers.get('x-aws-ec2-metadata-token-ttl-seconds')) return new Response('missing ttl', { status: 400 });
        const token = crypto.randomUUID();
        tokens.add(token);
        return new Response(token);
      }
      if (!tokens.has(request.headers.get('x-aws-ec2-metadata-token') ?? '')) return new Response('', { status: 401 });
      const base = /^\/latest\/meta-data\/iam\/security-credentials(-extended)?\/?$/;
      if (base.test(path)) return new Response(ROLE);
      if (path.endsWith(`/${ROLE}`)) {
        // Rotate like IMDS does: new credentials are available at least 5 minutes before the
        // old ones expire (EC2 user guide, "Retrieve security credentials from instance metadata").
        if (!current || current.expiration!.getTime() - Date.now() < 5 * 60_000) {
          current = temporaryCredentials(new Date(Date.now() + lifetimeMs), issued.length + 1);
          issued.push(current.accessKeyId);
        }
        return Response.json({
          Code: 'Success',
          LastUpdated: new Date().toISOString(),
          Type: 'AWS-HMAC',
          AccessKeyId: current.accessKeyId,
          SecretAccessKey: current.secretAccessKey,
          Token: current.sessionToken,
          Expiration: current.expiration!.toISOString(),
          AccountId: '123456789012',
        });
      }
      return new Response('', { status: 404 });
    },
  });
  return {
    port: server.port!,
    issued,
    setDown: (value) => void (down = value),
    callsWhileDown: () => downCalls,
    stop: () => server.stop(true),
  };
}

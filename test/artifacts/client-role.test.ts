// A client with its own IAM role reaches S3 as that role, not as the host: the artifact store is
// re-made per (role, client) with the role's credentials. Checked at a recording S3 endpoint (only
// who signed matters here; moto does not say which key signed a request).
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-key.ts';
import { createArtifactService } from '../../src/artifacts/service.ts';
import type { CredentialCache } from '../../src/aws/credentials.ts';
import { rulesFrom } from '../support/rules.ts';
import { staticCredentials } from '../support/credentials.ts';

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/roles';
const HOST = staticCredentials('HOSTARTIFACTS');
const ANALYST = staticCredentials('ANALYSTROLE01');
const keyOf = (id: string) => `${id}-artifact-key-0123456789abcdef`;
const fixed = (credentials: typeof HOST): CredentialCache => ({
  get: async () => credentials,
  cached: () => credentials,
  expiration: () => undefined,
  refreshes: () => 0,
});

let s3: ReturnType<typeof Bun.serve>;
const signedBy: string[] = [];
let app: ReturnType<typeof createApp>;
const assumed: Array<[string, string]> = [];

beforeAll(async () => {
  s3 = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      // Presigned object requests carry the signer in X-Amz-Credential=AKID/date/region/s3/aws4_request.
      const credential = new URL(request.url).searchParams.get('X-Amz-Credential') ?? '';
      signedBy.push(credential.split('/')[0]!);
      return new Response('artifact bytes', { headers: { 'content-type': 'text/plain', 'content-length': '14' } });
    },
  });
  const rules = rulesFrom(`version: 1
backend: {arn: "${ARN}", endpoint: "http://127.0.0.1:1"}
artifacts: {s3Root: "s3://bucket/root", endpoint: "http://127.0.0.1:${s3.port}", forcePathStyle: true}
clients:
  - {id: host-client, apiKeySha256: "${hashApiKey(keyOf('host'))}", policies: [read]}
  - {id: analyst, apiKeySha256: "${hashApiKey(keyOf('analyst'))}", policies: [read], assumeRoleArn: "arn:aws:iam::123456789012:role/analysts"}
policies: {read: {operations: [ReadArtifacts]}}
`);
  if (rules.backend.kind !== 'sagemaker' || !rules.artifacts) throw new Error('expected SageMaker with artifacts');
  const host = fixed(HOST);
  const artifacts = await createArtifactService(rules.artifacts, rules.backend, () => host.get());
  app = createApp({
    rules: () => rules,
    credentials: host,
    clientRoles: {
      forClient: (role, client) => {
        assumed.push([role, client]);
        return fixed(ANALYST);
      },
    },
    audit: { write: () => {} },
    artifacts,
  });
});

afterAll(() => s3?.stop(true));

const download = (client: string) =>
  app.handle(new Request('http://gateway/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/notes.txt', { headers: { authorization: `Bearer ${keyOf(client)}` } }));

test('artifact downloads are signed as the client\'s role for a client with one, as the host otherwise', async () => {
  const first = await download('analyst');
  expect(first.status).toBe(200);
  expect(await first.text()).toBe('artifact bytes');
  await (await download('analyst')).arrayBuffer();
  await (await download('host')).arrayBuffer();
  expect(signedBy).toEqual([ANALYST.accessKeyId, ANALYST.accessKeyId, HOST.accessKeyId]);
  expect(assumed[0]).toEqual(['arn:aws:iam::123456789012:role/analysts', 'analyst']);
});

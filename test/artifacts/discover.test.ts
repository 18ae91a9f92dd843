// `artifacts.discover: true`: the root comes from SageMaker's control plane (a local stand-in
// speaking its JSON protocol), DescribeMlflowTrackingServer by name or DescribeMlflowApp by ARN.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createArtifactService } from '../../src/artifacts/service.ts';
import { rulesFrom } from '../support/rules.ts';

const seen: Array<{ target: string | null; body: unknown }> = [];
let controlPlane: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  controlPlane = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const target = request.headers.get('x-amz-target');
      seen.push({ target, body: await request.json() });
      const uri = target?.endsWith('DescribeMlflowApp') ? 's3://app-bucket/apps/a1' : 's3://ts-bucket/servers/t1/';
      return new Response(JSON.stringify({ ArtifactStoreUri: uri }), { headers: { 'content-type': 'application/x-amz-json-1.1' } });
    },
  });
});
afterAll(() => controlPlane?.stop(true));

const credentials = async () => ({ accessKeyId: 'AKIDDISCOVER', secretAccessKey: 'secret' });

for (const [arn, target, body, root] of [
  ['arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t1', 'SageMaker.DescribeMlflowTrackingServer', { TrackingServerName: 't1' }, 's3://ts-bucket/servers/t1'],
  ['arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345', 'SageMaker.DescribeMlflowApp', { Arn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345' }, 's3://app-bucket/apps/a1'],
] as const) {
  test(`${target} gives the root for ${arn.split(':').pop()}`, async () => {
    const rules = rulesFrom(`version: 1\nbackend: {arn: "${arn}"}\nartifacts: {discover: true}\n`);
    if (rules.backend.kind !== 'sagemaker' || !rules.artifacts) throw new Error('expected a SageMaker backend with artifacts');
    const service = await createArtifactService(rules.artifacts, rules.backend, credentials, { sagemakerEndpoint: `http://127.0.0.1:${controlPlane.port}` });
    expect(service.store.root.uri).toBe(root);
    expect(seen.at(-1)).toEqual({ target, body });
  });
}

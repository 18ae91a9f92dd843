// `artifacts.discover: true`: the root comes from SageMaker's control plane (the stand-in, which
// checks the SigV4 signature as AWS would), DescribeMlflowTrackingServer by name or DescribeMlflowApp by ARN.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createArtifactService } from '../../src/artifacts/service.ts';
import { rulesFrom } from '../support/rules.ts';
import { staticCredentials } from '../support/credentials.ts';
import { startSageMakerControlPlane, type ControlPlaneStandin } from '../standins/sagemaker-control-plane.ts';

const SERVER = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t1';
const APP = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-ABCDEF012345';

let controlPlane: ControlPlaneStandin;
beforeAll(() => {
  controlPlane = startSageMakerControlPlane({ region: 'us-east-1' });
  controlPlane.add(SERVER, { artifactStoreUri: 's3://ts-bucket/servers/t1/' });
  controlPlane.add(APP, { artifactStoreUri: 's3://app-bucket/apps/a1' });
});
afterAll(() => controlPlane?.stop());

const credentials = staticCredentials('DISCOVER00001');

for (const [arn, operation, body, root] of [
  [SERVER, 'DescribeMlflowTrackingServer', { TrackingServerName: 't1' }, 's3://ts-bucket/servers/t1'],
  [APP, 'DescribeMlflowApp', { Arn: APP }, 's3://app-bucket/apps/a1'],
] as const) {
  test(`${operation} gives the root for ${arn.split(':').pop()}`, async () => {
    const rules = rulesFrom(`version: 1\nbackend: {arn: "${arn}"}\nartifacts: {discover: true}\n`);
    if (rules.backend.kind !== 'sagemaker' || !rules.artifacts) throw new Error('expected a SageMaker backend with artifacts');
    const service = await createArtifactService(rules.artifacts, rules.backend, async () => credentials, { sagemakerEndpoint: controlPlane.endpoint });
    expect(service.store.root.uri).toBe(root);
    expect(controlPlane.calls.at(-1)).toMatchObject({ operation, body, accessKeyId: credentials.accessKeyId, verdict: 'ok' });
  });
}

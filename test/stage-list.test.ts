// server.ts is the stage list: what runs for a rules object, in order, with the stages whose
// settings are absent left out, and built once per rules object (a reload gets a new list).
import { describe, expect, test } from 'bun:test';
import { stagesFor, type SharedParts } from '../src/server.ts';
import { createGatewayHandler } from '../src/gateway-handler.ts';
import { localTokenBuckets } from '../src/limits/rate-limiter.ts';
import { signInFailureGuard } from '../src/limits/sign-in-failures.ts';
import { bufferBudget } from '../src/limits/buffer-budget.ts';
import { hashApiKey } from '../src/auth/api-key.ts';
import type { AuditRecord } from '../src/observability/audit.ts';
import type { ArtifactService } from '../src/artifacts/service.ts';
import { rulesFrom } from './support/rules.ts';

const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/list';
const store = localTokenBuckets();
const shared: SharedParts = { audit: { write: () => {} }, rateLimits: store, signInFailures: signInFailureGuard(store), credentials: {}, nowMs: Date.now, bufferBudget: bufferBudget(() => 1024) };
const names = (yaml: string, parts: Partial<SharedParts> = {}) => stagesFor(rulesFrom(yaml), { ...shared, ...parts }).map((stage) => stage.name);

describe('the stage list', () => {
  test('with tracing: the server span outside everything (it ends with the audit record), the upstream call in its own span last', () => {
    const tracing = { request: () => undefined, around: () => undefined, fetch, endingSpans: (sink: unknown) => sink, counts: () => undefined, shutdown: async () => {} } as unknown as NonNullable<SharedParts['tracing']>;
    expect(names('version: 1\nbackend: {url: "http://127.0.0.1:5000"}\n', { tracing })).toEqual([
      'requestTracing', 'auditLine', 'errorPage', 'requestFraming', 'authentication', 'rewriting', 'bodyBudgeting', 'authorization', 'upstreamHeaderSelection', 'plainMlflowPassing', 'tracedForwarding',
    ]);
  });

  test('a self-hosted backend with nothing optional: audit, errors, sign-in, rewrite, hold the body budget, authorize, choose the headers, pass on, forward', () => {
    expect(names('version: 1\nbackend: {url: "http://127.0.0.1:5000"}\n')).toEqual([
      'auditLine', 'errorPage', 'requestFraming', 'authentication', 'rewriting', 'bodyBudgeting', 'authorization', 'upstreamHeaderSelection', 'plainMlflowPassing', 'forwarding',
    ]);
  });

  test('every optional stage in its place: framing then host check first, rate limit after sign-in, UI entry before rewrites, artifacts before signing', () => {
    const yaml = `version: 1
backend: {arn: "${ARN}"}
listen: {allowedHosts: [mlflow.example]}
auth: {failedSignInLimit: {requestsPerSecond: 1}}
ui: {}
clients: [{id: c, apiKeySha256: "${hashApiKey('list-test-key-0123456789')}", policies: [p], rateLimit: {requestsPerSecond: 5}}]
policies: {p: {operations: ["*"]}}
`;
    const artifacts = { store: { root: { uri: 's3://b/r' } }, maxJsonRewriteBytes: 1 } as unknown as ArtifactService;
    expect(names(yaml, { artifacts })).toEqual([
      'auditLine', 'errorPage', 'requestFraming', 'hostCheck', 'authenticationWithFailureLimit', 'rateLimiting', 'uiEntry',
      'rewriting', 'bodyBudgeting', 'authorization', 'upstreamHeaderSelection', 'artifactApi', 'sageMakerSigning', 'forwarding',
    ]);
  });

  test('scoped policies: their searches answered after the headers are chosen (and inside the artifact stage), and answers teaching the lookups, before signing', () => {
    expect(names('version: 1\nbackend: {url: "http://127.0.0.1:5000"}\npolicies: {p: {operations: [GetRun], scope: {experiments: ["a/**"]}}}\n')).toEqual([
      'auditLine', 'errorPage', 'requestFraming', 'authentication', 'rewriting', 'bodyBudgeting', 'authorization', 'upstreamHeaderSelection', 'scopedSearching', 'ownerLearning', 'plainMlflowPassing', 'forwarding',
    ]);
  });

  test('a SageMaker backend without artifacts answers its artifact API itself (501), still before signing', () => {
    expect(names(`version: 1\nbackend: {arn: "${ARN}"}\n`)).toContain('noArtifactApi');
  });

  test('is per rules object: after a reload the next request runs on the new rules\' list', async () => {
    const audit: AuditRecord[] = [];
    let rules = rulesFrom('version: 1\nbackend: {url: "http://127.0.0.1:9"}\nanonymous: {policies: []}\n');
    const handle = createGatewayHandler({ rules: () => rules, audit: { write: (r) => audit.push(r) } });
    // The anonymous caller has no policy: each request is denied by the list in force.
    await handle(new Request('http://gw/api/2.0/mlflow/experiments/get'), undefined);
    rules = rulesFrom('version: 1\nbackend: {url: "http://127.0.0.1:9"}\n');
    await handle(new Request('http://gw/api/2.0/mlflow/experiments/get'), undefined);
    expect(audit.map((r) => r.decision)).toEqual(['denied', 'unauthenticated']);
  });
});

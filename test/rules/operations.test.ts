// Policies over the whole operation table: wildcards match what users expect, sensitive operations
// only by name (and `check` says so), `!Name` takes one out; and what the shipped policies grant.
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandOperationPattern, isReadOnlyOperation, OPERATION_NAMES, sensitiveClassOf } from '../../src/rules/operations.ts';
import { authorize } from '../../src/pipeline/authorize.ts';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { REPO } from '../support/processes.ts';

const HASH = 'a'.repeat(64);
const policyRules = (policies: string) => `version: 1
backend: {url: "http://127.0.0.1:5000"}
clients:
  - {id: c, apiKeys: [{sha256: "${HASH}", expires: "2099-12-31"}], policies: [p]}
policies:
${policies}`;

describe('wildcards never reach sensitive operations; exact names do', () => {
  const cases: Array<[string, string, boolean]> = [
    ["'*' grants logging a metric", 'LogMetric', true],
    ["'*' does not grant creating an AI-gateway secret", 'CreateGatewaySecret', false],
    ["'*' does not grant creating a workspace", 'CreateWorkspace', false],
    ["'*' does not grant creating a webhook", 'CreateWebhook', false],
    ["'*' does not grant talking to the assistant", 'AssistantSendMessage', false],
  ];
  for (const [sentence, operation, granted] of cases) test(sentence, () => expect(expandOperationPattern('*').includes(operation)).toBe(granted));

  test('Get* covers the new 3.x reads but not the secret reads', () => {
    const gets = expandOperationPattern('Get*');
    expect(gets).toEqual(expect.arrayContaining(['GetTrace', 'GetDataset', 'GetScorer', 'GetServerInfo', 'GetUiTelemetry']));
    for (const secret of ['GetGatewaySecretInfo', 'GetSecretsConfig', 'GetWebhook', 'GetWorkspace']) expect(gets).not.toContain(secret);
  });

  test('a sensitive operation written by its name is granted', () => {
    const rules = rulesFrom(policyRules('  p: {operations: ["*", CreateWebhook]}\n'));
    const identity = rules.clientsById.get('c')!;
    expect(authorize(identity, 'POST', '/api/2.0/mlflow/webhooks').allowed).toBe(true);
    expect(authorize(identity, 'POST', '/api/3.0/mlflow/gateway/secrets/create').allowed).toBe(false);
  });

  test('every sensitive class is one of the documented ones', () => {
    const classes = new Set(OPERATION_NAMES.map(sensitiveClassOf).filter(Boolean));
    expect([...classes].sort()).toEqual(['ai-gateway', 'assistant', 'mcp-registry', 'secrets', 'webhooks', 'workspaces']);
  });

  test('check names what a wildcard leaves out, by class', () => {
    const warnings = problemsOf(policyRules('  p: {operations: ["*"]}\n'));
    expect(warnings.join('\n')).toMatch(/policies\.p\.operations: warning: policy "p": wildcards do not grant \d+ sensitive operation\(s\), only their exact names do: .*secrets \(\d+: CreateGatewaySecret/);
  });

  test('check points out a path rule that reaches sensitive operations', () => {
    const warnings = problemsOf(policyRules('  p: {allow: [{methods: ["*"], paths: ["/api/3.0/mlflow/gateway/**"]}]}\n'));
    expect(warnings.join('\n')).toMatch(/path rule \* \/api\/3\.0\/mlflow\/gateway\/\*\* covers sensitive operation\(s\): .*secrets/);
  });
});

describe("'!Name' takes an operation back out of a policy", () => {
  test('an excluded operation is denied while the rest of the wildcard is granted', () => {
    const rules = rulesFrom(policyRules('  base: {operations: ["Get*"]}\n  p: {include: [base], operations: ["!GetRun"]}\n'));
    const identity = rules.clientsById.get('c')!;
    expect(authorize(identity, 'GET', '/api/2.0/mlflow/runs/get').allowed).toBe(false);
    expect(authorize(identity, 'GET', '/api/2.0/mlflow/experiments/get').allowed).toBe(true);
  });

  test('an exclusion of an unknown name is an error like any unknown name', () => {
    expect(problemsOf(policyRules('  p: {operations: ["!GetRunz"]}\n')).join('\n')).toMatch(/unknown MLflow operation "GetRunz"; did you mean GetRun/);
  });
});

describe('the shipped policies (rules.yaml and examples/policies.yaml) cover what their names promise on MLflow 3.x', () => {
  // examples/policies.yaml's policies, copied into the shipped rules as its header says.
  const library = readFileSync(join(REPO, 'examples/policies.yaml'), 'utf8').replace(/^[\s\S]*?^policies:\n/m, '');
  const shipped = rulesFrom(`${readFileSync(join(REPO, 'rules.yaml'), 'utf8')}\n${library}`, { MLFLOW_URL: 'http://127.0.0.1:5000', PROXY_API_KEY_SHA256: HASH });
  const grants = (policy: string) => new Set(shipped.policies.get(policy)!.operations.keys());

  test('every policy of the library compiles beside rules.yaml (they include read-only and log-runs from there)', () => {
    expect([...shipped.policies.keys()].sort()).toEqual(['admin', 'genai', 'log-runs', 'read-only', 'read-only-ui', 'registry-write']);
  });

  test('read-only, written out by name, is every read of the table but the sensitive ones and GetOrCreateUserQueue (what Get*, Search*, List*, BatchGet* would give)', () => {
    const reads = new Set(['Get*', 'Search*', 'List*', 'BatchGet*', 'CalculateTraceFilterCorrelation', 'QueryTraceMetrics', 'CreatePresignedDownloadUrl', 'ReadArtifacts'].flatMap(expandOperationPattern));
    reads.delete('GetOrCreateUserQueue');
    expect([...grants('read-only')].sort()).toEqual([...reads].sort());
  });

  test('read-only grants no operation that writes', () => {
    expect([...grants('read-only')].filter((op) => !isReadOnlyOperation(op))).toEqual([]);
  });

  test('read-only includes the 3.x reads: traces, datasets, scorers, trace metrics', () => {
    for (const op of ['SearchTracesV3', 'GetTrace', 'BatchGetTraceInfos', 'QueryTraceMetrics', 'GetDatasetRecords', 'ListScorers', 'GetLoggedModel']) expect(grants('read-only')).toContain(op);
  });

  test("read-only-ui adds the UI and its routine calls, and no write but the UI's telemetry", () => {
    const ui = grants('read-only-ui');
    for (const op of ['AccessUI', 'GetCurrentUser', 'AssistantGetConfig', 'AssistantGetProviders', 'GetUiTelemetry', 'PostUiTelemetry', 'GetServerInfo']) expect(ui).toContain(op);
    expect([...ui].filter((op) => !isReadOnlyOperation(op))).toEqual(['PostUiTelemetry']);
  });

  test('log-runs can trace: span export, StartTraceV3, prompt links, logged models', () => {
    for (const op of ['ExportOtlpTraces', 'StartTraceV3', 'LinkPromptsToTrace', 'CreateLoggedModel', 'FinalizeLoggedModel', 'LogOutputs']) expect(grants('log-runs')).toContain(op);
  });

  test('genai covers traces, prompts, evaluation datasets and scorers, without deletes of whole objects', () => {
    const genai = grants('genai');
    for (const op of ['ExportOtlpTraces', 'CreateRegisteredModel', 'SetRegisteredModelAlias', 'CreateDataset', 'UpsertDatasetRecords', 'RegisterScorer', 'CreateAssessment']) expect(genai).toContain(op);
    for (const op of ['DeleteRegisteredModel', 'DeleteDataset', 'DeleteExperiment', 'DeleteTracesV3']) expect(genai).not.toContain(op);
  });

  test('no shipped policy grants a sensitive operation', () => {
    const sensitive = [...shipped.policies.values()].flatMap((p) => [...p.operations.keys()].filter((op) => sensitiveClassOf(op) && !['AssistantGetConfig', 'AssistantGetProviders'].includes(op)).map((op) => `${p.name}: ${op}`));
    expect(sensitive).toEqual([]);
  });
});

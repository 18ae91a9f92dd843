// Scopes in the rules (issue 19 items 1 and 7): what a scope compiles to, how include and the old
// conditions read, and what `check` says about scoped policies, each problem at file:line:column.
import { describe, expect, test } from 'bun:test';
import { problemsOf, rulesFrom } from '../support/rules.ts';
import { authorize } from '../../src/pipeline/authorize.ts';

const SELF_HOSTED = 'version: 1\nbackend: {url: "http://127.0.0.1:5000"}\n';
const SAGEMAKER = 'version: 1\nbackend: {arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t"}\n';

describe('include never widens, and a scope or condition written beside it holds what it includes', () => {
  const rules = rulesFrom(`${SELF_HOSTED}policies:
  read: {operations: [GetRun, GetExperiment]}
  team-a-read:
    include: [read]
    scope: {experiments: ["team-a/**"]}
  conditioned:
    include: [read]
    operations: [CreateExperiment]
    conditions: {experimentNamePrefix: team-a/}
  narrower:
    include: [team-a-read]
    scope: {experiments: ["team-a/special/**"]}
`);
  const scopesOf = (policy: string, operation: string) => rules.policies.get(policy)!.operations.get(operation)!.scopes?.map((s) => s.policy);

  test('an included operation carries the including policy\'s scope', () => {
    expect(scopesOf('read', 'GetRun')).toBeUndefined();
    expect(scopesOf('team-a-read', 'GetRun')).toEqual(['team-a-read']);
  });
  test('conditions beside an include hold the included operations too (they used to leave them unconditioned)', () => {
    expect(scopesOf('conditioned', 'GetRun')).toEqual(['conditioned']);
    expect(scopesOf('conditioned', 'CreateExperiment')).toEqual(['conditioned']);
  });
  test('an include of a scoped policy keeps its scope and adds its own: both must cover', () => {
    expect(scopesOf('narrower', 'GetRun')).toEqual(['team-a-read', 'narrower']);
  });
  test('a scoped grant is not an allow: the scope check decides it', () => {
    const decision = authorize({ id: 'x', policies: [rules.policies.get('team-a-read')!] }, 'GET', '/api/2.0/mlflow/runs/get');
    expect(decision.allowed).toBe(false);
    expect(decision.scoped?.map((g) => g.policy)).toEqual(['team-a-read']);
  });
  test('an unscoped grant anywhere in the client\'s list wins over scoped ones', () => {
    const decision = authorize({ id: 'x', policies: [rules.policies.get('team-a-read')!, rules.policies.get('read')!] }, 'GET', '/api/2.0/mlflow/runs/get');
    expect(decision).toMatchObject({ allowed: true, policy: 'read' });
  });
});

describe('check', () => {
  type Row = [sentence: string, rules: string, expected: RegExp];
  const table: Row[] = [
    [
      'a bad pattern is refused at its key path, file:line:column',
      `${SELF_HOSTED}policies:\n  p:\n    operations: [GetRun]\n    scope:\n      experiments: ["a/**", "users/{user}/**"]\n`,
      /^test\.yaml:7:\d+: policies\.p\.scope\.experiments\[1\]: unknown placeholder \{user\}: only \{client\} and \{group\} exist/,
    ],
    [
      'scope and conditions together are refused, saying how to write it',
      `${SELF_HOSTED}policies:\n  p: {operations: [GetRun], scope: {experiments: ["a/**"]}, conditions: {experimentNamePrefix: a/}}\n`,
      /policies\.p\.conditions: a policy has either scope or conditions/,
    ],
    [
      'conditions still work, with a warning that says exactly how to write them as a scope',
      `${SELF_HOSTED}policies:\n  p: {operations: [GetRun], conditions: {experimentNamePrefix: [a/, b/]}}\n`,
      /policies\.p\.conditions: warning: .*scope: \{experiments: \["a\/\*\*", "b\/\*\*"\], registeredModels: \["\*\*"\], prompts: \["\*\*"\]\}/,
    ],
    [
      'AccessUI in a scoped policy with the SageMaker UI entry is refused: the presigned link opens the whole server',
      `${SAGEMAKER}ui: {path: /ui}\npolicies:\n  p: {operations: [AccessUI, GetRun], scope: {experiments: ["a/**"]}}\n`,
      /policies\.p\.scope: policy "p" is scoped but grants AccessUI: the UI entry hands the browser a presigned link to the whole SageMaker MLflow server/,
    ],
    [
      'an operation a scope can never allow is named',
      `${SELF_HOSTED}policies:\n  p: {operations: [GetRun, ListWebhooks], scope: {experiments: ["a/**"]}}\n`,
      /policies\.p\.scope: warning: policy "p" is scoped, so it never grants ListWebhooks/,
    ],
    [
      'a scope key that no operation of the policy uses is named',
      `${SELF_HOSTED}policies:\n  p: {operations: [GetRun], scope: {experiments: ["a/**"], registeredModels: ["a-*"]}}\n`,
      /policies\.p\.scope\.registeredModels: warning: no operation of policy "p" touches registered models/,
    ],
    [
      'a kind the operations touch but the scope leaves out is named',
      `${SELF_HOSTED}policies:\n  p: {operations: [GetRun, CreateModelVersion], scope: {experiments: ["a/**"]}}\n`,
      /policies\.p\.scope: warning: policy "p" has no scope\.registeredModels, so CreateModelVersion are refused whenever they touch registered models/,
    ],
  ];
  for (const [sentence, yaml, expected] of table) {
    test(sentence, () => expect(problemsOf(yaml).some((line) => expected.test(line))).toBe(true));
  }
  test('AccessUI in a scoped policy is fine for a self-hosted MLflow, whose UI goes through the gateway call by call', () => {
    expect(problemsOf(`${SELF_HOSTED}policies:\n  p: {operations: [AccessUI, GetRun], scope: {experiments: ["a/**"]}}\n`).filter((line) => line.includes('AccessUI'))).toEqual([]);
  });
});

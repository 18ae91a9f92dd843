// What `check` says about scoped policies (issue 19 item 7), beyond the patterns themselves
// (compile.ts checks those): operations a scope can never allow, scope keys that nothing of the
// policy uses, kinds the policy's operations touch but its scope leaves out, and the one grant a
// scope cannot hold at all: AccessUI on a SageMaker backend, whose presigned link opens the whole
// server to the browser, outside the gateway.
import type { PolicySpec } from './schema.ts';
import type { CompiledPolicy } from '../auth/policy.ts';
import type { ProblemList } from './problems.ts';
import type { Backend } from '../backends/backend.ts';
import { OPERATION_RESOURCES, scopedKindsOf } from '../scopes/operation-resources.ts';
import { KIND_KEYS, type ScopedKind } from '../scopes/policy-scope.ts';

const NOUNS: Readonly<Record<ScopedKind, string>> = { experiment: 'experiments', registeredModel: 'registered models', prompt: 'prompts' };

export function checkScopes(specs: Readonly<Record<string, PolicySpec>>, policies: ReadonlyMap<string, CompiledPolicy>, backend: Backend | undefined, hasUi: boolean, problems: ProblemList): void {
  for (const [name, spec] of Object.entries(specs)) {
    const policy = policies.get(name);
    if (!policy || (!spec.scope && !spec.conditions)) continue;
    const own = [...policy.operations].filter(([, origin]) => origin.scopes?.some((scope) => scope.policy === name)).map(([operation]) => operation);
    const at = ['policies', name, spec.scope ? 'scope' : 'conditions'];

    if (own.includes('AccessUI') && backend?.kind === 'sagemaker' && hasUi) {
      problems.error(at, `policy "${name}" is scoped but grants AccessUI: the UI entry hands the browser a presigned link to the whole SageMaker MLflow server, which no gateway scope can hold; grant AccessUI only in an unscoped policy, to people who may see every team's data`);
    }
    const never = own.filter((operation) => {
      const declaration = OPERATION_RESOURCES[operation];
      return !declaration || 'unscopable' in declaration;
    });
    if (never.length) {
      problems.warning(at, `policy "${name}" is scoped, so it never grants ${list(never)}: they cannot be scoped (server-wide, or whose owner the request does not tell); grant them in an unscoped policy if its holders need them`);
    }
    const touched = new Set<ScopedKind>();
    for (const operation of own) {
      const declaration = OPERATION_RESOURCES[operation];
      if (declaration) for (const kind of scopedKindsOf(declaration)) touched.add(kind);
    }
    if (!spec.scope) continue;
    for (const kind of Object.keys(KIND_KEYS) as ScopedKind[]) {
      const key = KIND_KEYS[kind];
      const written = spec.scope[key as keyof typeof spec.scope];
      if (written && !touched.has(kind)) problems.warning([...at, key], `no operation of policy "${name}" touches ${NOUNS[kind]}, so this list is never used`);
      if (!written && touched.has(kind)) {
        const users = own.filter((operation) => OPERATION_RESOURCES[operation] && scopedKindsOf(OPERATION_RESOURCES[operation]!).includes(kind));
        problems.warning(at, `policy "${name}" has no scope.${key}, so ${list(users)} are refused whenever they touch ${NOUNS[kind]}; add scope.${key} (["**"] for all) if they should not be`);
      }
    }
  }
}

function list(operations: ReadonlyArray<string>): string {
  return `${operations.slice(0, 5).join(', ')}${operations.length > 5 ? ` and ${operations.length - 5} more` : ''}`;
}

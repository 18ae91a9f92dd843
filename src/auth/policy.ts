// What a policy grants, compiled: MLflow operations by name and (method, path pattern) rules, each
// remembering the policy that wrote it (an included one, possibly) and the scopes it must stay in.
// Read by authorize (pipeline/authorize.ts) and by the identities that hold policies (identity.ts);
// built by the rules compiler (rules/compile.ts).
import type { PolicyScope } from '../scopes/policy-scope.ts';

/** Where a permission comes from: the policy that wrote it (an included one, possibly) and its scopes. */
export interface GrantOrigin {
  policy: string;
  /**
   * The scopes this grant must stay within, all of them: the scope of the policy that wrote it and
   * of every policy that includes it on the way (an include never widens what it includes).
   * Absent: the grant applies to every experiment and model.
   */
  scopes?: ReadonlyArray<PolicyScope>;
}

export interface PathGrant extends GrantOrigin {
  methods: ReadonlySet<string> | '*';
  pattern: RegExp;
  source: string;
}

export interface CompiledPolicy {
  name: string;
  /** operation → where the grant comes from (this policy or an included one) */
  operations: ReadonlyMap<string, GrantOrigin>;
  grants: ReadonlyArray<PathGrant>;
}

/** Whether any grant of these policies is scoped (then the gateway needs its lookups). */
export function hasScopedGrants(policies: Iterable<CompiledPolicy>): boolean {
  for (const policy of policies) {
    for (const origin of policy.operations.values()) if (origin.scopes) return true;
    if (policy.grants.some((grant) => grant.scopes)) return true;
  }
  return false;
}

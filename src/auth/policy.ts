// What a policy grants, compiled: MLflow operations by name and (method, path pattern) rules, each
// remembering the policy that wrote it (an included one, possibly) and that policy's conditions.
// Read by authorize (pipeline/authorize.ts) and by the identities that hold policies (identity.ts);
// built by the rules compiler (rules/compile.ts).
/** Restrictions a policy puts on its own grants (see schema.ts, Conditions). */
export interface PolicyConditions {
  experimentNamePrefixes: ReadonlyArray<string>;
}

/** Where a permission comes from: the policy that wrote it (an included one, possibly) and its conditions. */
export interface GrantOrigin {
  policy: string;
  conditions?: PolicyConditions;
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

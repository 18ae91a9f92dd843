// A policy's scope, compiled (policies.*.scope): the experiments, registered models and prompts its
// operations apply to. A kind the scope leaves out is covered nowhere: `scope: {experiments: [...]}`
// grants nothing on the registry. What a request touches (touched.ts) is held against it by name.
import { compileNamePattern, prefixPattern, type NamePattern, type PatternSubject } from './name-patterns.ts';
import type { ScopeSpec } from '../rules/schema.ts';

/** What a scope can cover: an experiment (and all that lives in it), a registered model, a prompt. */
export type ScopedKind = 'experiment' | 'registeredModel' | 'prompt';

export interface PolicyScope {
  /** The policy that wrote the scope (messages, explain). */
  policy: string;
  patterns: Readonly<Record<ScopedKind, ReadonlyArray<NamePattern> | undefined>>;
}

export function compileScope(policy: string, spec: ScopeSpec): PolicyScope {
  const list = (sources: ReadonlyArray<string> | undefined) => sources?.map(compileNamePattern);
  return { policy, patterns: { experiment: list(spec.experiments), registeredModel: list(spec.registeredModels), prompt: list(spec.prompts) } };
}

/**
 * The old `conditions.experimentNamePrefix` read as a scope: experiments whose name starts with a
 * prefix, the registry unrestricted (the condition never looked at it). Unlike the condition, it
 * holds every call by id too: a run of another team's experiment is no longer reachable by its id.
 */
export function prefixScope(policy: string, prefixes: ReadonlyArray<string>): PolicyScope {
  const everything = [compileNamePattern('**')];
  return { policy, patterns: { experiment: prefixes.map(prefixPattern), registeredModel: everything, prompt: everything } };
}

export function covers(scope: PolicyScope, kind: ScopedKind, name: string, subject: PatternSubject): boolean {
  return scope.patterns[kind]?.some((pattern) => pattern.matches(name, subject)) ?? false;
}

/** Every scope of a grant must cover a name (a policy's own, and each including policy's). */
export function allCover(scopes: ReadonlyArray<PolicyScope>, kind: ScopedKind, name: string, subject: PatternSubject): boolean {
  return scopes.every((scope) => covers(scope, kind, name, subject));
}

/** `experiments team-a/**, users/{client}/**; registeredModels team-a-*` (explain, denial reasons). */
export function describeScope(scope: PolicyScope): string {
  const parts = (Object.entries(scope.patterns) as Array<[ScopedKind, ReadonlyArray<NamePattern> | undefined]>)
    .map(([kind, patterns]) => `${KIND_KEYS[kind]} ${patterns ? patterns.map((p) => p.source).join(', ') || '(none)' : '(none)'}`);
  return parts.join('; ');
}

/** The rules key of each kind. */
export const KIND_KEYS: Readonly<Record<ScopedKind, string>> = { experiment: 'experiments', registeredModel: 'registeredModels', prompt: 'prompts' };

// Scope patterns: `*` within a segment, `**` across, {client} and {group} substituted only when the
// value is a plain name (a subject with `/` or `*` must not reach into someone else's space).
import { describe, expect, test } from 'bun:test';
import { compileNamePattern, patternProblem, prefixPattern } from '../../src/scopes/name-patterns.ts';

const alice = { id: 'alice', groups: ['team-a', 'ml-platform'] };
type Row = [pattern: string, name: string, subject: { id: string; groups?: string[] }, matches: boolean];
const table: Row[] = [
  ['team-a/**', 'team-a/churn', alice, true],
  ['team-a/**', 'team-a/deep/er/name', alice, true],
  ['team-a/**', 'team-a/', alice, true],
  ['team-a/**', 'team-a', alice, false],
  ['team-a/**', 'team-ab/x', alice, false],
  ['team-a/**', 'Team-A/x', alice, false],
  ['team-a/*', 'team-a/x', alice, true],
  ['team-a/*', 'team-a/x/y', alice, false],
  ['team-a-*', 'team-a-model', alice, true],
  ['team-a-*', 'team-a-', alice, true],
  ['team-a.v1', 'team-aXv1', alice, false],
  ['(a|b)+', 'aab', alice, false],
  ['users/{client}/**', 'users/alice/x', alice, true],
  ['users/{client}/**', 'users/bob/x', alice, false],
  ['users/{client}/**', 'users/bob/x', { id: 'bob/../alice' }, false],
  ['users/{client}/**', 'users/bob/secret/x', { id: 'bob/secret' }, false],
  ['users/{client}/**', 'users/anything/x', { id: '*' }, false],
  ['users/{client}/**', 'users/.*/x', { id: '.*' }, false],
  ['{group}/**', 'team-a/x', alice, true],
  ['{group}/**', 'ml-platform/x', alice, true],
  ['{group}/**', 'team-b/x', alice, false],
  ['{group}/**', 'team-a/x', { id: 'carol' }, false],
  ['{group}/**', 'x/y', { id: 'carol', groups: ['x/y'] }, false],
  ['{group}-{client}-*', 'team-a-alice-m', alice, true],
  ['**', 'anything/at/all', alice, true],
  ['**', '', alice, true],
];

describe('a name is covered by a pattern', () => {
  for (const [pattern, name, subject, matches] of table) {
    test(`${pattern} ${matches ? 'covers' : 'does not cover'} "${name}" for ${subject.id}`, () => {
      expect(compileNamePattern(pattern).matches(name, subject)).toBe(matches);
    });
  }
});

test('the old experimentNamePrefix is a literal prefix, wildcards in it included', () => {
  expect(prefixPattern('team-a/').matches('team-a/x', alice)).toBe(true);
  expect(prefixPattern('team-*').matches('team-a', alice)).toBe(false);
  expect(prefixPattern('team-*').matches('team-*x', alice)).toBe(true);
});

test('check names what is wrong with a pattern', () => {
  expect(patternProblem('team-a/**')).toBeUndefined();
  expect(patternProblem('users/{client}/{group}')).toBeUndefined();
  expect(patternProblem('team-a/***')).toContain('three or more');
  expect(patternProblem('users/{user}/**')).toBe('unknown placeholder {user}: only {client} and {group} exist');
  expect(patternProblem('users/{client')).toContain('outside {client} or {group}');
});

import { expect, test } from 'bun:test';
import { prefixRedirect } from '../../src/pipeline/prefix-redirect.ts';
import { rulesFrom } from '../support/rules.ts';

const rewrites = rulesFrom(`version: 1
backend: {url: "http://127.0.0.1:5000"}
rewrites: [{stripPrefix: /mlflow/}, {prefix: /ajax-api/, replace: /api/}]
`).rewrites;

const cases: Array<[string, string, string, string, string | undefined]> = [
  ['the bare prefix redirects to its slash form', 'GET', '/mlflow', '', '/mlflow/'],
  ['the query is kept', 'GET', '/mlflow', 'a=1&b=2', '/mlflow/?a=1&b=2'],
  ['HEAD too', 'HEAD', '/mlflow', '', '/mlflow/'],
  ['a POST is not redirected (it would lose its body)', 'POST', '/mlflow', '', undefined],
  ['the slash form is served, not redirected', 'GET', '/mlflow/', '', undefined],
  ['a longer name that starts like the prefix is not', 'GET', '/mlflowx', '', undefined],
  ['a prefix rewrite (not a mount) is not', 'GET', '/ajax-api', '', undefined],
];
for (const [sentence, method, path, query, expected] of cases) {
  test(sentence, () => expect(prefixRedirect(method, path, query, rewrites)).toBe(expected));
}

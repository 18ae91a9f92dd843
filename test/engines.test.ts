// The Node.js version the README and package.json promise is true: every installed package's
// `engines.node` admits it, so `npm ci` on the CI machine's Node 20 installs without an EBADENGINE
// warning (graphql 17 wanted Node 22; 16.15, the line graphql-core 3.2, MLflow's parser, follows,
// does not). Node only installs and runs npm here; the gateway runs on Bun or Deno.
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './support/processes.ts';

type Version = [number, number, number];

function version(text: string): Version {
  const parts = text.replace(/^v/, '').split('.').map((part) => (/^(x|\*|)$/i.test(part) ? 0 : Number(part)));
  if (parts.some((part) => Number.isNaN(part))) throw new Error(`not a version: ${text}`);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Whether an npm range admits a version, for the forms package-lock.json holds here: `||`,
 * `>=V` (also `>= V`), `^V`, `V.*` / `V.x`, and plain V. Anything else fails the test loudly.
 */
export function admits(range: string, v: Version): boolean {
  return range.split('||').some((alternative) => {
    const comparators = alternative.trim().replace(/(>=|<=|>|<|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.every((comparator) => {
      const match = /^(>=|>|<=|<|\^)?(\d+(?:\.(?:\d+|x|\*))*)$/i.exec(comparator);
      if (!match) throw new Error(`range form not understood: "${comparator}" in "${range}"`);
      const [, op, text] = match;
      const bound = version(text!);
      const wildcard = /\.(x|\*)/i.test(text!) || text!.split('.').length < 3;
      switch (op) {
        case '>=':
          return compare(v, bound) >= 0;
        case '>':
          return compare(v, bound) > 0;
        case '<=':
          return compare(v, bound) <= 0;
        case '<':
          return compare(v, bound) < 0;
        case '^':
          return compare(v, bound) >= 0 && (bound[0] > 0 ? v[0] === bound[0] : v[1] === bound[1]);
        default:
          return wildcard ? v[0] === bound[0] && (text!.split('.').length < 2 || /\.(x|\*)/i.test(text!.split('.')[1]!) || v[1] === bound[1]) : compare(v, bound) === 0;
      }
    });
  });
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };

describe("Node's required version", () => {
  test('package.json requires Node 20.6 or later (the OpenTelemetry SDK 2.x floor), as the README says', () => {
    expect(pkg.engines.node).toBe('>=20.6');
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('Node.js 20.6+');
  });

  // Node 20 from 20.6 (September 2023): the OpenTelemetry JS SDK 2.x (tracing, issue 22) asks for
  // ^18.19.0 || >=20.6.0; its 3.x line asks for Node 22.15, so 2.x is what the gateway uses. Every
  // maintained Node 20 (CI's is 20.20) is past 20.6; 20.0 to 20.5 are not admitted by those packages.
  test('every locked package admits Node 20 (from 20.6), 22 and 24', () => {
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (!range) continue;
      for (const node of ['20.6.0', '22.0.0', '24.0.0']) if (!admits(range, version(node))) refusing.push(`${path || '(root)'} wants node ${range}, not ${node}`);
    }
    expect(refusing).toEqual([]);
  });

  test('the range reader answers as npm does on the forms it reads', () => {
    expect(admits('^22.0.0 || ^24.0.0 || >=26.0.0', version('20.0.0'))).toBe(false);
    expect(admits('^22.0.0 || ^24.0.0 || >=26.0.0', version('24.3.0'))).toBe(true);
    expect(admits('10.* || >= 12.*', version('20.1.0'))).toBe(true);
    expect(admits('10.* || >= 12.*', version('11.0.0'))).toBe(false);
    expect(admits('>=9.4.0 || ^8.9.4', version('8.10.0'))).toBe(true);
    expect(admits('>=0.8.x', version('20.0.0'))).toBe(true);
    expect(() => admits('~1.2', version('1.2.0'))).toThrow('range form not understood');
  });
});

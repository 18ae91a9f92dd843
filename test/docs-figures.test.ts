// The sizes the documentation gives for the single-file builds are those of a build made now
// (scripts/build.sh, as `npm run build`): "~N MB executable" and "~N MB JavaScript file" anywhere in
// README.md or docs/ must be within 5% of the built file (MB = 10^6 bytes, as `ls --si` shows it).
// The README once said ~110 MB for a 120 MB executable (issue 20 item 16).
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildArtifacts } from './support/build.ts';
import { documentationFiles } from './support/markdown.ts';
import { REPO } from './support/processes.ts';

setDefaultTimeout(180_000);

/** Every "~N MB <what>" figure of the documentation, with where it is. */
function figures(what: RegExp): Array<{ where: string; mb: number }> {
  const found: Array<{ where: string; mb: number }> = [];
  for (const file of documentationFiles()) {
    readFileSync(join(REPO, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const match of line.matchAll(new RegExp(`~(\\d+(?:\\.\\d+)?) MB ${what.source}`, 'g'))) found.push({ where: `${file}:${i + 1}`, mb: Number(match[1]) });
      });
  }
  return found;
}

describe("the documentation's build sizes", () => {
  const cases = [
    { what: /executable/, artifact: 'executable' as const },
    { what: /JavaScript file/, artifact: 'bundle' as const },
  ];
  for (const { what, artifact } of cases) {
    test(`"~N MB ${what.source}" is the size of the ${artifact} built now, within 5%`, () => {
      const builtMb = statSync(buildArtifacts()[artifact]).size / 1e6;
      const stated = figures(what);
      expect(stated.length).toBeGreaterThan(0);
      for (const { where, mb } of stated) {
        expect({ where, mb, withinFivePercent: Math.abs(mb - builtMb) / builtMb <= 0.05 }).toEqual({ where, mb, withinFivePercent: true });
      }
    });
  }
});

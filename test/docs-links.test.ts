// The documentation's links hold: every relative link in README.md and docs/ (found on disk, so a
// new page is covered without naming it) names a file or directory of the repository, and every
// anchor (#section, page.md#section) names a heading of its page as GitHub makes the anchors.
// Moving a section between pages, or renaming one, fails here instead of leaving a dead link.
import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO } from './support/processes.ts';
import { documentationFiles, headingAnchors, links } from './support/markdown.ts';

/** A link's target as it resolves on the repository: `undefined` for an external or absolute one. */
function resolveLink(fromFile: string, target: string): { path: string; anchor: string | undefined } | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) return undefined; // https:, mailto:, site-absolute
  const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
  const path = rawPath === '' ? fromFile : relative(REPO, join(REPO, dirname(fromFile), decodeURIComponent(rawPath)));
  return { path, anchor };
}

function problemsOf(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const link of links(text)) {
    const resolved = resolveLink(file, link.target);
    if (!resolved) continue;
    const where = `${file}:${link.line}: (${link.target})`;
    if (resolved.path.startsWith('..') || !existsSync(join(REPO, resolved.path))) {
      problems.push(`${where} ${resolved.path} does not exist`);
      continue;
    }
    if (resolved.anchor === undefined) continue;
    if (!resolved.path.endsWith('.md') || statSync(join(REPO, resolved.path)).isDirectory()) {
      problems.push(`${where} an anchor into ${resolved.path}, which is not a Markdown page`);
      continue;
    }
    const anchors = headingAnchors(resolved.path === file ? text : readFileSync(join(REPO, resolved.path), 'utf8'));
    if (!anchors.has(resolved.anchor)) problems.push(`${where} ${resolved.path} has no heading #${resolved.anchor}`);
  }
  return problems;
}

describe('links in the documentation', () => {
  test('the pages are README.md and docs/*.md, found on disk', () => {
    const files = documentationFiles();
    expect(files[0]).toBe('README.md');
    expect(files.length).toBeGreaterThan(1);
    expect(files.slice(1).every((file) => file.startsWith('docs/') && file.endsWith('.md'))).toBe(true);
  });

  for (const file of documentationFiles()) {
    test(`${file}: every relative link and anchor exists`, () => {
      expect(problemsOf(file, readFileSync(join(REPO, file), 'utf8'))).toEqual([]);
    });
  }

  test('README.md links every page of docs/ (the front page is the way in)', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const linked = new Set(links(readme).map((link) => resolveLink('README.md', link.target)?.path));
    expect(documentationFiles().slice(1).filter((file) => !linked.has(file))).toEqual([]);
  });

  // The checker itself, on made-up pages: a dead file, a dead anchor, a link in code (not a link).
  test('finds a missing file, a missing anchor, and ignores code', () => {
    const text = [
      '# A page',
      '## Rules reference (`rules.yaml`, version 1)',
      '## A fleet: shared limits in Valkey / Redis (`limits.store`)',
      'See [the rules](#rules-reference-rulesyaml-version-1), [the fleet](#a-fleet-shared-limits-in-valkey--redis-limitsstore),',
      '[gone](#no-such-heading), [missing](docs/nowhere.md), [code](src/main.ts), [site](https://example.com/x#y).',
      '`[not a link](nowhere.md)`',
      '```',
      '[not a link either](nowhere.md)',
      '```',
    ].join('\n');
    expect(problemsOf('README.md', text)).toEqual(['README.md:5: (#no-such-heading) README.md has no heading #no-such-heading', 'README.md:5: (docs/nowhere.md) docs/nowhere.md does not exist']);
  });
});

// Reading the project's Markdown as the tests need it: which files are the documentation, their
// fenced code blocks (the commands and console examples test/readme.test.ts runs), their headings'
// anchors as GitHub makes them, and their relative links (test/docs-links.test.ts).
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO } from './processes.ts';

/**
 * The documentation: README.md and every Markdown file under docs/, found on disk, so a page added
 * to docs/ is tested without naming it anywhere (paths relative to the repository, sorted).
 */
export function documentationFiles(root = REPO): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) found.push(relative(root, path));
    }
  };
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'));
  return ['README.md', ...found.sort()];
}

export interface Block {
  /** The info string after the fence: `sh local-mlflow`, `console`. */
  info: string;
  body: string;
  /** 1-based line of the opening fence, for failure messages. */
  line: number;
}

/** Fenced code blocks of a Markdown text (``` fences, as the docs use; indented ones included). */
export function fencedBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S.*)?$/.exec(lines[i]!);
    if (!open) continue;
    const indent = lines[i]!.length - lines[i]!.trimStart().length;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    blocks.push({ info: (open[1] ?? '').trim(), body: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

/** The text of a `## heading` section, up to the next `## ` heading. */
export function section(text: string, heading: string, file = 'README.md'): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${file} has no "## ${heading}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The lines outside fenced code blocks, with their 1-based numbers (headings and links live there). */
function proseLines(text: string): Array<{ text: string; line: number }> {
  const out: Array<{ text: string; line: number }> = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) out.push({ text: line, line: i + 1 });
  });
  return out;
}

/**
 * The anchors GitHub gives a file's headings (github-slugger, which github.com uses): the heading's
 * text (link targets dropped) in lower case, every character that is not a letter, mark, digit,
 * connector (`_`), hyphen or space removed, spaces turned into hyphens; a repeated anchor gets -1, -2...
 */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text: line } of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

export interface Link {
  target: string;
  /** 1-based line, for failure messages. */
  line: number;
}

/** Inline links and images (`[text](target)`) outside code blocks and code spans. */
export function links(text: string): Link[] {
  const found: Link[] = [];
  for (const { text: line, line: number } of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ target: match[1]!, line: number });
  }
  return found;
}

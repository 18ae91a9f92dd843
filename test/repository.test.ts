// The tree as a whole: no file carries a merge's conflict markers (README.md once did for six
// commits and nothing noticed). Every file git knows about, tracked or new, is read.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './support/processes.ts';

// git's markers: seven <, = or > at the start of a line (`<<<<<<< HEAD`, `=======`, `>>>>>>> main`).
const MARKER = /^(?:<{7}(?: |$)|={7}$|>{7}(?: |$))/m;

function filesInTree(): string[] {
  const run = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`git ls-files failed: ${run.stderr}`);
  return run.stdout.split('\0').filter(Boolean);
}

/** FILE:LINE for each line with a conflict marker. */
export function conflictMarkers(files: string[], read: (file: string) => string): string[] {
  const found: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = read(file);
    } catch {
      continue; // deleted in the work tree but still in the index
    }
    if (text.includes('\0') || !MARKER.test(text)) continue; // binary, or clean
    text.split('\n').forEach((line, i) => {
      if (MARKER.test(line)) found.push(`${file}:${i + 1}: ${line}`);
    });
  }
  return found;
}

describe('the repository', () => {
  test('no file has merge-conflict markers', () => {
    expect(conflictMarkers(filesInTree(), (file) => readFileSync(join(REPO, file), 'utf8'))).toEqual([]);
  });

  test('a conflict left in a file is found, with its file and line', () => {
    const merged = ['# Title', '<'.repeat(7) + ' HEAD', 'ours', '='.repeat(7), 'theirs', '>'.repeat(7) + ' main', 'after'].join('\n');
    expect(conflictMarkers(['README.md', 'clean.md'], (file) => (file === 'README.md' ? merged : '# fine\n====\n'))).toEqual([
      `README.md:2: ${'<'.repeat(7)} HEAD`,
      `README.md:4: ${'='.repeat(7)}`,
      `README.md:6: ${'>'.repeat(7)} main`,
    ]);
  });
});

// No two files of src/ import each other, directly or round a longer circle: a circle means neither
// file can be read (or loaded, or tested) without the other, and a type that two files need belongs
// to one of them (docs: shared/design/stage-ownership.md, "a setting's type is declared beside the
// code that reads it"). rules/compile.ts ↔ rules/risks.ts was one (issue 19): compile took the type
// RiskInput from risks, risks took CompiledRules from compile. Static imports count, type-only ones
// too (a type import is still a reason to read the other file); a lazy `import()` does not, since
// loading on demand is the point of it.
import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO } from './support/processes.ts';

const STATIC_IMPORT = /^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** file → the files of the tree it imports statically, paths relative to `root`. */
export function importGraph(files: Record<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of Object.entries(files)) {
    const targets = [...text.matchAll(STATIC_IMPORT)].map((m) => join(dirname(file), m[1]!)).filter((target) => target in files);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The files that reach each other through imports (Tarjan's strongly connected components), each set sorted. */
export function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (stack.includes(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component = stack.splice(stack.indexOf(file));
    if (component.length > 1 || graph.get(file)?.includes(file)) found.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('src/ has no import circle', () => {
  test('no file of src/ reaches itself through its static imports', () => {
    const root = resolve(REPO, 'src');
    const files = Object.fromEntries(sourceFiles(root).map((path) => [relative(root, path), readFileSync(path, 'utf8')]));
    expect(circles(importGraph(files)).map((loop) => loop.join(' ↔ '))).toEqual([]);
  });

  test('a circle is found whatever its length, type imports included, lazy imports not', () => {
    const graph = importGraph({
      'rules/compile.ts': "import type { RiskInput } from './risks.ts';\nconst lazy = () => import('./lazy.ts');",
      'rules/risks.ts': "import type {\n  CompiledRules,\n} from './compile.ts';",
      'a.ts': "export { b } from './b.ts';",
      'b.ts': "import { c } from './pipeline/c.ts';",
      'pipeline/c.ts': "import { a } from '../a.ts';",
      'rules/lazy.ts': "import { x } from './compile.ts';",
    });
    expect(circles(graph).map((loop) => loop.join(' ↔ '))).toEqual(['a.ts ↔ b.ts ↔ pipeline/c.ts', 'rules/compile.ts ↔ rules/risks.ts']);
  });
});

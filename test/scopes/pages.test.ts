// Scoped pages keep MLflow's pagination contract (issue 19 item 5), as a property over many
// backends: every page size, every interleaving of visible and hidden rows, backend page sizes that
// do not match, a client that changes max_results midway, and the bound on backend pages read. Following
// next_page_token yields every visible row exactly once, in the backend's order, and never a hidden
// one; no page holds more than max_results.
import { describe, expect, test } from 'bun:test';
import { decodeCursor, encodeCursor, scopedPage, type BackendPage } from '../../src/scopes/pages.ts';

/** A backend over `rows` whose tokens are offsets, like MLflow's SQL stores (but opaque here). */
function backend(rows: ReadonlyArray<{ id: number; visible: boolean }>, cap = Infinity) {
  let fetched = 0;
  return {
    fetched: () => fetched,
    async fetchPage(token: string | undefined, size: number): Promise<BackendPage> {
      fetched++;
      const offset = token ? Number(token.slice(3)) : 0;
      const n = Math.min(size, cap);
      const page = rows.slice(offset, offset + n);
      return { rows: page, ...(offset + n < rows.length ? { next: `off${offset + n}` } : {}) };
    },
  };
}

function random(seed: number) {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

async function follow(rows: ReadonlyArray<{ id: number; visible: boolean }>, sizes: () => number, maxPages: number, cap?: number) {
  const store = backend(rows, cap);
  const seen: number[] = [];
  let token: string | undefined;
  for (let calls = 0; calls < 10_000; calls++) {
    const want = sizes();
    const page = await scopedPage({ want, cursor: decodeCursor(token), maxPages, fetchPage: store.fetchPage, visible: async (row) => (row as { visible: boolean }).visible });
    expect(page.rows.length).toBeLessThanOrEqual(want);
    seen.push(...page.rows.map((row) => (row as { id: number }).id));
    if (!page.next) return seen;
    token = page.next;
  }
  throw new Error('pagination did not end');
}

describe('following next_page_token yields every visible row once, in order, and no hidden one', () => {
  for (let seed = 1; seed <= 60; seed++) {
    test(`backend #${seed}`, async () => {
      const next = random(seed);
      const count = Math.floor(next() * 120);
      const density = next();
      const rows = Array.from({ length: count }, (_, id) => ({ id, visible: next() < density }));
      const expected = rows.filter((r) => r.visible).map((r) => r.id);
      const fixed = 1 + Math.floor(next() * 12);
      const maxPages = 1 + Math.floor(next() * 4);
      const cap = next() < 0.3 ? 1 + Math.floor(next() * 7) : undefined;
      // A client that keeps max_results, and one that changes it on every call.
      expect(await follow(rows, () => fixed, maxPages, cap)).toEqual(expected);
      expect(await follow(rows, () => 1 + Math.floor(next() * 9), maxPages, cap)).toEqual(expected);
    });
  }
});

test('a full page comes from as few backend pages as it can, and stops at the bound', async () => {
  const rows = Array.from({ length: 100 }, (_, id) => ({ id, visible: id % 5 === 0 }));
  const store = backend(rows);
  const page = await scopedPage({ want: 5, cursor: { skip: 0 }, maxPages: 3, fetchPage: store.fetchPage, visible: async (row) => (row as { visible: boolean }).visible });
  // Pages of 5 hold at most one visible row each: three pages read, three rows, and a token to go on.
  expect(store.fetched()).toBe(3);
  expect(page.rows.length).toBe(3);
  expect(page.next).toBeString();
});

test('tokens: the gateway\'s round-trip, the backend\'s pass through, a forged one is a 400', () => {
  expect(decodeCursor(encodeCursor({ upstream: 'abc', skip: 3, size: 10 }))).toEqual({ upstream: 'abc', skip: 3, size: 10 });
  expect(decodeCursor(encodeCursor({ skip: 0 }))).toEqual({ skip: 0 });
  expect(decodeCursor('eyJvZmZzZXQiOiAxMH0=')).toEqual({ upstream: 'eyJvZmZzZXQiOiAxMH0=', skip: 0 });
  expect(decodeCursor(undefined)).toEqual({ skip: 0 });
  for (const forged of ['gw1.', 'gw1.!!!', `gw1.${Buffer.from('{"u":null,"s":-1,"n":null}').toString('base64url')}`, `gw1.${Buffer.from('{"u":5,"s":0,"n":null}').toString('base64url')}`]) {
    expect(() => decodeCursor(forged)).toThrow(/Invalid page_token/);
  }
});

// The drain's order: serve for drainMs (or until a second signal), then close and wait up to
// finishMs for requests in flight, then cut them.
import { describe, expect, test } from 'bun:test';
import { drainAndStop, sleep } from '../src/shutdown.ts';
import type { Listener } from '../src/listen.ts';

function fakeListener(finishesAfterMs: number) {
  const calls: string[] = [];
  const listener: Listener = {
    port: 1,
    stop: async (force) => {
      calls.push(force ? 'force' : 'stop');
      if (!force) await sleep(finishesAfterMs);
    },
  };
  return { listener, calls };
}

describe('drainAndStop', () => {
  test('closes the listener only after the drain period, and reports that requests finished', async () => {
    const { listener, calls } = fakeListener(0);
    const phases: string[] = [];
    const drained = drainAndStop(listener, { drainMs: 200, finishMs: 1000 }, new Promise(() => {}), (phase) => phases.push(phase));
    await sleep(50);
    expect(calls).toEqual([]);
    expect(await drained).toEqual({ finished: true });
    expect(calls).toEqual(['stop']);
    expect(phases).toEqual(['closing']);
  });

  test('cuts requests still in flight after finishMs', async () => {
    const { listener, calls } = fakeListener(10_000);
    const phases: string[] = [];
    expect(await drainAndStop(listener, { drainMs: 0, finishMs: 50 }, new Promise(() => {}), (phase) => phases.push(phase))).toEqual({ finished: false });
    expect(calls).toEqual(['stop', 'force']);
    expect(phases).toEqual(['closing', 'cut']);
  });

  test('a second signal ends the drain period early', async () => {
    const { listener, calls } = fakeListener(0);
    expect(await drainAndStop(listener, { drainMs: 60_000, finishMs: 1000 }, Promise.resolve())).toEqual({ finished: true });
    expect(calls).toEqual(['stop']);
  });
});

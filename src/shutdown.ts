// Graceful drain on SIGTERM, for a gateway behind an ALB:
//   1. readiness fails at once (the caller flips `draining`), so health checks mark the target
//      unhealthy and the load balancer stops routing new requests here;
//   2. the listener keeps serving for drainMs: requests the ALB already routed, or routes before it
//      notices, are still answered normally;
//   3. the listener stops accepting and waits up to finishMs for requests in flight (long
//      downloads), then cuts what is left.
// A second SIGTERM/SIGINT skips what remains of step 2 (an impatient operator, systemd's final kill
// comes after TimeoutStopSec anyway).
import type { Listener } from './listen.ts';

export interface DrainPlan {
  drainMs: number;
  finishMs: number;
}

export interface DrainResult {
  /** False when requests were still in flight after finishMs and had to be cut. */
  finished: boolean;
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export async function drainAndStop(listener: Listener, plan: DrainPlan, skipDrain: Promise<unknown>, onPhase: (phase: 'closing' | 'cut') => void = () => {}): Promise<DrainResult> {
  await Promise.race([sleep(plan.drainMs), skipDrain]);
  onPhase('closing');
  let timer: ReturnType<typeof setTimeout> | undefined;
  const finished = await Promise.race([
    listener.stop().then(() => true),
    new Promise<boolean>((done) => (timer = setTimeout(() => done(false), plan.finishMs))),
  ]);
  clearTimeout(timer);
  if (!finished) {
    onPhase('cut');
    await listener.stop(true);
  }
  return { finished };
}

// Large SageMaker-bound bodies cost disk, not RAM: SigV4 needs the SHA-256 of the body before the
// request is sent, so the body must be held until it is hashed. Held in memory it was held twice:
// once as read, once more by fetch(), which copies a Uint8Array body (measured on Bun 1.4.4: 20
// concurrent 7.6 MiB bodies forwarded from memory added 335-391 MB RSS, read and dropped without
// forwarding ~150 MB). Written to a private temp file while it is hashed, and sent from the file
// (Bun sends a file body from the page cache, nothing copied into the heap), the same load added
// 120-134 MB: what remains is Bun.serve's own buffering of a body as it arrives, which JavaScript
// cannot bound (bench/buffered-bodies.ts has the end-to-end figures). The file is created 0600 in a
// 0700 directory of the process's own (systemd's PrivateTmp gives it a private /tmp as well) and
// removed as soon as the upstream has answered. Bun only: Deno's fetch has no file body, so there
// bodies stay in memory.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BodyLease } from '../limits/buffer-budget.ts';
import { collectAfterStreaming } from '../runtime/gc-pacing.ts';
import { ClientClosed, GatewayError, PayloadTooLarge } from '../errors.ts';

/** Bodies with a declared length above this are spilled; smaller ones are read into memory (cheaper). */
export const SPILL_ABOVE_BYTES = 1024 * 1024;

const bun = (globalThis as { Bun?: { file(path: string): Blob } }).Bun;

export interface SpilledBody {
  /** The file, as a body fetch sends from disk. */
  file: Blob;
  bytes: number;
  sha256: string;
  /** Removes the file; call once the upstream has answered. */
  dispose(): Promise<void>;
}

let directory: string | undefined;
let sequence = 0;

/** The process's private spill directory (created on first use, mode 0700). */
export function spillDirectory(): string {
  return (directory ??= mkdtempSync(join(tmpdir(), 'sagemaker-mlflow-proxy-')));
}

/** Whether this request's body is spilled rather than read into memory. */
export function shouldSpill(request: Request): boolean {
  if (!bun || !request.body) return false;
  const declared = request.headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared) && Number(declared) > SPILL_ABOVE_BYTES;
}

/**
 * Reads a body with a declared length into a private temp file, hashing it on the way. The cap and
 * the buffer budget apply as for a body read into memory (http/read-body.ts): a declared length
 * over the cap is 413 before anything is read; the length is reserved before reading.
 */
export async function spillBody(request: Request, cap: number, lease?: BodyLease): Promise<SpilledBody> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > cap) throw new PayloadTooLarge(cap);
  lease?.reserve(declared);
  const path = join(spillDirectory(), `body-${process.pid}-${++sequence}`);
  const handle = await open(path, 'wx', 0o600);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    const reader = request.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      await handle.write(value);
      bytes += value.byteLength;
      // The pieces read are garbage at once; let the collector see them (gc-pacing.ts).
      collectAfterStreaming(value.byteLength);
    }
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    if (error instanceof GatewayError) throw error;
    throw new ClientClosed(`the client's connection ended while its body was read (${error instanceof Error ? error.name : 'error'})`);
  }
  await handle.close();
  return { file: bun!.file(path), bytes, sha256: hash.digest('hex'), dispose: () => unlink(path).catch(() => {}) };
}

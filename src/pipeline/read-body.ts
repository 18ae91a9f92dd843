// SigV4 signs the SHA-256 of the exact body, so a SageMaker-bound body is read whole before it is
// signed, up to a cap: Content-Length over the cap is refused before reading, and a chunked body
// is cut off as soon as it passes the cap. Never an unbounded buffer (aws-sigv4-proxy's mistake).
import { BadRequest, PayloadTooLarge } from '../errors.ts';

export async function readBodyWithCap(request: Request, cap: number): Promise<Uint8Array | undefined> {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined;
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (!/^\d+$/.test(declared)) throw new BadRequest('Content-Length is not a number.');
    if (Number(declared) > cap) throw new PayloadTooLarge(cap);
  }
  if (declared !== null) {
    // Length known and within the cap: the runtime reads exactly that many bytes, natively (fast).
    // (Touching request.body first would build a JavaScript stream for nothing.)
    if (declared === '0') return undefined;
    const body = new Uint8Array(await request.arrayBuffer());
    return body.byteLength > 0 ? body : undefined;
  }
  // Chunked: read piece by piece and stop as soon as the cap is passed.
  if (!request.body) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLarge(cap);
    }
    chunks.push(value);
  }
  if (total === 0) return undefined;
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

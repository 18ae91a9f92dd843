// A caller announcing a large upload (Expect: 100-continue, 64 MiB here) who will be refused. Both
// runtimes answer `100 Continue` themselves as soon as the head arrives, before the gateway's
// handler runs (measured: Bun 1.4.4 and Deno 2.9.6; neither has an option to hold it back), so the
// client starts sending; what the gateway controls is what happens next. RFC 9110 §10.1.1: a server
// answering before it has read the content should say whether it closes or reads and discards it;
// reading it means taking the whole upload for nothing (300 MiB were read before this fix). The
// refusal carries `Connection: close` and the runtime stops reading.
import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { openRaw, requestHead } from '../support/raw-http.ts';
import { BACKEND_MODES, faultGatewaysOfThisFile, requestIdFor, type FaultGateway } from '../support/fault-gateway.ts';

setDefaultTimeout(60_000);
const startFaultGateway = faultGatewaysOfThisFile();

const ANNOUNCED = 64 * 1024 * 1024;
const PIECE = Buffer.alloc(1024 * 1024, 0x61);

/** Sends the head, then body pieces until the gateway closes or the announced size is sent; bounded. */
async function refusedUpload(gateway: FaultGateway, target: string, headers: Record<string, string>) {
  const connection = await openRaw(gateway.port);
  await connection.write(requestHead(gateway.port, 'POST', target, { ...headers, expect: '100-continue', 'content-length': String(ANNOUNCED), 'content-type': 'application/json' }));
  let written = 0;
  while (written < ANNOUNCED && !connection.isClosed()) {
    try {
      await connection.write(PIECE);
    } catch {
      break;
    }
    written += PIECE.byteLength;
  }
  const response = await connection.response();
  return { response, written, connection };
}

describe.each(BACKEND_MODES)('%s backend', (mode) => {
  test(`a refused caller announcing 64 MiB with Expect: 100-continue gets its 401, 403${mode === 'sagemaker' ? ' or 413 (over maxBodyBytes)' : ''} and a closed connection, the upload is not read, and nothing reaches the upstream`, async () => {
    const gateway = await startFaultGateway(mode, { clientPolicy: '{operations: [GetExperiment, LogBatch]}' });
    const refusals: Array<[string, string, Record<string, string>, number]> = [
      ['no credentials', '/api/2.0/mlflow/runs/log-batch', {}, 401],
      ['not allowed', '/api/2.0/mlflow/runs/delete', gateway.auth, 403],
      // SageMaker bodies are buffered to be hashed, up to limits.maxBodyBytes (8 MiB by default).
      ...(mode === 'sagemaker' ? [['over maxBodyBytes', '/api/2.0/mlflow/runs/log-batch', gateway.auth, 413] as [string, string, Record<string, string>, number]] : []),
    ];
    for (const [label, target, headers, status] of refusals) {
      const id = requestIdFor(`expect-${label}`);
      const { response, written, connection } = await refusedUpload(gateway, target, { ...headers, 'x-request-id': id });
      expect(response.status).toBe(status);
      expect(response.headers.connection).toBe('close');
      // The runtime takes what is already in its buffers (a few MiB), not the announced upload.
      expect(written).toBeLessThan(ANNOUNCED / 4);
      await connection.closed; // by the gateway: the client never ends it
      expect(await gateway.auditOf(id)).toMatchObject({ status, bytesIn: 0 });
    }
    expect(gateway.upstream.requests).toHaveLength(0);
  });
});

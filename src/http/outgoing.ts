// A request as the gateway sends it upstream: made by the sign stage, sent by forward.

export interface OutgoingRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  /**
   * Bytes for signed requests, or a file for a large one (http/spill-body.ts); the client's stream
   * for a self-hosted backend (no hash needed).
   */
  body: Uint8Array | Blob | ReadableStream<Uint8Array> | undefined;
  /** For explain and the audit log: what was signed, without the signature. */
  signedHeaders?: string;
}

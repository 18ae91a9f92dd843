// A strict reader of DER (ITU-T X.690 §10), only as much as client certificates and CRLs need:
// tag-length-value elements with definite lengths, object identifiers, times and strings.
// node:crypto's X509Certificate checks signatures and issuers, but it has no CRL type, and the
// way it prints names and SANs differs between Node, Bun and Deno (Deno drops a serial's leading
// zero, escapes differently): reading the DER ourselves gives one answer on every runtime.
// Anything that is not well-formed DER throws DerError; callers turn that into a refusal.

export class DerError extends Error {}

export interface DerElement {
  tag: number;
  /** The whole element, tag and length included (what a signature covers). */
  encoded: Uint8Array;
  content: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

/** The element starting at `offset`, and where the next one starts. */
export function readElement(bytes: Uint8Array, offset = 0): { element: DerElement; next: number } {
  if (offset + 2 > bytes.length) throw new DerError('truncated element');
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used in certificates');
  let length = bytes[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // 0x80 is BER's indefinite length, never DER; four length bytes are far beyond any header here.
    if (count === 0 || count > 4) throw new DerError('unsupported length form');
    if (offset + 2 + count > bytes.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!;
    header += count;
  }
  const end = offset + header + length;
  if (end > bytes.length) throw new DerError('element runs past its container');
  return { element: { tag, encoded: bytes.subarray(offset, end), content: bytes.subarray(offset + header, end) }, next: end };
}

/** The one element that makes up `bytes` (nothing may follow it). */
export function readOnly(bytes: Uint8Array): DerElement {
  const { element, next } = readElement(bytes, 0);
  if (next !== bytes.length) throw new DerError('trailing bytes after the element');
  return element;
}

/** The elements inside a constructed element (SEQUENCE, SET, explicit context tags). */
export function childrenOf(element: DerElement): DerElement[] {
  if (!(element.tag & 0x20)) throw new DerError(`element with tag 0x${element.tag.toString(16)} is not constructed`);
  const out: DerElement[] = [];
  for (let offset = 0; offset < element.content.length; ) {
    const { element: child, next } = readElement(element.content, offset);
    out.push(child);
    offset = next;
  }
  return out;
}

export function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (!element || element.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
  return element;
}

/** Dotted form: 2.5.4.3. */
export function oidText(element: DerElement): string {
  const bytes = expectTag(element, TAG.OID, 'object identifier').content;
  if (bytes.length === 0) throw new DerError('empty object identifier');
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  if (bytes[bytes.length - 1]! & 0x80) throw new DerError('truncated object identifier');
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** An INTEGER as upper-case hex without leading zeros (how serial numbers are compared). */
export function integerHex(element: DerElement): string {
  const bytes = expectTag(element, TAG.INTEGER, 'integer').content;
  return normalizeSerial(Buffer.from(bytes).toString('hex'));
}

/** 03:a5:12 / 03A512 / 3a512 → 3A512: the forms ALB headers, OpenSSL and the runtimes print. */
export function normalizeSerial(text: string): string {
  const hex = text.replace(/[:\s]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
  return hex;
}

/** UTCTime (RFC 5280 §4.1.2.5.1: YY < 50 is 20YY) or GeneralizedTime, both in whole seconds and Z as DER requires; epoch ms. */
export function timeMs(element: DerElement): number {
  const text = new TextDecoder('ascii').decode(element.content);
  let match: RegExpExecArray | null;
  if (element.tag === TAG.UTC_TIME && (match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(match[1]);
    return Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6]));
  }
  if (element.tag === TAG.GENERALIZED_TIME && (match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6]));
  }
  throw new DerError('not a DER time');
}

export function isTime(element: DerElement | undefined): boolean {
  return element?.tag === TAG.UTC_TIME || element?.tag === TAG.GENERALIZED_TIME;
}

/** The directory string types of X.520, decoded; undefined for another type. */
export function stringValue(element: DerElement): string | undefined {
  const bytes = element.content;
  switch (element.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x16: // IA5String
      return new TextDecoder('ascii').decode(bytes);
    case 0x14: // TeletexString: in practice Latin-1 (what OpenSSL assumes)
      return new TextDecoder('latin1').decode(bytes);
    case 0x1e: // BMPString: UTF-16BE
      return new TextDecoder('utf-16be').decode(bytes);
    case 0x1c: {
      // UniversalString: UTF-32BE
      let out = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) out += String.fromCodePoint(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
      return out;
    }
    default:
      return undefined;
  }
}

/** Every DER block of a PEM text with this label (CERTIFICATE, X509 CRL), in order. */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const pattern = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, 'g');
  for (const match of text.matchAll(pattern)) blocks.push(new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64')));
  return blocks;
}

/** How many BEGIN lines of any label a text has (to tell blocks that failed to parse from none at all). */
export function pemBeginCount(text: string): number {
  return (text.match(/-----BEGIN [A-Z0-9 ]+-----/g) ?? []).length;
}

// Client certificates from the Application Load Balancer's mutual TLS (auth.albMtls), mapped to
// clients by subject, SAN or serial (clients[].certificates). What the ALB sends (Elastic Load
// Balancing user guide, "Mutual authentication with TLS in Application Load Balancer", "HTTP headers"):
//   verify mode, the chain already checked against the listener's trust store:
//     X-Amzn-Mtls-Clientcert-Subject / -Issuer   RFC 2253 distinguished names
//     X-Amzn-Mtls-Clientcert-Serial-Number       the leaf's serial, hex
//     X-Amzn-Mtls-Clientcert-Validity            NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z
//     X-Amzn-Mtls-Clientcert-Leaf                the leaf, URL-encoded PEM (+=/ left unescaped)
//   passthrough mode, nothing checked by anyone:
//     X-Amzn-Mtls-Clientcert                     the chain the client sent, leaf first, URL-encoded PEM
// In verify mode the validity header is checked here too (an ALB may be told to ignore expiry), and
// the SANs are read from the leaf. In passthrough mode the chain is verified here: each certificate
// signed by the next up to a CA of caBundle (node:crypto X509Certificate.checkIssued + verify),
// intermediates must be CAs, every certificate within its validity, none revoked by a CRL of
// auth.albMtls.crl. Verified answers are remembered per header value until the earliest of the
// certificates' notAfter, the CRL's nextUpdate and five minutes.
import { X509Certificate } from 'node:crypto';
import type { CertificateRule, CompiledAlbMtls, CompiledAuth } from './directory.ts';
import { withMethod, type Identity } from './identity.ts';
import { verifiedCache } from './verified-cache.ts';
import { DerError, normalizeSerial, pemBeginCount, pemBlocks } from './der.ts';
import { formatDistinguishedName, nameKey, parseDistinguishedName, type DistinguishedName } from './distinguished-name.ts';
import { certificateFields, sanKey, type CertificateFields } from './x509.ts';
import { Unauthenticated } from '../errors.ts';

/** Lower case: Headers.get is case-insensitive, and headers.ts matches names in lower case. */
export const MTLS_HEADERS = {
  subject: 'x-amzn-mtls-clientcert-subject',
  issuer: 'x-amzn-mtls-clientcert-issuer',
  serial: 'x-amzn-mtls-clientcert-serial-number',
  validity: 'x-amzn-mtls-clientcert-validity',
  leaf: 'x-amzn-mtls-clientcert-leaf',
  chain: 'x-amzn-mtls-clientcert',
} as const;

const REMEMBER_AT_MOST_MS = 5 * 60_000;
const MAX_CHAIN = 8;
const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

export interface MtlsVerifier {
  /** The client a certificate header names; undefined when the request carries no certificate of this mode. */
  verify(headers: Headers, nowMs: number): Identity | undefined;
}

/** What a certificate is matched on, whichever mode it came through. */
interface Presented {
  subject: DistinguishedName;
  issuer: DistinguishedName;
  serial: string;
  subjectAltNames: ReadonlyArray<string>;
}

export function mtlsVerifier(auth: CompiledAuth, mtls: CompiledAlbMtls): MtlsVerifier {
  const refuse = (detail: string) => new Unauthenticated(auth.challenge, `alb-mtls: ${detail}`);
  const remembered = verifiedCache<Identity>(1000);
  const read = mtls.mode === 'verify' ? verifyModeCertificate : passthroughCertificate;

  return {
    verify(headers, nowMs) {
      const key = mtls.mode === 'verify' ? verifyModeKey(headers) : headers.get(MTLS_HEADERS.chain);
      if (key === null) return undefined;
      const known = remembered.get(key, nowMs);
      if (known) return known;
      const { presented, validUntilMs } = read(headers, nowMs, mtls, refuse);
      const identity = withMethod(clientOf(presented, mtls, refuse), 'alb-mtls');
      remembered.set(key, identity, Math.min(validUntilMs, nowMs + REMEMBER_AT_MOST_MS));
      return identity;
    },
  };
}

/** The verify-mode headers as one cache key; null when none is present. */
function verifyModeKey(headers: Headers): string | null {
  const values = [MTLS_HEADERS.subject, MTLS_HEADERS.issuer, MTLS_HEADERS.serial, MTLS_HEADERS.validity, MTLS_HEADERS.leaf].map((name) => headers.get(name));
  return values.every((value) => value === null) ? null : values.map((value) => value ?? '').join('\n');
}

type Refuse = (detail: string) => Unauthenticated;

function verifyModeCertificate(headers: Headers, nowMs: number, mtls: CompiledAlbMtls, refuse: Refuse): { presented: Presented; validUntilMs: number } {
  const get = (name: string) => headers.get(name)?.trim() || undefined;
  const missing = (['subject', 'issuer', 'serial', 'validity'] as const).filter((part) => get(MTLS_HEADERS[part]) === undefined);
  if (missing.length) throw refuse(`incomplete certificate headers (no ${missing.map((part) => MTLS_HEADERS[part]).join(', ')})`);
  const validity = /^NotBefore=([^;]+);NotAfter=([^;]+)$/.exec(get(MTLS_HEADERS.validity)!.replace(/\s+/g, ''));
  if (!validity || !ISO_SECONDS.test(validity[1]!) || !ISO_SECONDS.test(validity[2]!)) throw refuse('malformed validity header (NotBefore=ISO8601;NotAfter=ISO8601)');
  const notBeforeMs = Date.parse(validity[1]!);
  const notAfterMs = Date.parse(validity[2]!);
  const subject = parseDistinguishedName(get(MTLS_HEADERS.subject)!);
  const issuer = parseDistinguishedName(get(MTLS_HEADERS.issuer)!);
  if (!subject || !issuer) throw refuse('malformed subject or issuer header (not an RFC 2253 name)');
  const serial = get(MTLS_HEADERS.serial)!;
  if (!/^[0-9A-Fa-f:]+$/.test(serial)) throw refuse('malformed serial number header');
  const presented: Presented = { subject, issuer, serial: normalizeSerial(serial), subjectAltNames: [] };
  checkValidity(formatDistinguishedName(subject), notBeforeMs, notAfterMs, nowMs, mtls.clockSkewMs, refuse);

  const leafHeader = get(MTLS_HEADERS.leaf);
  if (leafHeader !== undefined) {
    // The SANs are only in the leaf; it must be the certificate the other headers describe.
    const [leaf] = decodeChain(leafHeader, refuse);
    if (!leaf || leaf.fields.serial !== presented.serial || nameKey(leaf.fields.subject) !== nameKey(subject) || nameKey(leaf.fields.issuer) !== nameKey(issuer)) {
      throw refuse('the leaf header is not the certificate the subject, issuer and serial headers describe');
    }
    return { presented: { ...presented, subjectAltNames: leaf.fields.subjectAltNames }, validUntilMs: notAfterMs };
  }
  return { presented, validUntilMs: notAfterMs };
}

interface Decoded {
  certificate: X509Certificate;
  fields: CertificateFields;
}

/** URL-encoded PEM (the ALB leaves +=/ unescaped, so decodeURIComponent, never form decoding). */
function decodeChain(value: string, refuse: Refuse): Decoded[] {
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch {
    throw refuse('malformed certificate header (bad URL encoding)');
  }
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  // Nothing but certificates: two header values joined by a comma (one the client's) are refused.
  if (blocks.length === 0 || blocks.length !== pemBeginCount(pem) || !onlyPem(pem)) throw refuse('malformed certificate header (not PEM certificates alone)');
  if (blocks.length > MAX_CHAIN) throw refuse(`a chain of ${blocks.length} certificates (at most ${MAX_CHAIN})`);
  return blocks.map((der) => {
    try {
      return { certificate: new X509Certificate(der), fields: certificateFields(der) };
    } catch (error) {
      throw refuse(`malformed certificate header (a certificate cannot be read${error instanceof DerError ? `: ${error.message}` : ''})`);
    }
  });
}

function passthroughCertificate(headers: Headers, nowMs: number, mtls: CompiledAlbMtls, refuse: Refuse): { presented: Presented; validUntilMs: number } {
  const chain = decodeChain(headers.get(MTLS_HEADERS.chain)!, refuse);
  const leaf = chain[0]!;
  const leafName = formatDistinguishedName(leaf.fields.subject);
  // From the leaf up: each certificate issued by a CA of the bundle (done), or by a CA certificate
  // the client sent along (an intermediate), at most MAX_CHAIN steps.
  const path: Decoded[] = [leaf];
  let anchor: X509Certificate | undefined;
  for (let current = leaf; path.length <= MAX_CHAIN; ) {
    anchor = mtls.anchors.find((ca) => issuedBy(current.certificate, ca));
    if (anchor) break;
    const next = chain.find((candidate) => !path.includes(candidate) && candidate.certificate.ca && issuedBy(current.certificate, candidate.certificate));
    if (!next) throw refuse(`certificate ${leafName} is not issued by a trusted CA (issuer ${formatDistinguishedName(current.fields.issuer)}; not in caBundle)`);
    path.push(next);
    current = next;
  }
  if (!anchor) throw refuse(`certificate ${leafName}: no trusted CA within ${MAX_CHAIN} certificates`);
  const anchorFields = certificateFields(new Uint8Array(anchor.raw));

  let validUntilMs = anchorFields.notAfterMs;
  checkValidity(`CA ${formatDistinguishedName(anchorFields.subject)}`, anchorFields.notBeforeMs, anchorFields.notAfterMs, nowMs, mtls.clockSkewMs, refuse);
  for (const [i, { fields }] of path.entries()) {
    const label = i === 0 ? leafName : `intermediate ${formatDistinguishedName(fields.subject)}`;
    checkValidity(label, fields.notBeforeMs, fields.notAfterMs, nowMs, mtls.clockSkewMs, refuse);
    validUntilMs = Math.min(validUntilMs, fields.notAfterMs);
    const crl = mtls.crls.get(nameKey(fields.issuer));
    if (!crl) continue;
    if (crl.nextUpdateMs !== undefined && crl.nextUpdateMs <= nowMs) {
      throw refuse(`the CRL of ${formatDistinguishedName(fields.issuer)} is past its nextUpdate (${new Date(crl.nextUpdateMs).toISOString()}): load a fresh one`);
    }
    if (crl.revoked.has(fields.serial)) throw refuse(`certificate ${label} (serial ${fields.serial}) is revoked by its CA's CRL`);
    if (crl.nextUpdateMs !== undefined) validUntilMs = Math.min(validUntilMs, crl.nextUpdateMs);
  }
  return { presented: leaf.fields, validUntilMs };
}

function onlyPem(text: string): boolean {
  return text.replace(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/g, '').trim() === '';
}

/** `ca` issued `certificate`: names and key identifiers agree (checkIssued), and the signature verifies. */
function issuedBy(certificate: X509Certificate, ca: X509Certificate): boolean {
  try {
    return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
  } catch {
    return false;
  }
}

function checkValidity(label: string, notBeforeMs: number, notAfterMs: number, nowMs: number, skewMs: number, refuse: Refuse): void {
  if (nowMs + skewMs < notBeforeMs) throw refuse(`certificate ${label} is not valid before ${new Date(notBeforeMs).toISOString()}`);
  if (nowMs - skewMs > notAfterMs) throw refuse(`certificate ${label} expired on ${new Date(notAfterMs).toISOString()}`);
}

/** The one client whose certificate rules match; a certificate two clients claim is refused. */
function clientOf(presented: Presented, mtls: CompiledAlbMtls, refuse: Refuse) {
  const issuerKey = nameKey(presented.issuer);
  const candidates: CertificateRule[] = [
    ...(mtls.rules.get(`subject\n${nameKey(presented.subject)}`) ?? []),
    ...presented.subjectAltNames.flatMap((san) => mtls.rules.get(`san\n${sanKey(san)}`) ?? []),
    ...(mtls.rules.get(`serial\n${presented.serial}`) ?? []),
  ].filter((rule) => rule.issuerKey === undefined || rule.issuerKey === issuerKey);
  const clients = [...new Set(candidates.map((rule) => rule.client))];
  const described = `subject ${formatDistinguishedName(presented.subject)}, serial ${presented.serial}, issuer ${formatDistinguishedName(presented.issuer)}`;
  if (clients.length === 0) throw refuse(`no client has this certificate (${described})`);
  if (clients.length > 1) throw refuse(`the certificate matches clients ${clients.map((c) => c.id).join(' and ')} (${candidates.map((r) => r.text).join('; ')}); refused as ambiguous`);
  return clients[0]!;
}

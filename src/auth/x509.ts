// What the mTLS authenticator reads from a certificate and a CRL (RFC 5280), from their DER:
// subject, issuer, serial, validity and subject alternative names of a certificate; issuer,
// update times, revoked serials and the signature of a CRL. Signatures of certificates are checked
// by node:crypto's X509Certificate (auth/alb-mtls.ts); a CRL's here, with node:crypto's verify over
// the exact tbsCertList bytes.
import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { childrenOf, DerError, expectTag, integerHex, isTime, oidText, readOnly, TAG, timeMs, type DerElement } from './der.ts';
import { nameFromDer, type DistinguishedName } from './distinguished-name.ts';

export interface CertificateFields {
  serial: string;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBeforeMs: number;
  notAfterMs: number;
  /** `DNS:host`, `URI:spiffe://...`, `email:a@b`, `IP:10.0.0.1`: OpenSSL's prefixes. */
  subjectAltNames: string[];
}

const SUBJECT_ALT_NAME = '2.5.29.17';

/** RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
export function certificateFields(der: Uint8Array): CertificateFields {
  const [tbs] = childrenOf(expectTag(readOnly(der), TAG.SEQUENCE, 'certificate'));
  const fields = childrenOf(expectTag(tbs, TAG.SEQUENCE, 'tbsCertificate'));
  if (fields[0]?.tag === 0xa0) fields.shift(); // [0] EXPLICIT version
  const [serial, , issuer, validity, subject, , ...rest] = fields;
  const [notBefore, notAfter] = childrenOf(expectTag(validity, TAG.SEQUENCE, 'validity'));
  if (!isTime(notBefore) || !isTime(notAfter)) throw new DerError('validity: expected two times');
  const extensions = rest.find((element) => element.tag === 0xa3); // [3] EXPLICIT Extensions
  return {
    serial: integerHex(expectTag(serial, TAG.INTEGER, 'serial number')),
    issuer: nameFromDer(expectTag(issuer, TAG.SEQUENCE, 'issuer')),
    subject: nameFromDer(expectTag(subject, TAG.SEQUENCE, 'subject')),
    notBeforeMs: timeMs(notBefore!),
    notAfterMs: timeMs(notAfter!),
    subjectAltNames: extensions ? alternativeNames(extensions) : [],
  };
}

function alternativeNames(extensions: DerElement): string[] {
  const [list] = childrenOf(extensions);
  for (const extension of childrenOf(expectTag(list, TAG.SEQUENCE, 'extensions'))) {
    const parts = childrenOf(expectTag(extension, TAG.SEQUENCE, 'extension'));
    if (oidText(parts[0]!) !== SUBJECT_ALT_NAME) continue;
    const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extension value');
    // GeneralName (RFC 5280 §4.2.1.6), implicitly tagged: [1] rfc822Name, [2] dNSName, [6] URI, [7] iPAddress.
    return childrenOf(expectTag(readOnly(value.content), TAG.SEQUENCE, 'subjectAltName')).flatMap((name) => {
      const text = () => new TextDecoder('ascii').decode(name.content);
      switch (name.tag) {
        case 0x81:
          return [`email:${text()}`];
        case 0x82:
          return [`DNS:${text()}`];
        case 0x86:
          return [`URI:${text()}`];
        case 0x87:
          return name.content.length === 4 ? [`IP:${[...name.content].join('.')}`] : name.content.length === 16 ? [`IP:${ipv6(name.content)}`] : [];
        default:
          return [];
      }
    });
  }
  return [];
}

/** `DNS:` names compare without case (RFC 4343); the others exactly. */
export function sanKey(san: string): string {
  return /^DNS:/i.test(san) ? `DNS:${san.slice(4).toLowerCase()}` : san;
}

function ipv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

export interface RevocationList {
  issuer: DistinguishedName;
  thisUpdateMs: number;
  nextUpdateMs?: number;
  /** Serials (normalized hex) of the revoked certificates. */
  revoked: ReadonlySet<string>;
  /** What the signature covers, its algorithm and value. */
  signed: Uint8Array;
  algorithm: string;
  signature: Uint8Array;
}

/** RFC 5280 §5.1: CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }. */
export function revocationList(der: Uint8Array): RevocationList {
  const [tbs, algorithm, signature] = childrenOf(expectTag(readOnly(der), TAG.SEQUENCE, 'CRL'));
  const fields = childrenOf(expectTag(tbs, TAG.SEQUENCE, 'tbsCertList'));
  if (fields[0]?.tag === TAG.INTEGER) fields.shift(); // version (v2)
  const [, issuer, thisUpdate, ...rest] = fields;
  if (!isTime(thisUpdate)) throw new DerError('thisUpdate: expected a time');
  const nextUpdate = isTime(rest[0]) ? rest.shift() : undefined;
  const revoked = new Set<string>();
  if (rest[0]?.tag === TAG.SEQUENCE) {
    for (const entry of childrenOf(rest[0])) revoked.add(integerHex(childrenOf(expectTag(entry, TAG.SEQUENCE, 'revoked certificate'))[0]!));
  }
  const bits = expectTag(signature, TAG.BIT_STRING, 'signature').content;
  if (bits[0] !== 0) throw new DerError('signature: unused bits');
  return {
    issuer: nameFromDer(expectTag(issuer, TAG.SEQUENCE, 'issuer')),
    thisUpdateMs: timeMs(thisUpdate!),
    ...(nextUpdate ? { nextUpdateMs: timeMs(nextUpdate) } : {}),
    revoked,
    signed: tbs!.encoded,
    algorithm: oidText(childrenOf(expectTag(algorithm, TAG.SEQUENCE, 'signature algorithm'))[0]!),
    signature: bits.subarray(1),
  };
}

// RFC 4055 / RFC 5758 / RFC 8410 signature algorithms → the hash node:crypto's verify takes (null: EdDSA).
const CRL_ALGORITHMS: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256 (the signature is DER, node's default encoding)
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null, // Ed25519
};

/** Whether `key` signed the CRL; undefined when its algorithm is not one of the above (e.g. RSA-PSS). */
export function crlSignedBy(crl: RevocationList, key: KeyObject): boolean | undefined {
  const hash = CRL_ALGORITHMS[crl.algorithm];
  if (hash === undefined) return undefined;
  try {
    return verifySignature(hash, crl.signed, key, crl.signature);
  } catch {
    return false;
  }
}

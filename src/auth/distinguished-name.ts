// Distinguished names (a certificate's subject and issuer) in one comparable form, whether they
// come from a certificate's DER, from the ALB's X-Amzn-Mtls-Clientcert-Subject / -Issuer headers
// (RFC 2253 strings) or from the rules (written the way `openssl x509 -noout -subject -nameopt
// RFC2253` prints them). RFC 2253 orders the RDNs from the most specific (CN) to the least (C),
// the reverse of the DER; `+` joins the attributes of one RDN; `\` escapes (RFC 2253 §2.4).
// Attribute types compare without case and by OID; values compare exactly.
import { childrenOf, DerError, expectTag, oidText, stringValue, TAG, type DerElement } from './der.ts';

/** An attribute type's short name (RFC 4514 §3 plus emailAddress, as OpenSSL prints it), by OID. */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};
const OID_BY_NAME = new Map(Object.entries(SHORT_NAMES).map(([oid, name]) => [name.toUpperCase(), oid]));
OID_BY_NAME.set('E', '1.2.840.113549.1.9.1');
OID_BY_NAME.set('SN', '2.5.4.4');
OID_BY_NAME.set('GN', '2.5.4.42');

/** One attribute: its type as an OID, its value as text (or `#hex` of the DER for a non-string value). */
export type Attribute = readonly [oid: string, value: string];
/** RDNs from the most specific to the least (RFC 2253 order); each RDN's attributes sorted. */
export type DistinguishedName = ReadonlyArray<ReadonlyArray<Attribute>>;

/** A name from a certificate or CRL (X.501 Name: SEQUENCE OF SET OF AttributeTypeAndValue). */
export function nameFromDer(element: DerElement): DistinguishedName {
  const rdns = childrenOf(expectTag(element, TAG.SEQUENCE, 'name')).map((set) =>
    childrenOf(expectTag(set, TAG.SET, 'relative distinguished name')).map((pair): Attribute => {
      const [type, value] = childrenOf(expectTag(pair, TAG.SEQUENCE, 'attribute'));
      if (!type || !value) throw new DerError('attribute without a type or value');
      return [oidText(type), stringValue(value) ?? `#${Buffer.from(value.encoded).toString('hex')}`];
    }),
  );
  return rdns.reverse().map(sortRdn);
}

/**
 * An RFC 2253 string (also tolerated: spaces around separators, `;` between RDNs, quoted values
 * as in RFC 1779), or undefined when it is not one.
 */
export function parseDistinguishedName(text: string): DistinguishedName | undefined {
  const rdns: Attribute[][] = [];
  let rdn: Attribute[] = [];
  let i = 0;
  const skipSpaces = () => {
    while (text[i] === ' ') i++;
  };
  if (text.trim() === '') return undefined;
  while (i <= text.length) {
    skipSpaces();
    const equals = text.indexOf('=', i);
    if (equals < 0) return undefined;
    const oid = typeOid(text.slice(i, equals).trim());
    if (!oid) return undefined;
    i = equals + 1;
    skipSpaces();
    const value = readValue();
    if (value === undefined) return undefined;
    rdn.push([oid, value]);
    skipSpaces();
    const separator = text[i];
    if (separator === '+') {
      i++;
      continue;
    }
    rdns.push(rdn);
    rdn = [];
    if (separator === undefined) break;
    if (separator !== ',' && separator !== ';') return undefined;
    i++;
  }
  return rdns.map(sortRdn);

  function readValue(): string | undefined {
    if (text[i] === '#') {
      const match = /^#([0-9A-Fa-f]{2})+/.exec(text.slice(i));
      if (!match) return undefined;
      i += match[0].length;
      return match[0].toLowerCase();
    }
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      const quoted = text.slice(i + 1, end);
      i = end + 1;
      return quoted;
    }
    const bytes: number[] = [];
    let trailingSpaces = 0;
    while (i < text.length && !',;+'.includes(text[i]!)) {
      const char = text[i]!;
      if (char === '\\') {
        const pair = /^[0-9A-Fa-f]{2}/.exec(text.slice(i + 1, i + 3));
        if (pair) {
          bytes.push(parseInt(pair[0], 16));
          i += 3;
        } else if (i + 1 < text.length) {
          bytes.push(...new TextEncoder().encode(text[i + 1]!));
          i += 2;
        } else return undefined;
        trailingSpaces = 0;
        continue;
      }
      bytes.push(...new TextEncoder().encode(char));
      trailingSpaces = char === ' ' ? trailingSpaces + 1 : 0;
      i++;
    }
    // Unescaped spaces before a separator are not part of the value (RFC 2253 §4).
    const kept = bytes.slice(0, bytes.length - trailingSpaces);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(kept));
    } catch {
      return undefined;
    }
  }
}

/** One string per name, equal exactly when the names are: map keys and comparisons. */
export function nameKey(name: DistinguishedName): string {
  return JSON.stringify(name);
}

/** RFC 2253 text, for logs, explain and the audit reason. */
export function formatDistinguishedName(name: DistinguishedName): string {
  return name.map((rdn) => rdn.map(([oid, value]) => `${SHORT_NAMES[oid] ?? oid}=${value.startsWith('#') ? value : escapeValue(value)}`).join('+')).join(',');
}

function escapeValue(value: string): string {
  return value
    .replace(/[,+"\\<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    .replace(/[\u0000-\u001f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function typeOid(type: string): string | undefined {
  const dotted = /^(?:OID\.)?([0-2](?:\.\d+)+)$/i.exec(type);
  if (dotted) return dotted[1];
  return OID_BY_NAME.get(type.toUpperCase());
}

function sortRdn(rdn: ReadonlyArray<Attribute>): Attribute[] {
  return [...rdn].sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
}

// Passwords for HTTP Basic, stored as scrypt hashes in the PHC string format:
//   $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
// scrypt (node:crypto, which Bun and Deno both implement natively) is slow and memory-hard on
// purpose: a leaked rules file does not give the passwords away. The same cost makes it unfit to run
// on every request, so callers cache successful verifications (basic.ts).
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/**
 * One of OWASP's scrypt settings: N=2^15, r=8, p=3. 32 MiB per verification (memory-hard), which
 * with basic.ts's limit on concurrent verifications keeps a flood of wrong passwords from
 * exhausting the host's memory.
 */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 3 };
/** Below this cost `check` warns that the hash is weak. */
export const MIN_SCRYPT_LN = 14;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength = KEY_LENGTH): Promise<Buffer> {
  const N = 2 ** params.ln;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLength, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

/** Parses a stored hash, or says what is wrong with it (for `check`). */
export function parsePasswordHash(text: string): { ok: true; value: ParsedHash } | { ok: false; problem: string } {
  const match = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/.exec(text.trim());
  if (!match) return { ok: false, problem: 'not a password hash from `hash-password` ($scrypt$ln=..,r=..,p=..$salt$hash); never the password itself' };
  const params = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.p < 1 || params.p > 4) {
    return { ok: false, problem: 'scrypt parameters out of range (ln 10..20, r ≥ 1, p 1..4)' };
  }
  return { ok: true, value: { params, salt: Buffer.from(match[4]!, 'base64'), key: Buffer.from(match[5]!, 'base64') } };
}

/** Constant-time comparison of the derived key with the stored one. */
export async function verifyPassword(password: string, stored: ParsedHash): Promise<boolean> {
  const key = await derive(password, stored.salt, stored.params, stored.key.length);
  return key.length === stored.key.length && timingSafeEqual(key, stored.key);
}

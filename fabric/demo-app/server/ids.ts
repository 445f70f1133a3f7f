import { randomBytes } from 'node:crypto';

/** Mattermost's id alphabet (model.NewId: base32 with this encoding, 26 characters, no padding). */
const ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** A new 26-character Mattermost-style id from 128 random bits. */
export function newId(): string {
  const bytes = randomBytes(16);
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Whether a path segment looks like a Mattermost id. */
export function isId(value: string): boolean {
  return /^[a-z0-9]{26}$/.test(value);
}

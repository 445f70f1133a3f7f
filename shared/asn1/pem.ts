/**
 * PEM (RFC 7468) ⇄ DER for the product's certificates and requests: base64 only, nothing parsed.
 */
import { DerError } from './der.ts';

type FromBase64 = (text: string) => Uint8Array;

/**
 * Base64 with any whitespace (line breaks of any length) → bytes. The engine's
 * `Uint8Array.fromBase64` where it has one (Chromium and Firefox since 2025; it skips ASCII
 * whitespace as `atob` does): a restarted worker decodes its kept PEM at every router connection,
 * and a loop over characters in code not yet compiled cost it milliseconds.
 */
export function base64ToBytes(base64: string, what: string): Uint8Array {
  const native = (Uint8Array as unknown as { fromBase64?: FromBase64 }).fromBase64;
  if (native) {
    try {
      return native(base64);
    } catch {
      throw new DerError(`${what}: not base64`);
    }
  }
  const text = base64.replace(/\s+/g, '');
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    throw new DerError(`${what}: not base64`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** DER → PEM with 64-character lines. */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const lines = bytesToBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of the first `label` block in `pem`. */
export function pemToDer(pem: string, label = 'CERTIFICATE'): Uint8Array {
  const body = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(
    pem,
  )?.[1];
  if (body === undefined) throw new DerError(`no PEM ${label} block`);
  return base64ToBytes(body, `PEM ${label}`);
}

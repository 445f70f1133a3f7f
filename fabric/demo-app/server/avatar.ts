import { createHash } from 'node:crypto';
import { encodePng } from './png.ts';

/** Side of the generated profile image, as Mattermost's default avatars. */
export const AVATAR_SIZE = 128;

/**
 * A default profile image for a user: a symmetric 5x5 pattern in a colour derived from the user id
 * on a light background (Mattermost draws the initial; a pattern needs no font).
 */
export function defaultAvatar(userId: string): Buffer {
  const hash = createHash('sha256').update(userId).digest();
  const hue = (hash[0]! / 255) * 360;
  const [r, g, b] = hslToRgb(hue, 0.55, 0.5);
  const data = new Uint8Array(AVATAR_SIZE * AVATAR_SIZE * 4);
  const cell = Math.floor(AVATAR_SIZE / 6);
  const margin = Math.floor((AVATAR_SIZE - cell * 5) / 2);
  for (let y = 0; y < AVATAR_SIZE; y++) {
    for (let x = 0; x < AVATAR_SIZE; x++) {
      const cx = Math.floor((x - margin) / cell);
      const cy = Math.floor((y - margin) / cell);
      let on = false;
      if (x >= margin && y >= margin && cx < 5 && cy < 5) {
        const col = cx < 3 ? cx : 4 - cx;
        on = (hash[1 + cy * 3 + col]! & 1) === 1;
      }
      const o = (y * AVATAR_SIZE + x) * 4;
      data[o] = on ? r : 240;
      data[o + 1] = on ? g : 240;
      data[o + 2] = on ? b : 244;
      data[o + 3] = 255;
    }
  }
  return encodePng({ width: AVATAR_SIZE, height: AVATAR_SIZE, data });
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    h < 60
      ? [c, x, 0]
      : h < 120
        ? [x, c, 0]
        : h < 180
          ? [0, c, x]
          : h < 240
            ? [0, x, c]
            : h < 300
              ? [x, 0, c]
              : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

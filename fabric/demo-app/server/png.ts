import { deflateSync, inflateSync } from 'node:zlib';

/** A decoded image, 8-bit RGBA, row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Images above this many pixels are not decoded (Mattermost's MaxImageResolution is similar). */
export const MAX_DECODE_PIXELS = 24_000_000;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Reads only the IHDR of a PNG: its size, or undefined when the bytes are not a PNG. */
export function pngSize(head: Uint8Array): { width: number; height: number } | undefined {
  if (head.length < 24 || !Buffer.from(head.subarray(0, 8)).equals(SIGNATURE)) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (String.fromCharCode(...head.subarray(12, 16)) !== 'IHDR') return undefined;
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a non-interlaced 8-bit PNG (grey, RGB, palette, grey+alpha, RGBA) into RGBA. Other
 * variants throw; the caller then simply offers no thumbnail.
 */
export function decodePng(file: Uint8Array): RgbaImage {
  const size = pngSize(file);
  if (!size) throw new Error('not a PNG');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let offset = 8;
  let depth = 0;
  let colorType = 0;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (offset + 8 <= file.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...file.subarray(offset + 4, offset + 8));
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      depth = body[8]!;
      colorType = body[9]!;
      interlace = body[12]!;
    } else if (type === 'PLTE') palette = body;
    else if (type === 'tRNS') transparency = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const { width, height } = size;
  if (depth !== 8 || interlace !== 0) throw new Error('unsupported PNG variant');
  if (width * height > MAX_DECODE_PIXELS || width === 0 || height === 0) {
    throw new Error('PNG too large');
  }
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  if (!channels || (colorType === 3 && !palette)) throw new Error('unsupported PNG colour type');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('truncated PNG');
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  let row = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[base + 1 + x]!;
      const a = x >= channels ? row[x - channels]! : 0;
      const b = prev[x]!;
      const c = x >= channels ? prev[x - channels]! : 0;
      let r: number;
      switch (filter) {
        case 0:
          r = v;
          break;
        case 1:
          r = v + a;
          break;
        case 2:
          r = v + b;
          break;
        case 3:
          r = v + ((a + b) >> 1);
          break;
        case 4:
          r = v + paeth(a, b, c);
          break;
        default:
          throw new Error('bad PNG filter');
      }
      row[x] = r & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const i = x * channels;
      if (colorType === 6) out.set(row.subarray(i, i + 4), o);
      else if (colorType === 2) {
        out[o] = row[i]!;
        out[o + 1] = row[i + 1]!;
        out[o + 2] = row[i + 2]!;
        out[o + 3] = 255;
      } else if (colorType === 0 || colorType === 4) {
        out[o] = out[o + 1] = out[o + 2] = row[i]!;
        out[o + 3] = colorType === 4 ? row[i + 1]! : 255;
      } else {
        const p = row[i]!;
        out[o] = palette![p * 3] ?? 0;
        out[o + 1] = palette![p * 3 + 1] ?? 0;
        out[o + 2] = palette![p * 3 + 2] ?? 0;
        out[o + 3] = transparency?.[p] ?? 255;
      }
    }
    [prev, row] = [row, prev];
  }
  return { width, height, data: out };
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Encodes RGBA as an 8-bit RGBA PNG (filter "none" on every row). */
export function encodePng(image: RgbaImage): Buffer {
  const { width, height, data } = image;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const stride = width * 4;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Resizes: each target pixel averages the source pixels it covers (box filter) when shrinking and
 * repeats the nearest one when enlarging.
 */
export function resizeImage(src: RgbaImage, width: number, height: number): RgbaImage {
  const out = new Uint8Array(width * height * 4);
  const sx = src.width / width;
  const sy = src.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.min(src.height, Math.floor((y + 1) * sy)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.min(src.width, Math.floor((x + 1) * sx)));
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let yy = y0; yy < y1; yy++) {
        let i = (yy * src.width + x0) * 4;
        for (let xx = x0; xx < x1; xx++, i += 4) {
          r += src.data[i]!;
          g += src.data[i + 1]!;
          b += src.data[i + 2]!;
          a += src.data[i + 3]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 4;
      out[o] = Math.round(r / n);
      out[o + 1] = Math.round(g / n);
      out[o + 2] = Math.round(b / n);
      out[o + 3] = Math.round(a / n);
    }
  }
  return { width, height, data: out };
}

/** Mattermost's thumbnail box (app/file.go: ThumbnailWidth x ThumbnailHeight). */
export const THUMBNAIL_WIDTH = 120;
export const THUMBNAIL_HEIGHT = 100;
/** Previews wider than this are scaled down to it (PreviewWidth). */
export const PREVIEW_WIDTH = 1920;

/**
 * Thumbnail size as Mattermost's GenerateThumbnail picks it (app/imaging/preview.go): an image
 * wider than tall is scaled to width 120, any other to height 100, keeping the aspect ratio
 * (rounded, at least 1 pixel) and scaling small images up: 800x600 and 60x40 give 120x90 and
 * 120x80, 130x120 gives 120x111, 300x800 gives 38x100.
 */
export function thumbnailSize(width: number, height: number): { width: number; height: number } {
  if (width > height) {
    return {
      width: THUMBNAIL_WIDTH,
      height: Math.max(1, Math.round((THUMBNAIL_WIDTH * height) / width)),
    };
  }
  return {
    width: Math.max(1, Math.round((THUMBNAIL_HEIGHT * width) / height)),
    height: THUMBNAIL_HEIGHT,
  };
}

/** Preview size (genPreview): at most {@link PREVIEW_WIDTH} wide, aspect ratio kept. */
export function previewSize(width: number, height: number): { width: number; height: number } {
  if (width <= PREVIEW_WIDTH) return { width, height };
  return {
    width: PREVIEW_WIDTH,
    height: Math.max(1, Math.round((PREVIEW_WIDTH * height) / width)),
  };
}

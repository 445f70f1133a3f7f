import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { AppError, invalidParam, notFound } from './http.ts';
import { isId, newId } from './ids.ts';
import { decodePng, encodePng, pngSize, previewSize, resizeImage, thumbnailSize } from './png.ts';
import { serveRange } from './range.ts';
import type { DemoStore, FileInfo } from './store.ts';

/** Default upload limit (Mattermost's MaxFileSize; the demo allows big files for the tests). */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024;
/** Files per upload request, as Mattermost's limit of 10 attachments per post. */
export const MAX_FILES_PER_UPLOAD = 10;
/** Images larger than this are stored without thumbnails (decoding needs the whole image). */
export const MAX_THUMBNAIL_SOURCE_BYTES = 32 * 1024 * 1024;

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  txt: 'text/plain; charset=utf-8',
  pdf: 'application/pdf',
  json: 'application/json',
  zip: 'application/zip',
  bin: 'application/octet-stream',
};

/** Types a browser may show inline (web.MediaContentTypes); everything else downloads. */
const INLINE_TYPES = [
  'image/jpeg',
  'image/png',
  'image/bmp',
  'image/gif',
  'image/tiff',
  'image/webp',
  'video/avi',
  'video/mpeg',
  'video/mp4',
  'audio/mpeg',
  'audio/wav',
];
/** Types served as text/plain instead (web.UnsafeContentTypes). */
const UNSAFE_TYPES = [
  'application/javascript',
  'application/ecmascript',
  'text/javascript',
  'text/ecmascript',
  'application/x-javascript',
  'text/html',
];
/** Largest urlencoded body Go's ParseForm reads (maxFormSize). */
const MAX_FORM_BYTES = 10 * 1024 * 1024;

export class FileStorage {
  constructor(
    private readonly root: string,
    private readonly store: DemoStore,
    private readonly maxFileBytes: number,
  ) {}

  private dir(id: string): string {
    return join(this.root, 'files', id);
  }

  pathOf(id: string, variant: 'data' | 'thumb' | 'preview' = 'data'): string {
    return join(this.dir(id), variant === 'data' ? 'data' : `${variant}.png`);
  }

  /**
   * POST /api/v4/files (api4/file.go uploadFileStream). Multipart: `channel_id` (field or query)
   * before the files and one `client_ids` per file; each file part is piped to disk as it arrives,
   * so memory stays flat whatever the size; backpressure from the disk pauses the request. Any
   * other body is one file named by `?channel_id=&filename=` (uploadFileSimple).
   */
  async upload(req: IncomingMessage, url: URL, userId: string) {
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (req.headers['content-length'] === '0') {
      throw new AppError(
        'api.file.upload_file.read_request.app_error',
        'Unable to upload file(s). Error reading or parsing request data.',
        400,
      );
    }
    if (!type.startsWith('multipart/form-data')) return this.uploadSimple(req, url, userId);
    let channelId = url.searchParams.get('channel_id') ?? '';
    const clientIds: string[] = [];
    const infos: FileInfo[] = [];
    const writes: Promise<void>[] = [];
    let failure: AppError | undefined;
    const fail = (err: AppError) => {
      failure ??= err;
    };

    const parser = busboy({
      headers: req.headers,
      limits: {
        fileSize: this.maxFileBytes,
        files: MAX_FILES_PER_UPLOAD,
        fields: 100,
        fieldSize: 4096,
      },
    });
    parser.on('field', (name, value) => {
      if (name === 'channel_id') channelId = value;
      else if (name === 'client_ids') clientIds.push(value);
    });
    parser.on('file', (_name, stream: Readable, meta) => {
      if (failure) {
        stream.resume();
        return;
      }
      if (!channelId || !this.store.channels.has(channelId)) {
        fail(invalidParam('channel_id'));
        stream.resume();
        return;
      }
      if (!this.store.isChannelMember(userId, channelId)) {
        fail(
          new AppError(
            'api.context.permissions.app_error',
            'You do not have the appropriate permissions.',
            403,
          ),
        );
        stream.resume();
        return;
      }
      const info = this.newInfo(userId, channelId, meta.filename ?? '', meta.mimeType);
      const name = info.name;
      infos.push(info);
      writes.push(
        (async () => {
          await this.write(info, stream);
          if ((stream as Readable & { truncated?: boolean }).truncated) {
            fail(
              new AppError(
                'api.file.upload_file.too_large_detailed.app_error',
                `Unable to upload file ${name}. ${this.maxFileBytes} bytes is the maximum size.`,
                413,
              ),
            );
          }
        })(),
      );
    });

    try {
      await pipeline(req, parser);
    } catch {
      fail(
        new AppError(
          'api.file.upload_file.read_request.app_error',
          'Unable to read the upload.',
          400,
        ),
      );
    }
    const settled = await Promise.allSettled(writes);
    if (!failure && settled.some((s) => s.status === 'rejected')) {
      fail(
        new AppError('api.file.upload_file.storage.app_error', 'Unable to store the file.', 500),
      );
    }
    if (!failure && clientIds.length > 0 && clientIds.length !== infos.length) {
      fail(
        new AppError(
          'api.file.upload_file.incorrect_number_of_client_ids.app_error',
          'Unable to upload files. The number of client ids does not match the number of files.',
          400,
        ),
      );
    }
    if (failure) {
      await Promise.all(infos.map((i) => rm(this.dir(i.id), { recursive: true, force: true })));
      throw failure;
    }
    for (const info of infos) {
      await this.makeImageVariants(info);
      this.store.files.set(info.id, info);
    }
    return { file_infos: infos, client_ids: clientIds };
  }

  /**
   * A raw body upload. Go's ParseForm runs first: a body typed `application/x-www-form-urlencoded`
   * is read as a form (400 if it is not one or is over 10 MiB) and the file is what is left: nothing.
   */
  private async uploadSimple(req: IncomingMessage, url: URL, userId: string) {
    const channelId = url.searchParams.get('channel_id') ?? '';
    const filename = url.searchParams.get('filename') ?? '';
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    let body: Readable = req;
    if (type.startsWith('application/x-www-form-urlencoded')) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size <= MAX_FORM_BYTES) chunks.push(chunk);
      }
      if (size > MAX_FORM_BYTES || !isFormBody(Buffer.concat(chunks).toString('latin1'))) {
        throw new AppError(
          'api.file.upload_file.read_request.app_error',
          'Unable to upload file(s). Error reading or parsing request data.',
          400,
        );
      }
      body = Readable.from([]);
    }
    if (!isId(channelId)) throw invalidParam('channel_id');
    if (!filename) throw invalidParam('filename');
    if (!this.store.channels.has(channelId) || !this.store.isChannelMember(userId, channelId)) {
      throw new AppError(
        'api.context.permissions.app_error',
        'You do not have the appropriate permissions.',
        403,
      );
    }
    const info = this.newInfo(userId, channelId, filename, 'application/octet-stream');
    try {
      await this.write(info, body);
    } catch {
      await rm(this.dir(info.id), { recursive: true, force: true });
      throw new AppError(
        'api.file.upload_file.read_request.app_error',
        'Unable to upload file(s). Error reading or parsing request data.',
        400,
      );
    }
    if (info.size > this.maxFileBytes) {
      await rm(this.dir(info.id), { recursive: true, force: true });
      throw new AppError(
        'api.file.upload_file.too_large_detailed.app_error',
        `Unable to upload file ${info.name}. ${this.maxFileBytes} bytes is the maximum size.`,
        413,
      );
    }
    await this.makeImageVariants(info);
    this.store.files.set(info.id, info);
    const clientId = url.searchParams.get('client_id');
    return { file_infos: [info], client_ids: clientId ? [clientId] : [] };
  }

  private newInfo(userId: string, channelId: string, filename: string, partType: string): FileInfo {
    const name = (filename || 'file').replace(/[/\\]/g, '_').slice(0, 255);
    const dot = name.lastIndexOf('.');
    const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
    const now = Date.now();
    return {
      id: newId(),
      user_id: userId,
      channel_id: channelId,
      post_id: '',
      create_at: now,
      update_at: now,
      delete_at: 0,
      name,
      extension,
      size: 0,
      mime_type: MIME_BY_EXTENSION[extension] ?? (partType || 'application/octet-stream'),
      width: 0,
      height: 0,
      has_preview_image: false,
      mini_preview: null,
      archived: false,
    };
  }

  /** Pipes `source` to the file's data on disk, counting its bytes into `info.size`. */
  private async write(info: FileInfo, source: Readable): Promise<void> {
    // The source stays paused until piped, so nothing is lost while the folder is made.
    await mkdir(this.dir(info.id), { recursive: true });
    const count = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        info.size += chunk.length;
        yield chunk;
      }
    };
    await pipeline(source, count, createWriteStream(this.pathOf(info.id)));
  }

  /** Fills width/height for images and writes thumbnail and preview for decodable PNGs. */
  private async makeImageVariants(info: FileInfo): Promise<void> {
    if (!info.mime_type.startsWith('image/')) return;
    const handle = await open(this.pathOf(info.id), 'r');
    const head = new Uint8Array(32);
    try {
      await handle.read(head, 0, 32, 0);
    } finally {
      await handle.close();
    }
    const size = pngSize(head);
    if (!size) return;
    info.width = size.width;
    info.height = size.height;
    if (info.size > MAX_THUMBNAIL_SOURCE_BYTES) return;
    try {
      const image = decodePng(await readFile(this.pathOf(info.id)));
      const t = thumbnailSize(image.width, image.height);
      const p = previewSize(image.width, image.height);
      const same = (d: { width: number; height: number }) =>
        d.width === image.width && d.height === image.height;
      const thumb = same(t) ? image : resizeImage(image, t.width, t.height);
      const preview = same(p) ? image : resizeImage(image, p.width, p.height);
      await writeFile(this.pathOf(info.id, 'thumb'), encodePng(thumb));
      await writeFile(this.pathOf(info.id, 'preview'), encodePng(preview));
      info.has_preview_image = true;
    } catch {
      // An image we cannot decode is still a file; it just has no thumbnail, as in Mattermost.
    }
  }

  /** The file's info if it exists and the user may read it. */
  readable(id: string, userId: string): FileInfo {
    const info = isId(id) ? this.store.files.get(id) : undefined;
    if (!info || info.delete_at) throw notFound('file');
    if (!this.store.isChannelMember(userId, info.channel_id)) {
      throw new AppError(
        'api.context.permissions.app_error',
        'You do not have the appropriate permissions.',
        403,
      );
    }
    return info;
  }

  /** GET /api/v4/files/{id}[/thumbnail|/preview]: web.WriteFileResponse + http.ServeContent. */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    info: FileInfo,
    variant: 'data' | 'thumb' | 'preview',
  ): Promise<void> {
    if (variant !== 'data' && !info.has_preview_image) {
      throw new AppError(
        variant === 'thumb'
          ? 'api.file.get_file_thumbnail.no_thumbnail.app_error'
          : 'api.file.get_file_preview.no_preview.app_error',
        variant === 'thumb'
          ? "File doesn't have a thumbnail image."
          : "File doesn't have a preview image.",
        400,
      );
    }
    const path = this.pathOf(info.id, variant);
    const stats = await stat(path);
    // Mattermost names every thumbnail and preview image/jpeg, even those it keeps as PNG.
    let type = variant === 'data' ? info.mime_type : 'image/jpeg';
    if (UNSAFE_TYPES.some((t) => type.startsWith(t))) type = 'text/plain';
    const forceDownload =
      url.searchParams.get('download') === '1' || url.searchParams.get('download') === 'true';
    const inline = !forceDownload && INLINE_TYPES.some((t) => type.startsWith(t));
    const encoded = encodeURIComponent(info.name);
    res.setHeader('Cache-Control', 'private, max-age=86400');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Type', type);
    res.setHeader(
      'Content-Disposition',
      `${inline ? 'inline' : 'attachment'};filename="${encoded}"; filename*=UTF-8''${encoded}`,
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Security-Policy', "Frame-ancestors 'none'");
    serveRange(req, res, path, stats.size, stats.mtime);
  }
}

/**
 * Whether Go's url.ParseQuery accepts `body`: no `;` in a pair and every `%` followed by two hex
 * digits (in keys and values alike).
 */
export function isFormBody(body: string): boolean {
  for (const pair of body.split('&')) {
    if (pair.includes(';')) return false;
    if (/%(?![0-9a-fA-F]{2})/.test(pair)) return false;
  }
  return true;
}

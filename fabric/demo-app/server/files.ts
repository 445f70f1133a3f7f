import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
  txt: 'text/plain',
  pdf: 'application/pdf',
  json: 'application/json',
  zip: 'application/zip',
  bin: 'application/octet-stream',
};

/** Types a browser may show inline (web.MediaContentTypes); everything else downloads. */
const INLINE_TYPES = ['image/', 'video/', 'audio/', 'application/pdf'];
/** Types that must never be rendered as such from our origin (served as text/plain). */
const UNSAFE_TYPES = [
  'application/javascript',
  'application/ecmascript',
  'text/javascript',
  'text/html',
  'image/svg+xml',
];

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
   * POST /api/v4/files: multipart with `channel_id` (field or query) before the files and one
   * `client_ids` per file. Each file part is piped to disk as it arrives, so memory stays flat
   * whatever the size; backpressure from the disk pauses the request.
   */
  async upload(req: IncomingMessage, url: URL, userId: string) {
    const type = req.headers['content-type'] ?? '';
    if (!type.toLowerCase().startsWith('multipart/form-data')) {
      throw new AppError(
        'api.file.upload_file.incorrect_number_of_files.app_error',
        'Unable to upload files. Expected multipart/form-data.',
        400,
      );
    }
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
      const id = newId();
      const name = (meta.filename || 'file').replace(/[/\\]/g, '_').slice(0, 255);
      const dot = name.lastIndexOf('.');
      const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
      const now = Date.now();
      const info: FileInfo = {
        id,
        user_id: userId,
        channel_id: channelId,
        post_id: '',
        create_at: now,
        update_at: now,
        delete_at: 0,
        name,
        extension,
        size: 0,
        mime_type: MIME_BY_EXTENSION[extension] ?? (meta.mimeType || 'application/octet-stream'),
        width: 0,
        height: 0,
        has_preview_image: false,
        mini_preview: null,
        archived: false,
      };
      infos.push(info);
      writes.push(
        (async () => {
          // The part stays paused until piped, so nothing is lost while the folder is made.
          await mkdir(this.dir(id), { recursive: true });
          const count = async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              info.size += chunk.length;
              yield chunk;
            }
          };
          await pipeline(stream, count, createWriteStream(this.pathOf(id)));
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
    if (!failure && infos.length === 0) {
      fail(
        new AppError(
          'api.file.upload_file.incorrect_number_of_files.app_error',
          'Unable to upload files. Incorrect number of files specified.',
          400,
        ),
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
      const thumb = t.width === image.width ? image : resizeImage(image, t.width, t.height);
      const preview = p.width === image.width ? image : resizeImage(image, p.width, p.height);
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
        "File doesn't have a preview image.",
        400,
      );
    }
    const path = this.pathOf(info.id, variant);
    const stats = await stat(path);
    let type = variant === 'data' ? info.mime_type : 'image/png';
    if (UNSAFE_TYPES.some((t) => type.startsWith(t))) type = 'text/plain';
    const forceDownload =
      url.searchParams.get('download') === '1' || url.searchParams.get('download') === 'true';
    const inline = !forceDownload && INLINE_TYPES.some((t) => type.startsWith(t));
    const encoded = encodeURIComponent(info.name);
    res.setHeader('Cache-Control', 'private, no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Type', type);
    res.setHeader(
      'Content-Disposition',
      `${inline ? 'inline' : 'attachment'};filename="${encoded}"; filename*=UTF-8''${encoded}`,
    );
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Security-Policy', "Frame-ancestors 'none'");
    res.removeHeader('Expires');
    serveRange(req, res, path, stats.size, stats.mtime);
  }
}

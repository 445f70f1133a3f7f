import type { Client4 } from '@mattermost/client';
import type { FileUploadResponse } from '@mattermost/types/files';

/**
 * Uploads one file as the Mattermost webapp does: XMLHttpRequest (fetch cannot report upload
 * progress) to Client4's files route, with exactly the headers Client4 would send (X-Requested-With,
 * X-CSRF-Token from the MMCSRF cookie, the bearer token if any) and cookies included.
 */
export function uploadFile(
  client: Client4,
  channelId: string,
  file: File,
  clientId: string,
  onProgress: (loaded: number, total: number) => void,
): Promise<FileUploadResponse> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', client.getFilesRoute(), true);
    const headers = client.getOptions({ method: 'post' }).headers as Record<string, string>;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.withCredentials = true;
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      if (xhr.status === 201) resolve(xhr.response as FileUploadResponse);
      else
        reject(
          new Error(
            (xhr.response as { message?: string } | null)?.message ??
              `upload failed (${xhr.status})`,
          ),
        );
    };
    xhr.onerror = () => reject(new Error('upload failed: network error'));
    xhr.onabort = () => reject(new Error('upload aborted'));
    const form = new FormData();
    form.append('channel_id', channelId);
    form.append('client_ids', clientId);
    form.append('files', file, file.name);
    xhr.send(form);
  });
}

import type { Client4 } from '@mattermost/client';
import type { FileInfo } from '@mattermost/types/files';
import type { Post } from '@mattermost/types/posts';
import type { UserProfile } from '@mattermost/types/users';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function renderFile(client: Client4, info: FileInfo): HTMLElement {
  const box = el('div', 'file');
  box.dataset.fileId = info.id;
  if (info.has_preview_image) {
    const link = el('a', 'thumb-link');
    link.href = client.getFilePreviewUrl(info.id, 0);
    link.target = '_blank';
    link.rel = 'noopener';
    const img = el('img', 'thumb');
    img.src = client.getFileThumbnailUrl(info.id, 0);
    img.alt = info.name;
    img.loading = 'lazy';
    link.append(img);
    box.append(link);
  }
  const meta = el('div', 'file-meta');
  const download = el('a', 'file-download', info.name);
  download.href = `${client.getFileUrl(info.id, 0)}?download=1`;
  download.download = info.name;
  meta.append(download, el('span', 'muted', formatSize(info.size)));
  box.append(meta);
  return box;
}

/** One post as a list item; text is set with textContent, never parsed as HTML. */
export function renderPost(
  client: Client4,
  post: Post,
  author: UserProfile | undefined,
): HTMLLIElement {
  const item = el('li', 'post');
  item.dataset.postId = post.id;
  item.dataset.userId = post.user_id;
  const avatar = el('img', 'avatar');
  avatar.src = client.getProfilePictureUrl(post.user_id, author?.last_picture_update ?? 0);
  avatar.alt = '';
  avatar.width = 36;
  avatar.height = 36;
  const body = el('div', 'post-body');
  const head = el('div', 'post-head');
  const name = author ? author.username : post.user_id.slice(0, 8);
  head.append(
    el('strong', 'post-author', name),
    el(
      'time',
      'muted',
      new Date(post.create_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    ),
  );
  body.append(head);
  if (post.message) body.append(el('p', 'post-message', post.message));
  for (const info of post.metadata?.files ?? []) body.append(renderFile(client, info));
  item.append(avatar, body);
  return item;
}

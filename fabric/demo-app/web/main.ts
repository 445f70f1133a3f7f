import './style.css';
import { Client4, WebSocketClient } from '@mattermost/client';
import type { Channel } from '@mattermost/types/channels';
import type { Post } from '@mattermost/types/posts';
import type { UserProfile } from '@mattermost/types/users';
import { formatSize, renderPost } from './posts.ts';
import { uploadFile } from './upload.ts';

const client = new Client4();
client.setUrl(window.location.origin);

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface State {
  me?: UserProfile;
  users: Map<string, UserProfile>;
  channels: Channel[];
  current?: Channel;
  posts: Map<string, Post>;
  ws?: WebSocketClient;
}

const state: State = { users: new Map(), channels: [], posts: new Map() };

function show(view: 'login' | 'chat'): void {
  $('login-view').hidden = view !== 'login';
  $('chat-view').hidden = view !== 'chat';
  document.documentElement.dataset.view = view;
}

function websocketUrl(): string {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${window.location.host}${client.getUrlVersion()}/websocket`;
}

async function boot(): Promise<void> {
  try {
    // A reload keeps the session: the HttpOnly MMAUTHTOKEN cookie authenticates getMe.
    state.me = await client.getMe();
  } catch {
    show('login');
    $('login-id').focus();
    void showLoginHint();
    return;
  }
  await enterChat();
}

async function showLoginHint(): Promise<void> {
  try {
    const config = (await client.getClientConfig()) as unknown as Record<string, string>;
    const hint = $('login-hint');
    hint.textContent = config.DemoLoginHint ?? '';
    hint.hidden = !hint.textContent;
  } catch {
    // The hint is a convenience; the login works without it.
  }
}

async function enterChat(): Promise<void> {
  const me = state.me!;
  client.setUserId(me.id);
  $('me-name').textContent = me.username;
  $<HTMLImageElement>('me-avatar').src = client.getProfilePictureUrl(me.id, me.last_picture_update);
  const [teams, users] = await Promise.all([client.getMyTeams(), client.getProfiles(0, 200)]);
  for (const u of users) state.users.set(u.id, u);
  const team = teams[0];
  if (!team) throw new Error('no team');
  $('team-name').textContent = team.display_name;
  state.channels = await client.getMyChannels(team.id);
  renderChannels();
  show('chat');
  connectWebSocket();
  await openChannel(state.channels[0]!);
}

function renderChannels(): void {
  const list = $('channel-list');
  list.replaceChildren(
    ...state.channels.map((ch) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `# ${ch.display_name}`;
      button.dataset.channelId = ch.id;
      button.addEventListener('click', () => void openChannel(ch));
      item.append(button);
      return item;
    }),
  );
}

async function openChannel(channel: Channel): Promise<void> {
  state.current = channel;
  for (const b of $('channel-list').querySelectorAll('button')) {
    b.classList.toggle('active', b.dataset.channelId === channel.id);
    if (b.dataset.channelId === channel.id) b.classList.remove('unread');
  }
  $('channel-title').textContent = channel.display_name;
  $('channel-purpose').textContent = channel.purpose;
  $('posts').replaceChildren();
  state.posts.clear();
  const list = await client.getPosts(channel.id, 0, 60);
  if (state.current?.id !== channel.id) return;
  for (const id of [...list.order].reverse()) addPost(list.posts[id]!);
  $('message-input').focus();
}

function addPost(post: Post): void {
  if (post.channel_id !== state.current?.id || state.posts.has(post.id)) return;
  state.posts.set(post.id, post);
  const list = $('posts');
  list.append(renderPost(client, post, state.users.get(post.user_id)));
  list.scrollTop = list.scrollHeight;
}

function connectWebSocket(): void {
  const ws = new WebSocketClient();
  state.ws = ws;
  const status = $('ws-status');
  ws.addFirstConnectListener(() => {
    status.textContent = 'live';
  });
  ws.addReconnectListener(() => {
    status.textContent = 'live';
    if (state.current) void openChannel(state.current);
  });
  ws.addCloseListener(() => {
    status.textContent = 'offline';
  });
  ws.addMessageListener((msg) => {
    if (msg.event === 'hello') status.textContent = 'live';
    if (msg.event !== 'posted') return;
    const post = JSON.parse((msg.data as { post: string }).post) as Post;
    if (post.channel_id === state.current?.id) addPost(post);
    else
      $('channel-list')
        .querySelector(`[data-channel-id="${post.channel_id}"]`)
        ?.classList.add('unread');
  });
  // No token: the upgrade request carries the session cookie, as in the Mattermost webapp.
  ws.initialize(websocketUrl());
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = $('login-error');
  error.hidden = true;
  const button = $<HTMLButtonElement>('login-submit');
  button.disabled = true;
  try {
    state.me = await client.login(
      $<HTMLInputElement>('login-id').value,
      $<HTMLInputElement>('password').value,
    );
    $<HTMLInputElement>('password').value = '';
    await enterChat();
  } catch (err) {
    error.textContent = (err as Error).message || 'Login failed';
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});

$('composer').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $<HTMLTextAreaElement>('message-input');
  const message = input.value.trim();
  if (!message || !state.current) return;
  input.value = '';
  const post = await client.createPost({
    channel_id: state.current.id,
    message,
    pending_post_id: `${state.me!.id}:${Date.now()}`,
  } as Post);
  addPost(post);
});

$('message-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    $<HTMLFormElement>('composer').requestSubmit();
  }
});

$('file-input').addEventListener('change', async () => {
  const input = $<HTMLInputElement>('file-input');
  const file = input.files?.[0];
  if (!file || !state.current) return;
  const channel = state.current;
  const box = $('upload');
  const bar = $<HTMLProgressElement>('upload-progress');
  box.hidden = false;
  box.classList.remove('failed');
  $('upload-name').textContent = `${file.name} (${formatSize(file.size)})`;
  bar.value = 0;
  $('upload-percent').textContent = '0%';
  try {
    const clientId = crypto.randomUUID();
    const result = await uploadFile(client, channel.id, file, clientId, (loaded, total) => {
      const pct = Math.floor((loaded / total) * 100);
      bar.value = pct;
      $('upload-percent').textContent = `${pct}%`;
    });
    const text = $<HTMLTextAreaElement>('message-input');
    const post = await client.createPost({
      channel_id: channel.id,
      message: text.value.trim(),
      file_ids: result.file_infos.map((f) => f.id),
    } as Post);
    text.value = '';
    addPost(post);
    box.hidden = true;
  } catch (err) {
    box.classList.add('failed');
    $('upload-percent').textContent = (err as Error).message;
  } finally {
    input.value = '';
  }
});

$('logout').addEventListener('click', async () => {
  state.ws?.close();
  state.ws = undefined;
  await client.logout();
  state.me = undefined;
  window.location.assign('/login');
});

void boot();

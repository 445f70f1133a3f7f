import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  authenticate,
  EXPIRED_TOKEN_COOKIE,
  parseAuthToken,
  REQUESTED_WITH_XML,
  sessionCookies,
} from './auth.ts';
import { defaultAvatar } from './avatar.ts';
import type { FileStorage } from './files.ts';
import {
  AppError,
  forbidden,
  invalidParam,
  notFound,
  readJson,
  SERVER_VERSION,
  sendBody,
  sendError,
  sendJson,
  setApiHeaders,
} from './http.ts';
import { isId, newId } from './ids.ts';
import { type DemoStore, type Post, type Session, sanitizeUser } from './store.ts';
import type { WebSocketHub } from './websocket.ts';

/** Longest post message (model.PostMessageMaxRunesV2). */
export const MAX_POST_MESSAGE = 16383;
export const DEFAULT_PER_PAGE = 60;
export const MAX_PER_PAGE = 200;

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  session: Session | undefined;
}

type Handler = (ctx: Ctx) => Promise<unknown> | unknown;

interface Route {
  method: string;
  pattern: RegExp;
  requireSession: boolean;
  handler: Handler;
}

/** A handler's return value is sent as JSON with status 200, unless it already answered. */
const ANSWERED = Symbol('answered');

export interface ApiDeps {
  store: DemoStore;
  files: FileStorage;
  hub: WebSocketHub;
  /** Shown on the login page (the default demo accounts); empty for custom users. */
  loginHint?: string;
  /** The app's settings that can change while it runs (Mattermost's config). */
  settings: ApiSettings;
}

export interface ApiSettings {
  /** ServiceSettings.SiteURL: the public URL, or empty. */
  siteUrl: string;
  /** ServiceSettings.ExperimentalStrictCSRFEnforcement. */
  strictCsrf: boolean;
}

/** The API v4 subset the demo needs, with Mattermost's auth, CSRF and error behaviour. */
export class Api {
  private readonly routes: Route[] = [];
  private readonly avatars = new Map<string, Buffer>();

  constructor(private readonly deps: ApiDeps) {
    const { store } = deps;
    const id = '([a-z0-9]{26})';
    const me = '(me|[a-z0-9]{26})';
    this.add('POST', '/users/login', false, (c) => this.login(c));
    this.add('POST', '/users/logout', false, (c) => this.logout(c));
    this.add('GET', '/system/ping', false, () => ({
      status: 'OK',
      ActiveSearchBackend: 'database',
    }));
    this.add('GET', '/config/client', false, () =>
      clientConfig(deps.loginHint ?? '', deps.settings.siteUrl),
    );
    this.add('GET', '/license/client', false, () => ({ IsLicensed: 'false' }));
    this.add('GET', '/plugins/webapp', false, () => {
      // PluginSettings.Enable is off, as in the real-server tier.
      throw new AppError(
        'app.plugin.disabled.app_error',
        'Plugins have been disabled. Please check your logs for details.',
        501,
      );
    });
    this.add('GET', `/users/${me}`, true, (c) => sanitizeUser(this.user(c, c.params[0]!)));
    this.add('GET', '/users', true, () => [...store.users.values()].map(sanitizeUser));
    this.add('POST', '/users/ids', true, async (c) => {
      const ids = await readJson(c.req);
      if (!Array.isArray(ids)) throw invalidParam('user_ids');
      return ids.flatMap((u) => {
        const user = typeof u === 'string' ? store.users.get(u) : undefined;
        return user ? [sanitizeUser(user)] : [];
      });
    });
    this.add('GET', `/users/${me}/image`, true, (c) => this.profileImage(c));
    this.add('GET', `/users/${me}/teams`, true, () => [store.team]);
    this.add('GET', `/users/${me}/teams/members`, true, (c) => [
      {
        team_id: store.team.id,
        user_id: c.session!.userId,
        roles: 'team_user',
        delete_at: 0,
        scheme_guest: false,
        scheme_user: true,
        scheme_admin: false,
      },
    ]);
    this.add('GET', `/users/${me}/teams/${id}/channels`, true, (c) => {
      if (c.params[1] !== store.team.id) throw notFound('team');
      return [...store.channels.values()];
    });
    this.add('GET', `/users/${me}/teams/${id}/channels/members`, true, (c) => {
      if (c.params[1] !== store.team.id) throw notFound('team');
      return [...store.channels.values()].map((ch) =>
        membership(ch.id, c.session!.userId, ch.total_msg_count),
      );
    });
    this.add('GET', `/channels/${id}`, true, (c) => this.channel(c.params[0]!));
    this.add('GET', `/channels/${id}/posts`, true, (c) => this.listPosts(c));
    this.add('POST', '/posts', true, (c) => this.createPost(c));
    this.add('GET', `/posts/${id}`, true, (c) => {
      const post = store.posts.get(c.params[0]!);
      if (!post) throw notFound('post');
      this.channel(post.channel_id);
      return post;
    });
    this.add('POST', '/files', true, async (c) => {
      const body = await deps.files.upload(c.req, c.url, c.session!.userId);
      sendJson(c.res, 201, body, c.req);
      return ANSWERED;
    });
    this.add('GET', `/files/${id}/info`, true, (c) =>
      deps.files.readable(c.params[0]!, c.session!.userId),
    );
    for (const [suffix, variant] of [
      ['', 'data'],
      ['/thumbnail', 'thumb'],
      ['/preview', 'preview'],
    ] as const) {
      this.add('GET', `/files/${id}${suffix}`, true, async (c) => {
        const info = deps.files.readable(c.params[0]!, c.session!.userId);
        await deps.files.serve(c.req, c.res, c.url, info, variant);
        return ANSWERED;
      });
    }
  }

  private add(method: string, path: string, requireSession: boolean, handler: Handler): void {
    this.routes.push({ method, pattern: new RegExp(`^/api/v4${path}$`), requireSession, handler });
  }

  /** Answers one request under `/api/`. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const requestId = newId();
    setApiHeaders(res, requestId, req.method ?? 'GET');
    try {
      let match: RegExpExecArray | null = null;
      const route = this.routes.find((r) => {
        // No HEAD: Mattermost's API router answers it 404.
        if (r.method !== req.method) return false;
        match = r.pattern.exec(url.pathname);
        return match !== null;
      });
      if (!route || !match) {
        const known =
          req.method !== 'HEAD' && this.routes.some((r) => r.pattern.test(url.pathname));
        throw known
          ? new AppError('api.context.405.app_error', 'Method not allowed.', 405)
          : notFound();
      }
      const auth = authenticate(
        req,
        res,
        url,
        this.deps.store,
        route.requireSession,
        this.deps.settings.strictCsrf,
      );
      const params = (match as RegExpExecArray).slice(1);
      const result = await route.handler({ req, res, url, params, session: auth.session });
      if (result !== ANSWERED && !res.headersSent) sendJson(res, 200, result, req);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const appError =
        err instanceof AppError
          ? err
          : new AppError(
              'api.context.server_error',
              'An internal error occurred.',
              500,
              String(err),
            );
      // Drain what is left of a refused body so the connection can be reused.
      if (!req.readableEnded) req.resume();
      sendError(res, appError, requestId, req);
    }
  }

  private user(c: Ctx, id: string) {
    const user = this.deps.store.users.get(id === 'me' ? c.session!.userId : id);
    if (!user) throw notFound('user');
    return user;
  }

  private channel(id: string) {
    const channel = this.deps.store.channels.get(id);
    if (!channel) throw notFound('channel');
    return channel;
  }

  /** POST /users/login (api4/user.go login + app.AttachSessionCookies). */
  private async login(c: Ctx) {
    const body = (await readJson(c.req)) as { login_id?: unknown; password?: unknown } | undefined;
    const loginId = typeof body?.login_id === 'string' ? body.login_id : '';
    const password = typeof body?.password === 'string' ? body.password : '';
    if (!loginId) throw invalidParam('login_id');
    const user = this.deps.store.checkLogin(loginId, password);
    if (!user) {
      throw new AppError(
        'api.user.login.invalid_credentials_email_username',
        'Enter a valid email or username and/or password.',
        401,
      );
    }
    const session = this.deps.store.createSession(user.id);
    c.res.setHeader('Token', session.token);
    // Cookies only for browsers (the webapp sends X-Requested-With); mobile/CLI keep the header token.
    if (c.req.headers['x-requested-with'] === REQUESTED_WITH_XML) {
      c.res.setHeader('Set-Cookie', sessionCookies(c.req, session, this.deps.store.sessionSeconds));
    }
    return sanitizeUser(user);
  }

  /** POST /users/logout: revokes the session if any and always expires MMAUTHTOKEN (only). */
  private logout(c: Ctx) {
    const { token } = parseAuthToken(c.req, c.url);
    if (c.session) {
      this.deps.store.revokeSession(c.session.token);
      this.deps.hub.closeSession(c.session.token);
    } else if (token) {
      this.deps.store.revokeSession(token);
    }
    c.res.setHeader('Set-Cookie', EXPIRED_TOKEN_COOKIE);
    return { status: 'OK' };
  }

  private profileImage(c: Ctx) {
    const user = this.user(c, c.params[0]!);
    let png = this.avatars.get(user.id);
    if (!png) {
      png = defaultAvatar(user.id);
      this.avatars.set(user.id, png);
    }
    c.res.setHeader('Content-Type', 'image/png');
    c.res.setHeader('Cache-Control', 'max-age=300, private');
    sendBody(c.req, c.res, png);
    return ANSWERED;
  }

  private listPosts(c: Ctx) {
    const { store } = this.deps;
    const channel = this.channel(c.params[0]!);
    if (!store.isChannelMember(c.session!.userId, channel.id)) throw forbidden();
    const ids = store.channelPosts.get(channel.id) ?? [];
    const since = Number(c.url.searchParams.get('since') ?? '0');
    let selected: string[];
    if (since > 0) {
      selected = ids.filter((pid) => store.posts.get(pid)!.update_at > since);
    } else {
      const page = Math.max(0, Number(c.url.searchParams.get('page') ?? '0') | 0);
      const perPage = Math.min(
        MAX_PER_PAGE,
        Math.max(1, Number(c.url.searchParams.get('per_page') ?? DEFAULT_PER_PAGE) | 0),
      );
      const end = ids.length - page * perPage;
      selected = end > 0 ? ids.slice(Math.max(0, end - perPage), end) : [];
    }
    const order = [...selected].reverse();
    return {
      order,
      posts: Object.fromEntries(order.map((pid) => [pid, store.posts.get(pid)])),
      next_post_id: '',
      prev_post_id: '',
      has_next: false,
      first_inaccessible_post_time: 0,
    };
  }

  /** POST /posts: stores the post, attaches files, fans `posted` out to the channel. */
  private async createPost(c: Ctx) {
    const { store, hub } = this.deps;
    const body = (await readJson(c.req)) as Record<string, unknown> | undefined;
    const channelId = typeof body?.channel_id === 'string' ? body.channel_id : '';
    const channel = store.channels.get(channelId);
    if (!channel) throw invalidParam('post.channel_id');
    const userId = c.session!.userId;
    if (!store.isChannelMember(userId, channelId)) throw forbidden();
    const message = typeof body?.message === 'string' ? body.message : '';
    if ([...message].length > MAX_POST_MESSAGE) throw invalidParam('post.message');
    const fileIds = Array.isArray(body?.file_ids) ? body.file_ids : [];
    if (fileIds.length > 10) throw invalidParam('post.file_ids');
    const files = fileIds.map((fid) => {
      const info = typeof fid === 'string' && isId(fid) ? store.files.get(fid) : undefined;
      if (!info || info.user_id !== userId || info.channel_id !== channelId || info.post_id) {
        throw invalidParam('post.file_ids');
      }
      return info;
    });
    if (!message && files.length === 0) throw invalidParam('post.message');
    const now = Date.now();
    const post: Post = {
      id: newId(),
      create_at: now,
      update_at: now,
      edit_at: 0,
      delete_at: 0,
      is_pinned: false,
      user_id: userId,
      channel_id: channelId,
      root_id: '',
      original_id: '',
      message,
      type: '',
      props: {},
      hashtags: '',
      pending_post_id: typeof body?.pending_post_id === 'string' ? body.pending_post_id : '',
      reply_count: 0,
      file_ids: files.map((f) => f.id),
      metadata: files.length > 0 ? { files } : {},
    };
    for (const f of files) f.post_id = post.id;
    store.addPost(post);
    const sender = store.users.get(userId)!;
    hub.broadcastToChannel(channelId, 'posted', {
      channel_display_name: channel.display_name,
      channel_name: channel.name,
      channel_type: channel.type,
      post: JSON.stringify(post),
      sender_name: `@${sender.username}`,
      set_online: true,
      team_id: channel.team_id,
    });
    sendJson(c.res, 201, post, c.req);
    return ANSWERED;
  }
}

function membership(channelId: string, userId: string, msgCount: number) {
  return {
    channel_id: channelId,
    user_id: userId,
    roles: 'channel_user',
    last_viewed_at: 0,
    msg_count: msgCount,
    mention_count: 0,
    mention_count_root: 0,
    msg_count_root: msgCount,
    urgent_mention_count: 0,
    notify_props: {},
    last_update_at: Date.now(),
    scheme_guest: false,
    scheme_user: true,
    scheme_admin: false,
  };
}

function clientConfig(loginHint: string, siteUrl: string) {
  return {
    DemoLoginHint: loginHint,
    Version: SERVER_VERSION,
    BuildNumber: 'demo',
    SiteName: 'Demo Chat',
    SiteURL: siteUrl,
    EnableSignInWithUsername: 'true',
    EnableSignInWithEmail: 'true',
    EnableSignUpWithEmail: 'false',
    DiagnosticsEnabled: 'false',
    MaxFileSize: '1073741824',
    MaxPostSize: String(MAX_POST_MESSAGE),
    EnableFileAttachments: 'true',
  };
}

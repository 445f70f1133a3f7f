import { timingSafeEqual } from 'node:crypto';
import { newId } from './ids.ts';
import type { DemoUser } from './types.ts';

/** Default accounts when none are given. The fabric's IdP users are separate (OIDC). */
export const DEFAULT_USERS: readonly DemoUser[] = [
  { username: 'alice', password: 'alice-demo-pass', firstName: 'Alice', lastName: 'Archer' },
  { username: 'bob', password: 'bob-demo-pass', firstName: 'Bob', lastName: 'Baker' },
];

/** Mattermost's default web session length (SessionLengthWebInHours = 4320, 180 days). */
export const DEFAULT_SESSION_SECONDS = 4320 * 3600;

export interface UserRecord {
  id: string;
  username: string;
  password: string;
  email: string;
  first_name: string;
  last_name: string;
  create_at: number;
  update_at: number;
  last_picture_update: number;
}

export interface Session {
  id: string;
  token: string;
  csrf: string;
  userId: string;
  createAt: number;
  expiresAt: number;
}

export interface Team {
  id: string;
  create_at: number;
  update_at: number;
  delete_at: number;
  display_name: string;
  name: string;
  description: string;
  email: string;
  type: 'O';
  company_name: string;
  allowed_domains: string;
  invite_id: string;
  allow_open_invite: boolean;
  scheme_id: string;
  group_constrained: boolean;
  policy_id: null;
}

export interface Channel {
  id: string;
  create_at: number;
  update_at: number;
  delete_at: number;
  team_id: string;
  type: 'O';
  display_name: string;
  name: string;
  header: string;
  purpose: string;
  last_post_at: number;
  last_root_post_at: number;
  total_msg_count: number;
  extra_update_at: number;
  creator_id: string;
  scheme_id: string;
  group_constrained: boolean;
}

export interface FileInfo {
  id: string;
  user_id: string;
  channel_id: string;
  post_id: string;
  create_at: number;
  update_at: number;
  delete_at: number;
  name: string;
  extension: string;
  size: number;
  mime_type: string;
  width: number;
  height: number;
  has_preview_image: boolean;
  mini_preview: null;
  archived: boolean;
}

export interface Post {
  id: string;
  create_at: number;
  update_at: number;
  edit_at: number;
  delete_at: number;
  is_pinned: boolean;
  user_id: string;
  channel_id: string;
  root_id: string;
  original_id: string;
  message: string;
  type: string;
  props: Record<string, unknown>;
  hashtags: string;
  pending_post_id: string;
  reply_count: number;
  file_ids: string[];
  metadata: { files?: FileInfo[] };
}

/** The user as the API returns it (no password). */
export function sanitizeUser(user: UserRecord) {
  return {
    id: user.id,
    create_at: user.create_at,
    update_at: user.update_at,
    delete_at: 0,
    username: user.username,
    auth_service: '',
    email: user.email,
    email_verified: true,
    nickname: '',
    first_name: user.first_name,
    last_name: user.last_name,
    position: '',
    roles: 'system_user',
    locale: 'en',
    props: {},
    notify_props: {},
    last_picture_update: user.last_picture_update,
    timezone: { automaticTimezone: '', manualTimezone: '', useAutomaticTimezone: 'true' },
    disable_welcome_email: false,
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Everything the app knows, in memory: one team, two open channels every user belongs to, posts,
 * file metadata and sessions. File contents live on disk (see files.ts).
 */
export class DemoStore {
  readonly users = new Map<string, UserRecord>();
  readonly team: Team;
  readonly channels = new Map<string, Channel>();
  readonly posts = new Map<string, Post>();
  /** Post ids per channel, oldest first. */
  readonly channelPosts = new Map<string, string[]>();
  readonly files = new Map<string, FileInfo>();
  private readonly sessions = new Map<string, Session>();

  constructor(
    users: readonly DemoUser[],
    readonly sessionSeconds: number,
  ) {
    const now = Date.now();
    for (const u of users) {
      const id = newId();
      this.users.set(id, {
        id,
        username: u.username,
        password: u.password,
        email: u.email ?? `${u.username}@demo.invalid`,
        first_name: u.firstName ?? '',
        last_name: u.lastName ?? '',
        create_at: now,
        update_at: now,
        last_picture_update: 0,
      });
    }
    this.team = {
      id: newId(),
      create_at: now,
      update_at: now,
      delete_at: 0,
      display_name: 'Demo Team',
      name: 'demo',
      description: 'The team of the dark demo app',
      email: '',
      type: 'O',
      company_name: '',
      allowed_domains: '',
      invite_id: newId(),
      allow_open_invite: false,
      scheme_id: '',
      group_constrained: false,
      policy_id: null,
    };
    const creator = [...this.users.keys()][0] ?? '';
    for (const [name, display, purpose] of [
      ['town-square', 'Town Square', 'Everyone is here'],
      ['off-topic', 'Off-Topic', 'Anything goes'],
    ]) {
      const id = newId();
      this.channels.set(id, {
        id,
        create_at: now,
        update_at: now,
        delete_at: 0,
        team_id: this.team.id,
        type: 'O',
        display_name: display,
        name,
        header: '',
        purpose,
        last_post_at: now,
        last_root_post_at: now,
        total_msg_count: 0,
        extra_update_at: 0,
        creator_id: creator,
        scheme_id: '',
        group_constrained: false,
      });
      this.channelPosts.set(id, []);
    }
  }

  /** Finds a user by username or email and checks the password. */
  checkLogin(loginId: string, password: string): UserRecord | undefined {
    const wanted = loginId.trim().toLowerCase();
    for (const user of this.users.values()) {
      if (user.username === wanted || user.email.toLowerCase() === wanted) {
        return safeEqual(user.password, password) ? user : undefined;
      }
    }
    return undefined;
  }

  createSession(userId: string): Session {
    const now = Date.now();
    const session: Session = {
      id: newId(),
      token: newId(),
      csrf: newId(),
      userId,
      createAt: now,
      expiresAt: now + this.sessionSeconds * 1000,
    };
    this.sessions.set(session.token, session);
    return session;
  }

  /** The live session for a token, or undefined (an expired one is dropped). */
  session(token: string): Session | undefined {
    const session = this.sessions.get(token);
    if (!session) return undefined;
    if (session.expiresAt <= Date.now()) {
      this.sessions.delete(token);
      return undefined;
    }
    return session;
  }

  revokeSession(token: string): void {
    this.sessions.delete(token);
  }

  /** Every user is a member of every channel in the demo. */
  isChannelMember(_userId: string, channelId: string): boolean {
    return this.channels.has(channelId);
  }

  channelMemberIds(channelId: string): string[] {
    return this.channels.has(channelId) ? [...this.users.keys()] : [];
  }

  addPost(post: Post): void {
    this.posts.set(post.id, post);
    this.channelPosts.get(post.channel_id)?.push(post.id);
    const channel = this.channels.get(post.channel_id);
    if (channel) {
      channel.last_post_at = post.create_at;
      channel.last_root_post_at = post.create_at;
      channel.total_msg_count += 1;
    }
  }
}

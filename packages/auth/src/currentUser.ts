import { Group, Permission, User } from './models.js';
import { AuthError } from './errors.js';
import { type SessionRecord, type SessionStore, sessionKey } from './sessions.js';

/** What a signed-in user looks like to guards and handlers (never the password hash). */
export interface AuthUser {
  readonly id: number;
  readonly email: string;
  readonly username: string | null;
  readonly name: string;
  readonly isStaff: boolean;
  readonly isSuperuser: boolean;
  /** True when the user has every permission (`'shop.change_product'`), directly or through a group; always for a superuser. */
  hasPerm(...perms: string[]): Promise<boolean>;
  /** True when the user belongs to at least one of the groups named. */
  inGroup(...names: string[]): Promise<boolean>;
}

/** The current request's or event's session: who, and its data. */
export interface CurrentSession {
  /** The store key (SHA-256 of the cookie value). */
  readonly key: string;
  readonly userId: number | null;
  readonly expiresAt: number;
  /** All of the session's data (read-only; change it with `set`). */
  readonly data: Readonly<Record<string, unknown>>;
  get<T = unknown>(name: string): T | undefined;
  /** Stores `value` (JSON) under `name` in the session, at once. */
  set(name: string, value: unknown): Promise<void>;
}

type UserRow = { id: number; email: string; username: string | null; name: string; isStaff: boolean; isSuperuser: boolean };
interface Entry {
  record: SessionRecord;
  user: UserRow | null;
  /** What `resolve` answers, built once per entry. */
  resolved?: { session: CurrentSession; user: AuthUser | null };
  perms?: { generation: number; codes: Promise<Set<string>> };
  groups?: { generation: number; names: Promise<Set<string>> };
  loadedAt: number;
}

/**
 * Resolves a session cookie to its session and user — from a per-worker cache while it is
 * valid (no query), else from the store and the database. The cache is bounded, expires
 * entries after `cacheMs`, and is invalidated explicitly: by user (a changed or deactivated
 * user), by session (a logout anywhere), and for permissions and groups by generation.
 */
export class CurrentUsers {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<number, Set<string>>();
  /** Store keys of recent cookie values, so an event does not hash its cookie again (bounded like the entries). */
  private readonly keys = new Map<string, string | undefined>();
  /** Loads under way: concurrent misses of one session share one load. */
  private readonly loading = new Map<string, Promise<Entry | undefined>>();
  /** Bumped when any permission, group or membership changes: cached sets are then reloaded. */
  private generation = 0;

  constructor(
    private readonly store: SessionStore,
    private readonly options: { cacheMs: number; maxEntries: number; onInactive: (key: string) => void },
  ) {}

  /** The session and user of a cookie value; anonymous for none, a forged or an ended one. Throws STRATA_AUTH_UNAVAILABLE when the store fails. */
  async resolve(cookieValue: string | undefined): Promise<{ session: CurrentSession | null; user: AuthUser | null }> {
    const key = this.keyOf(cookieValue);
    if (!key) return ANONYMOUS;
    const entry = await this.entry(key);
    if (!entry) return ANONYMOUS;
    entry.resolved ??= { session: this.sessionOf(entry), user: entry.user ? this.userOf(entry, entry.user) : null };
    return entry.resolved;
  }

  /** The store key of a cookie value (memoized: sockets and events present the same values again and again). */
  keyOf(cookieValue: string | undefined): string | undefined {
    if (cookieValue === undefined) return undefined;
    if (this.keys.has(cookieValue)) return this.keys.get(cookieValue);
    const key = sessionKey(cookieValue);
    if (this.keys.size >= this.options.maxEntries) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(cookieValue, key);
    return key;
  }

  /** Forgets a session (it ended or changed). */
  dropSession(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    if (entry.record.userId !== null) this.byUser.get(entry.record.userId)?.delete(key);
  }

  /** Forgets every session of a user (changed, deactivated, password set). */
  dropUser(userId: number): void {
    for (const key of this.byUser.get(userId) ?? []) this.entries.delete(key);
    this.byUser.delete(userId);
  }

  /** Permissions, groups or memberships changed: every cached set is stale. */
  dropPermissions(): void {
    this.generation++;
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(key: string): Promise<Entry | undefined> | Entry {
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && cached.record.expiresAt > now && now - cached.loadedAt < this.options.cacheMs) {
      // Most recently used last: the bound drops the oldest first.
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    let loading = this.loading.get(key);
    if (!loading) {
      loading = this.load(key, now).finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  private async load(key: string, now: number): Promise<Entry | undefined> {
    this.dropSession(key);
    let record: SessionRecord | undefined;
    let user: UserRow | null = null;
    try {
      record = await this.store.get(key);
      if (record?.userId != null) {
        user = (await User.objects.filter({ id: record.userId }).only('id', 'email', 'username', 'name', 'isStaff', 'isSuperuser', 'isActive').first()) as (UserRow & { isActive: boolean }) | null;
      }
    } catch (error) {
      // Fail closed: an unreachable store never lets an event through as someone.
      throw new AuthError('STRATA_AUTH_UNAVAILABLE', 'Sign-in is unavailable right now; try again shortly.', { cause: error });
    }
    if (!record) return undefined;
    if (record.userId !== null && (!user || !(user as UserRow & { isActive: boolean }).isActive)) {
      // A deleted or deactivated user's session ends here, on every path.
      this.options.onInactive(key);
      return undefined;
    }
    const entry: Entry = { record, user: user && pickUser(user), loadedAt: now };
    this.remember(key, entry);
    return entry;
  }

  private remember(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    if (entry.record.userId !== null) {
      let keys = this.byUser.get(entry.record.userId);
      if (!keys) this.byUser.set(entry.record.userId, (keys = new Set()));
      keys.add(key);
    }
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.dropSession(oldest);
    }
  }

  private sessionOf(entry: Entry): CurrentSession {
    const { record } = entry;
    const store = this.store;
    return {
      key: record.key,
      userId: record.userId,
      expiresAt: record.expiresAt,
      get data() {
        return record.data;
      },
      get: <T>(name: string) => (Object.hasOwn(record.data, name) ? (record.data[name] as T) : undefined),
      async set(name, value) {
        const data = { ...record.data, [name]: JSON.parse(JSON.stringify(value ?? null)) as unknown };
        try {
          await store.save({ ...record, data });
        } catch (error) {
          throw new AuthError('STRATA_AUTH_UNAVAILABLE', 'The session could not be saved; try again shortly.', { cause: error });
        }
        record.data = data;
      },
    };
  }

  private userOf(entry: Entry, row: UserRow): AuthUser {
    const load = <K extends 'perms' | 'groups'>(kind: K, query: () => Promise<Set<string>>): Promise<Set<string>> => {
      const current = entry[kind] as { generation: number; codes?: Promise<Set<string>>; names?: Promise<Set<string>> } | undefined;
      if (current && current.generation === this.generation) return (current.codes ?? current.names)!;
      const generation = this.generation;
      const promise = query();
      entry[kind] = (kind === 'perms' ? { generation, codes: promise } : { generation, names: promise }) as Entry[K];
      // A failed load is not cached.
      promise.catch(() => {
        if ((entry[kind] as { generation: number } | undefined)?.generation === generation) delete entry[kind];
      });
      return promise;
    };
    return Object.freeze({
      ...row,
      hasPerm: async (...perms: string[]) => {
        if (row.isSuperuser) return true;
        const codes = await load('perms', () => permissionsOf(row.id));
        return perms.every((perm) => codes.has(perm));
      },
      inGroup: async (...names: string[]) => {
        // `users` is the reverse side of User.groups (not in the typed lookups).
        const groups = await load('groups', async () => new Set((await Group.objects.filter({ users: { id: row.id } } as never).values('name')).map((g) => g.name as string)));
        return names.some((name) => groups.has(name));
      },
    });
  }
}

/** A user's permissions, their own and their groups', in one query. */
export async function permissionsOf(userId: number): Promise<Set<string>> {
  const rows = await Permission.objects
    // `users` and `groups` are reverse sides of User.permissions and Group.permissions.
    .filter((q) => q.or({ users: { id: userId } } as never, { groups: { users: { id: userId } } } as never))
    .distinct()
    .values('codename');
  return new Set(rows.map((row) => row.codename as string));
}

const ANONYMOUS = Object.freeze({ session: null, user: null });

function pickUser(row: UserRow): UserRow {
  return { id: row.id, email: row.email, username: row.username, name: row.name, isStaff: row.isStaff, isSuperuser: row.isSuperuser };
}

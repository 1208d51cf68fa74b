// SPDX-License-Identifier: LGPL-2.1-or-later
// Following the system Avahi daemon over D-Bus: its state, restarts, Server2 or Server, and the objects we create.
import { EventEmitter } from 'node:events';
import {
  type Message,
  MessageType,
  addMatch,
  callBusDaemon,
  callMethod,
  dbusErrorOf,
  nameOwnerChange,
  watchNameOwner,
  type MessageBus,
} from '../../shared/dbus/bus.js';
import type { Logger } from '../../shared/log.js';

/** Names and numbers of the Avahi D-Bus API (/usr/share/dbus-1/interfaces/org.freedesktop.Avahi.*.xml). */
export const AVAHI_NAME = 'org.freedesktop.Avahi';
export const AvahiInterface = {
  /** Every Avahi version; its *New methods start browsing at once, before the caller knows the object's path. */
  SERVER: 'org.freedesktop.Avahi.Server',
  /** Avahi 0.8 and later: *Prepare methods create objects that wait for Start, so no signal comes too early. */
  SERVER2: 'org.freedesktop.Avahi.Server2',
  ENTRY_GROUP: 'org.freedesktop.Avahi.EntryGroup',
  SERVICE_BROWSER: 'org.freedesktop.Avahi.ServiceBrowser',
  SERVICE_RESOLVER: 'org.freedesktop.Avahi.ServiceResolver',
  RECORD_BROWSER: 'org.freedesktop.Avahi.RecordBrowser',
} as const;
export const IF_UNSPEC = -1;
export const Protocol = { UNSPEC: -1, INET: 0, INET6: 1 } as const;
export const ServerState = { INVALID: 0, REGISTERING: 1, RUNNING: 2, COLLISION: 3, FAILURE: 4 } as const;
export const LookupResultFlag = { CACHED: 0x1, WIDE_AREA: 0x2, MULTICAST: 0x4, LOCAL: 0x8, OUR_OWN: 0x10, STATIC: 0x20 } as const;

/** The objects we create in Avahi, with the Server2 and the Server method that make one. */
const CREATORS = {
  EntryGroup: { server2: 'EntryGroupNew', server: 'EntryGroupNew' },
  ServiceBrowser: { server2: 'ServiceBrowserPrepare', server: 'ServiceBrowserNew' },
  ServiceResolver: { server2: 'ServiceResolverPrepare', server: 'ServiceResolverNew' },
  RecordBrowser: { server2: 'RecordBrowserPrepare', server: 'RecordBrowserNew' },
} as const;
export type AvahiObjectKind = keyof typeof CREATORS;

/**
 * Errors that say a method is not there for us: Avahi before 0.8 has no Server2, and a bus policy or a reduced
 * service may refuse it. Any of them makes us use Server instead, for as long as that Avahi instance runs.
 */
const MISSING_METHOD_ERRORS = new Set([
  'org.freedesktop.DBus.Error.UnknownMethod',
  'org.freedesktop.DBus.Error.UnknownInterface',
  'org.freedesktop.DBus.Error.UnknownObject',
  'org.freedesktop.DBus.Error.AccessDenied',
  'org.freedesktop.DBus.Error.NotSupported',
  'org.freedesktop.Avahi.NotSupportedError',
]);

function isMissingMethod(err: unknown): boolean {
  const name = dbusErrorOf(err)?.name;
  return name !== undefined && MISSING_METHOD_ERRORS.has(name);
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** A problem that lasts is warned about again this often; in between it is logged at debug level only. */
const REPEAT_WARNING_MS = 10 * 60 * 1000;

/** Exponential retry delays: Avahi that fails now is asked less and less often, up to once a minute. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly firstMs = RETRY_FIRST_MS,
    private readonly maxMs = RETRY_MAX_MS,
  ) {}

  next(): number {
    const ms = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
    if (ms < this.maxMs) this.attempt += 1;
    return ms;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * Logs a recurring problem as a warning when it starts or changes, and again only every REPEAT_WARNING_MS
 * while it lasts, so that Avahi failing on every retry does not flood the journal; its end is logged once.
 */
export class ProblemLog {
  private current: string | null = null;
  private warnedAt = 0;

  constructor(
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /**
   * `problem` is an error or a description; D-Bus errors count as the same problem while their name is, as
   * their text names processes by their title, which Avahi changes as it goes.
   */
  report(problem: unknown, retryMs?: number, context = ''): void {
    const now = Date.now();
    const message = problem instanceof Error ? problem.message : String(problem);
    const key = `${context}${dbusErrorOf(problem)?.name ?? message}`;
    const retry = retryMs === undefined ? '' : `; retrying in ${Math.ceil(retryMs / 1000)} s`;
    const text = `${this.what}: ${context}${message}${retry}`;
    if (key !== this.current || now - this.warnedAt >= REPEAT_WARNING_MS) {
      this.log.warn(text);
      this.warnedAt = now;
    } else {
      this.log.debug(text);
    }
    this.current = key;
  }

  /** Drops the current problem without logging its end (what it was about is gone). */
  forget(): void {
    this.current = null;
  }

  resolved(): void {
    if (this.current === null) return;
    this.current = null;
    this.log.info(`${this.what}: works again`);
  }
}

export type SignalHandler = (member: string, body: unknown[]) => void;

export interface AvahiEvents {
  /** Avahi is on the bus, answers us and its server is running: register and browse (again). */
  up: [];
  /** Avahi left the bus or its server stopped running: every object we had there is gone. */
  down: [];
}

interface AvahiObject {
  /** The Avahi instance (bus owner) it lives in: a restarted Avahi reuses paths. */
  owner: string;
  /** Made by a Server2 *Prepare method: does nothing until Start. */
  prepared: boolean;
}

/**
 * Our connection to the system Avahi daemon: follows it appearing, restarting and leaving the bus, and routes
 * the signals of the objects (entry groups, browsers, resolvers) we create there to their owners. Avahi is
 * optional: whatever fails here is logged and retried, and never stops the daemon.
 */
export class Avahi extends EventEmitter<AvahiEvents> {
  private owner: string | null = null;
  private running = false;
  /** Whether this Avahi instance answered GetState: until then it is not used, and its state signals not trusted. */
  private usable = false;
  /** Server2 until this Avahi instance turns out not to offer it; decided anew for each instance. */
  private api: 'Server2' | 'Server' = 'Server2';
  /** A StateChanged arrived while GetState was in flight: its reply may be older than the signal. */
  private stateSignalled = false;
  private readonly handlers = new Map<string, SignalHandler>();
  private readonly objects = new Map<string, AvahiObject>();
  /**
   * Signals for objects whose creation reply we have read but not yet handed to the caller: dbus-next delivers
   * every message of a read before promise continuations run, and Avahi may emit (a resolver's Found) at once.
   * Objects made through Server's *New methods may even emit before their creation reply: our match rule on
   * everything Avahi sends, added before any object is made, gets us those too.
   */
  private readonly early = new Map<string, { member: string; body: unknown[] }[]>();
  private creating = 0;
  private retry: NodeJS.Timeout | null = null;
  /** Kept apart from `retry`, which a new Avahi instance cancels: subscribing must be retried regardless. */
  private followRetry: NodeJS.Timeout | null = null;
  private readonly backoff = new Backoff();
  private readonly problems: ProblemLog;
  private stopped = false;
  private readonly onMessage = (msg: Message): void => this.route(msg);

  constructor(
    private readonly bus: MessageBus,
    private readonly log: Logger,
  ) {
    super();
    this.problems = new ProblemLog(log, 'cannot use Avahi, not sharing with other machines');
  }

  /**
   * Starts following Avahi. Never fails and never waits for Avahi: when it is missing or unusable, that is
   * logged and retried, and it is picked up when it appears.
   */
  async start(): Promise<void> {
    this.bus.on('message', this.onMessage);
    await this.follow();
  }

  stop(): void {
    this.stopped = true;
    this.clearRetry();
    if (this.followRetry) clearTimeout(this.followRetry);
    this.bus.removeListener('message', this.onMessage);
    this.handlers.clear();
  }

  /** True while Avahi is on the bus, answers us, and its server is running. */
  get available(): boolean {
    return this.owner !== null && this.running;
  }

  /** Calls Avahi; object paths are only valid while `available`. */
  async call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return callMethod(this.bus, { destination: AVAHI_NAME, path, interface: iface, member, signature, body });
  }

  /** Calls a method of the server object that Server2 and Server both have (GetDomainName, …). */
  async callServer(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return (await this.callServerAs(member, member, signature, body)).reply;
  }

  /** Creates an object (an entry group, a browser, a resolver) and returns its path; see start(). */
  async create(kind: AvahiObjectKind, signature = '', body: unknown[] = []): Promise<string> {
    const owner = this.owner;
    const { server2, server } = CREATORS[kind];
    this.creating += 1;
    let result: { reply: unknown[]; server2: boolean };
    try {
      result = await this.callServerAs(server2, server, signature, body);
    } finally {
      this.creating -= 1;
    }
    const [path] = result.reply;
    if (typeof path !== 'string') throw new Error(`Avahi ${kind} creation returned no object path`);
    const prepared = result.server2 && server2 !== server;
    if (owner !== null && owner === this.owner) this.objects.set(path, { owner, prepared });
    if (this.creating === 0) {
      for (const held of this.early.keys()) if (!this.objects.has(held)) this.early.delete(held);
    }
    return path;
  }

  /** Starts a browser or resolver once its signals are watched; those made through Server run already. */
  async startObject(path: string, iface: string): Promise<void> {
    if (this.objects.get(path)?.prepared) await this.call(path, iface, 'Start');
  }

  /** Frees an object we created, unless it went away with the Avahi instance that held it. */
  async free(path: string, iface: string): Promise<void> {
    const object = this.objects.get(path);
    this.objects.delete(path);
    this.handlers.delete(path);
    this.early.delete(path);
    if (object === undefined || object.owner !== this.owner) return;
    try {
      await this.call(path, iface, 'Free');
    } catch (err) {
      this.log.debug(`freeing ${path}: ${(err as Error).message}`);
    }
  }

  /** Routes signals from the Avahi object at `path` to `handler` until freed. */
  watch(path: string, handler: SignalHandler): void {
    this.handlers.set(path, handler);
    const held = this.early.get(path);
    this.early.delete(path);
    for (const { member, body } of held ?? []) handler(member, body);
  }

  /**
   * Calls `member2` on Server2 or, once this Avahi instance has turned out not to offer it to us, `member` on
   * Server; tells which one answered.
   */
  private async callServerAs(
    member2: string,
    member: string,
    signature: string,
    body: unknown[],
  ): Promise<{ reply: unknown[]; server2: boolean }> {
    const owner = this.owner;
    if (this.api === 'Server2') {
      try {
        return { reply: await this.call('/', AvahiInterface.SERVER2, member2, signature, body), server2: true };
      } catch (err) {
        if (!isMissingMethod(err)) throw err;
        if (owner === this.owner && this.api === 'Server2') {
          this.api = 'Server';
          const reason = dbusErrorOf(err)?.name ?? (err as Error).message;
          this.log.info(
            `Avahi does not offer ${AvahiInterface.SERVER2}.${member2} (${reason}): using ${AvahiInterface.SERVER} until Avahi restarts`,
          );
        }
      }
    }
    return { reply: await this.call('/', AvahiInterface.SERVER, member, signature, body), server2: false };
  }

  /** Subscribes to Avahi's name and signals and looks for it on the bus; on failure, tries again later. */
  private async follow(): Promise<void> {
    try {
      await watchNameOwner(this.bus, AVAHI_NAME);
      await addMatch(this.bus, `type='signal',sender='${AVAHI_NAME}'`);
      let owner: string | null = null;
      try {
        const [name] = await callBusDaemon(this.bus, 'GetNameOwner', 's', [AVAHI_NAME]);
        if (typeof name === 'string') owner = name;
      } catch (err) {
        if (dbusErrorOf(err)?.name !== 'org.freedesktop.DBus.Error.NameHasNoOwner') throw err;
        this.log.info('Avahi is not running: sharing with other machines starts when it appears');
      }
      // A NameOwnerChanged may have been handled while we asked: that one is newer.
      if (this.owner === null && !this.stopped) this.ownerChanged(owner);
    } catch (err) {
      if (this.stopped) return;
      const delay = this.backoff.next();
      this.problems.report(err, delay, 'cannot follow Avahi on the bus: ');
      this.followRetry = setTimeout(() => void this.follow(), delay);
      this.followRetry.unref();
    }
  }

  private route(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    const newOwner = nameOwnerChange(msg, AVAHI_NAME);
    if (newOwner !== undefined) {
      this.ownerChanged(newOwner);
      return;
    }
    if (this.owner === null || msg.sender !== this.owner) return;
    if (msg.path === '/' && msg.member === 'StateChanged') {
      if (this.usable) this.setRunning(Number(msg.body[0]) === ServerState.RUNNING);
      else this.stateSignalled = true;
      return;
    }
    const handler = this.handlers.get(msg.path);
    if (handler) {
      handler(msg.member, msg.body);
    } else if (this.creating > 0 || this.objects.has(msg.path)) {
      const held = this.early.get(msg.path) ?? [];
      held.push({ member: msg.member, body: msg.body });
      this.early.set(msg.path, held);
    }
  }

  private ownerChanged(owner: string | null): void {
    if (owner === this.owner || this.stopped) return;
    if (this.owner !== null) this.setRunning(false);
    this.owner = owner;
    this.usable = false;
    this.api = 'Server2';
    this.objects.clear();
    this.early.clear();
    this.clearRetry();
    this.backoff.reset();
    this.problems.forget(); // a new instance's trouble is news, whatever the last one's was
    if (owner === null) {
      this.log.info('Avahi left the bus: no longer advertising');
      return;
    }
    void this.connect(owner);
  }

  /** Asks a new Avahi instance for its state, deciding on the way between Server2 and Server; retried on failure. */
  private async connect(owner: string): Promise<void> {
    try {
      let state: unknown;
      do {
        this.stateSignalled = false;
        [state] = await this.callServer('GetState');
        if (owner !== this.owner || this.stopped) return;
      } while (this.stateSignalled);
      this.usable = true;
      this.backoff.reset();
      this.problems.resolved();
      this.log.debug(`Avahi answers through ${this.api === 'Server2' ? AvahiInterface.SERVER2 : AvahiInterface.SERVER}`);
      this.setRunning(Number(state) === ServerState.RUNNING);
    } catch (err) {
      if (owner !== this.owner) return;
      this.retryLater(err, 'Avahi is on the bus but does not answer: ', () => void this.connect(owner));
    }
  }

  private retryLater(problem: unknown, context: string, again: () => void): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.problems.report(problem, delay, context);
    this.clearRetry();
    this.retry = setTimeout(() => {
      this.retry = null;
      again();
    }, delay);
    this.retry.unref();
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private setRunning(running: boolean): void {
    if (running === this.running) return;
    this.running = running;
    if (running) {
      this.log.debug('Avahi is running');
      this.emit('up');
    } else {
      // Avahi drops our objects when it restarts, and asks clients to re-register after a host name change.
      this.handlers.clear();
      this.emit('down');
    }
  }
}

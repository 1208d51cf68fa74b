import { EventEmitter } from 'node:events';
import { Message, MessageType, addMatch, callBusDaemon, callMethod, dbusErrorOf, nameOwnerChange, watchNameOwner, type MessageBus } from '../../shared/dbus/bus.js';
import type { Logger } from '../../shared/log.js';

/** Names and numbers of the Avahi D-Bus API (/usr/share/dbus-1/interfaces/org.freedesktop.Avahi.*.xml). */
export const AVAHI_NAME = 'org.freedesktop.Avahi';
export const AvahiInterface = {
  SERVER: 'org.freedesktop.Avahi.Server2',
  ENTRY_GROUP: 'org.freedesktop.Avahi.EntryGroup',
  SERVICE_BROWSER: 'org.freedesktop.Avahi.ServiceBrowser',
  SERVICE_RESOLVER: 'org.freedesktop.Avahi.ServiceResolver',
} as const;
export const IF_UNSPEC = -1;
export const Protocol = { UNSPEC: -1, INET: 0, INET6: 1 } as const;
export const ServerState = { INVALID: 0, REGISTERING: 1, RUNNING: 2, COLLISION: 3, FAILURE: 4 } as const;
export const LookupResultFlag = { CACHED: 0x1, WIDE_AREA: 0x2, MULTICAST: 0x4, LOCAL: 0x8, OUR_OWN: 0x10, STATIC: 0x20 } as const;


export type SignalHandler = (member: string, body: unknown[]) => void;

export interface AvahiEvents {
  /** Avahi is on the bus and its server is running: register and browse (again). */
  up: [];
  /** Avahi left the bus or its server stopped running: every object we had there is gone. */
  down: [];
}

/**
 * Our connection to the system Avahi daemon: follows it appearing, restarting and leaving the bus, and routes
 * the signals of the objects (entry groups, browsers, resolvers) we create there to their owners.
 */
export class Avahi extends EventEmitter<AvahiEvents> {
  private owner: string | null = null;
  private running = false;
  private readonly handlers = new Map<string, SignalHandler>();
  /** Objects we created, with the Avahi instance (bus owner) they live in: a restarted Avahi reuses paths. */
  private readonly objects = new Map<string, string>();
  /**
   * Signals for objects whose creation reply we have read but not yet handed to the caller: dbus-next delivers
   * every message of a read before promise continuations run, and Avahi may emit (a resolver's Found) at once.
   */
  private readonly early = new Map<string, { member: string; body: unknown[] }[]>();
  private creating = 0;
  private readonly onMessage = (msg: Message): void => this.route(msg);

  constructor(
    private readonly bus: MessageBus,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Starts following Avahi; resolves even when Avahi is not running (it is picked up when it appears). */
  async start(): Promise<void> {
    this.bus.on('message', this.onMessage);
    await watchNameOwner(this.bus, AVAHI_NAME);
    await addMatch(this.bus, `type='signal',sender='${AVAHI_NAME}'`);
    try {
      const [owner] = await callBusDaemon(this.bus, 'GetNameOwner', 's', [AVAHI_NAME]);
      await this.ownerChanged(typeof owner === 'string' ? owner : null);
    } catch (err) {
      if (dbusErrorOf(err)?.name !== 'org.freedesktop.DBus.Error.NameHasNoOwner') throw err;
      this.log.info('Avahi is not running: sharing with other machines starts when it appears');
    }
  }

  stop(): void {
    this.bus.removeListener('message', this.onMessage);
    this.handlers.clear();
  }

  /** True while Avahi is on the bus with a running server. */
  get available(): boolean {
    return this.owner !== null && this.running;
  }

  /** Calls Avahi; object paths are only valid while `available`. */
  async call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return callMethod(this.bus, { destination: AVAHI_NAME, path, interface: iface, member, signature, body });
  }

  /** Creates an object through a Server2 method that returns its path (EntryGroupNew, *Prepare). */
  async create(member: string, signature = '', body: unknown[] = []): Promise<string> {
    const owner = this.owner;
    this.creating += 1;
    let path: unknown;
    try {
      [path] = await this.call('/', AvahiInterface.SERVER, member, signature, body);
    } finally {
      this.creating -= 1;
    }
    if (typeof path !== 'string') throw new Error(`Avahi ${member} returned no object path`);
    if (owner !== null) this.objects.set(path, owner);
    if (this.creating === 0) {
      for (const held of this.early.keys()) if (!this.objects.has(held)) this.early.delete(held);
    }
    return path;
  }

  /** Frees an object we created, unless it went away with the Avahi instance that held it. */
  async free(path: string, iface: string): Promise<void> {
    const owner = this.objects.get(path);
    this.objects.delete(path);
    this.handlers.delete(path);
    this.early.delete(path);
    if (owner === undefined || owner !== this.owner) return;
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

  private route(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    const newOwner = nameOwnerChange(msg, AVAHI_NAME);
    if (newOwner !== undefined) {
      void this.ownerChanged(newOwner).catch((err: unknown) => this.log.warn(`following Avahi: ${(err as Error).message}`));
      return;
    }
    if (this.owner === null || msg.sender !== this.owner) return;
    if (msg.path === '/' && msg.member === 'StateChanged') {
      this.serverStateChanged(Number(msg.body[0]));
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

  private async ownerChanged(owner: string | null): Promise<void> {
    if (owner === this.owner) return;
    if (this.owner !== null) this.setRunning(false);
    this.owner = owner;
    this.objects.clear();
    this.early.clear();
    if (owner === null) {
      this.log.info('Avahi left the bus: no longer advertising');
      return;
    }
    const [state] = await this.call('/', AvahiInterface.SERVER, 'GetState');
    if (owner === this.owner) this.serverStateChanged(Number(state));
  }

  private serverStateChanged(state: number): void {
    this.setRunning(state === ServerState.RUNNING);
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

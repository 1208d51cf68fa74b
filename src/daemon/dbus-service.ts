// SPDX-License-Identifier: LGPL-2.1-or-later
// The org.freedesktop.Passim object on the system bus: a front end to the store.
// Its errors' messages go out in English, as the log has them: passimd cannot know the language of each
// caller, GLib clients show the text as it came, and passimctl translates the messages it recognises.
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Authorizer, Action } from './authorization.js';
import type { Callers } from './callers.js';
import { Attribute, BUS_NAME, GET_ITEMS_MAX, INTERFACE, ITEMS_PAGE_MAX, OBJECT_PATH, Status } from '../shared/api.js';
import {
  INTROSPECTABLE_INTERFACE as INTROSPECTABLE,
  Message,
  MessageFlag,
  MessageType,
  PROPERTIES_INTERFACE as PROPERTIES,
  Variant,
  errorReply,
  type MessageBus,
} from '../shared/dbus/bus.js';
import { claimDescriptors, closeDescriptors } from '../shared/dbus/dbus-next-patches.js';
import { PassimError, toPassimError } from '../shared/errors.js';
import { N_, type Translatable } from '../shared/i18n.js';
import { DEFAULT_MAX_AGE, DEFAULT_SHARE_LIMIT, ItemFlags, type Item } from '../shared/item.js';
import type { Logger } from '../shared/log.js';
import { readProgramName } from './proc.js';
import { openPublishSource } from './store/publish-source.js';
import type { Store, StoreChange } from './store/store.js';
import type { NeighbourView } from './lan/neighbour-summaries.js';
import { dayOf, type TrafficLedger } from './traffic-ledger.js';
import type { TransferReports } from './transfer-reports.js';

/** The interface description shipped in dbus/: served as-is by Introspect, so it cannot drift from what we export. */
export const INTERFACE_XML_URL = new URL('../../dbus/org.freedesktop.Passim.xml', import.meta.url);

const STANDARD_INTERFACES_XML = `
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg type="s" name="machine_uuid" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg type="s" name="xml_data" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg type="s" name="interface_name" direction="in"/><arg type="s" name="property_name" direction="in"/><arg type="v" name="value" direction="out"/></method>
    <method name="GetAll"><arg type="s" name="interface_name" direction="in"/><arg type="a{sv}" name="properties" direction="out"/></method>
    <method name="Set"><arg type="s" name="interface_name" direction="in"/><arg type="s" name="property_name" direction="in"/><arg type="v" name="value" direction="in"/></method>
    <signal name="PropertiesChanged"><arg type="s" name="interface_name"/><arg type="a{sv}" name="changed_properties"/><arg type="as" name="invalidated_properties"/></signal>
  </interface>
`;

/** Signals about shares go out at most this often. */
const SHARE_SIGNAL_INTERVAL_MS = 1000;
/** Days of traffic in the Traffic property: what the status page's chart shows. */
export const TRAFFIC_PROPERTY_DAYS = 30;
/** The neighbours are looked at this often for a change to signal: they tell nobody when they change. */
const NEIGHBOUR_POLL_MS = 5000;

export interface PassimServiceOptions {
  bus: MessageBus;
  store: Store;
  authorizer: Authorizer;
  /** Who is behind each caller's connection. */
  callers: Callers;
  log: Logger;
  version: string;
  uri: string;
  name: string;
  /** kg CO₂e per GB, for CarbonSaving. */
  carbonCost: number;
  /** The owner's limits from passim.conf, shown as properties (0 is no limit). */
  limits: { maxUploadRate: number; maxConnections: number; maxStorageSize: number };
  /** Called as each method call starts and ends: the daemon's idle timer restarts. */
  onActivity?: () => void;
  /** Bytes moved per day: the Traffic property, and where ReportTransfer adds. */
  traffic: TrafficLedger;
  /** Which ReportTransfer calls are believed. */
  reports: TransferReports;
  /** The neighbours seen on the LAN now. */
  neighbours: () => NeighbourView[];
}

/** A variant in an incoming a{sv}, as dbus-next decodes it. */
interface IncomingVariant {
  signature: string;
  value: unknown;
}

/** The org.freedesktop.Passim object on the system bus: a front end to the store. */
export class PassimService {
  private status: Status = Status.STARTING;
  private name: string;
  private readonly introspectionXml: string;
  /** Method calls received and not yet answered. */
  private inFlight = 0;
  /** Streams of publishes under way, so that shutdown can abort them. */
  private readonly sources = new Set<Readable>();
  private readonly handler = (msg: Message): boolean => {
    try {
      return this.dispatch(msg);
    } catch (err) {
      // Only a bug can get here; the caller still gets an answer and the daemon stays up.
      this.options.log.warn(`${msg.member} from ${msg.sender} failed: ${(err as Error).message}`);
      this.options.bus.send(errorReply(msg, toPassimError(err).dbusName, String(N_('Internal error'))));
      return true;
    }
  };
  /** Set while a share's signals wait: a busy item is shared thousands of times a second. */
  private sharedSignal: NodeJS.Timeout | undefined;
  /** Set while the signals of an added or removed item wait for the reply to the call that changed it. */
  private changeSignal: NodeJS.Immediate | undefined;
  /** The ItemCount last signalled, so that shares (which leave it alone) do not repeat it. */
  private signalledItemCount: number | undefined;
  /** Set while a Traffic signal waits: bytes are counted thousands of times a second. */
  private trafficSignal: NodeJS.Timeout | undefined;
  private readonly onTrafficChanged = (): void => {
    this.trafficSignal ??= setTimeout(() => {
      this.trafficSignal = undefined;
      this.emitPropertiesChanged(['Traffic']);
    }, SHARE_SIGNAL_INTERVAL_MS);
  };
  private neighbourPoll: NodeJS.Timeout | undefined;
  private signalledNeighbours = '';
  private readonly onStoreChanged = (change: StoreChange): void => {
    if (change !== 'shared') {
      // After this turn of the event loop: the caller's reply goes first, and a burst is signalled once.
      this.changeSignal ??= setImmediate(() => this.signalChanges());
      return;
    }
    // Shares change only the savings and share-counts: one round of signals per interval is enough.
    this.sharedSignal ??= setTimeout(() => this.signalChanges(), SHARE_SIGNAL_INTERVAL_MS);
  };

  constructor(private readonly options: PassimServiceOptions) {
    this.name = options.name;
    this.introspectionXml = introspectionFromInterfaceFile(readFileSync(INTERFACE_XML_URL, 'utf8'));
  }

  /** Starts answering calls and takes the bus name; fails if another daemon owns it. */
  async start(): Promise<void> {
    const { bus } = this.options;
    bus.addMethodHandler(this.handler);
    this.signalledItemCount = this.options.store.size;
    this.options.store.on('changed', this.onStoreChanged);
    this.options.traffic.on('changed', this.onTrafficChanged);
    this.signalledNeighbours = JSON.stringify(this.options.neighbours());
    this.neighbourPoll = setInterval(() => {
      const now = JSON.stringify(this.options.neighbours());
      if (now === this.signalledNeighbours) return;
      this.signalledNeighbours = now;
      this.emitPropertiesChanged(['Neighbours']);
    }, NEIGHBOUR_POLL_MS).unref();
    const DO_NOT_QUEUE = 0x4;
    const PRIMARY_OWNER = 1;
    const reply = await bus.requestName(BUS_NAME, DO_NOT_QUEUE);
    if (reply !== PRIMARY_OWNER) {
      this.stop();
      throw new PassimError('exists', N_('{name} is already owned by another process: is passimd already running?', { name: BUS_NAME }));
    }
  }

  /** Method calls being worked on: an idle exit waits for them. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Gives up the bus name, for an idle exit: calls from then on start a new daemon (D-Bus activation).
   * Calls that reached us before are still answered; once this resolves, all of them are counted in callsInFlight.
   */
  async releaseName(): Promise<void> {
    await this.options.bus.releaseName(BUS_NAME);
  }

  private signalChanges(): void {
    clearTimeout(this.sharedSignal);
    this.sharedSignal = undefined;
    clearImmediate(this.changeSignal);
    this.changeSignal = undefined;
    const itemCount = this.options.store.size;
    const countChanged = itemCount !== this.signalledItemCount;
    this.signalledItemCount = itemCount;
    this.emitPropertiesChanged(['DownloadSaving', 'CarbonSaving', ...(countChanged ? ['ItemCount'] : [])]);
    this.emitChanged();
  }

  stop(): void {
    clearTimeout(this.sharedSignal);
    clearImmediate(this.changeSignal);
    clearTimeout(this.trafficSignal);
    clearInterval(this.neighbourPoll);
    this.options.bus.removeMethodHandler(this.handler);
    this.options.store.off('changed', this.onStoreChanged);
    this.options.traffic.off('changed', this.onTrafficChanged);
  }

  /** Aborts the publishes under way: their callers get an error and their temporary files are removed. */
  abortPublishes(reason: string): void {
    for (const source of this.sources) source.destroy(new PassimError('internal', N_('Publish aborted: {reason}', { reason })));
  }

  setStatus(status: Status): void {
    if (status === this.status) return;
    this.status = status;
    this.emitPropertiesChanged(['Status']);
    this.emitChanged();
  }

  setName(name: string): void {
    if (name === this.name) return;
    this.name = name;
    this.emitPropertiesChanged(['Name']);
    this.emitChanged();
  }

  /** Each property's value, computed only when asked for: a signal names a few of them. */
  private readonly propertyValues: Record<string, () => Variant> = {
    DaemonVersion: () => new Variant('s', this.options.version),
    Uri: () => new Variant('s', this.options.uri),
    Name: () => new Variant('s', this.name),
    Status: () => new Variant('u', this.status),
    DownloadSaving: () => new Variant('t', BigInt(this.options.store.downloadSaving)),
    CarbonSaving: () => new Variant('d', ((this.options.store.downloadSaving / (1024 * 1024)) * this.options.carbonCost) / 1024),
    MaxUploadRate: () => new Variant('t', BigInt(this.options.limits.maxUploadRate)),
    MaxConnections: () => new Variant('u', this.options.limits.maxConnections),
    MaxStorageSize: () => new Variant('t', BigInt(this.options.limits.maxStorageSize)),
    ItemCount: () => new Variant('u', this.options.store.size),
    Traffic: () =>
      new Variant(
        'a(stttt)',
        this.options.traffic
          .lastDays(TRAFFIC_PROPERTY_DAYS)
          .map((d) => [d.day, BigInt(d.servedToNeighbours), BigInt(d.servedLocally), BigInt(d.fromNeighbours), BigInt(d.fromOrigin)]),
      ),
    Neighbours: () =>
      new Variant(
        'a(sqbix)',
        this.options.neighbours().map((n) => [n.address, n.port, n.summary, n.items ?? -1, BigInt(Math.floor(n.lastSeen / 1000))]),
      ),
  };

  private properties(names: string[] = Object.keys(this.propertyValues)): Record<string, Variant> {
    const values: Record<string, Variant> = {};
    for (const name of names) {
      // Own keys only: a caller's name such as "constructor" must not reach the prototype.
      if (Object.hasOwn(this.propertyValues, name)) values[name] = (this.propertyValues[name] as () => Variant)();
    }
    return values;
  }

  private emitChanged(): void {
    this.options.bus.send(Message.newSignal(OBJECT_PATH, INTERFACE, 'Changed', '', []));
  }

  private emitPropertiesChanged(names: string[]): void {
    const changed = this.properties(names);
    this.options.bus.send(Message.newSignal(OBJECT_PATH, PROPERTIES, 'PropertiesChanged', 'sa{sv}as', [INTERFACE, changed, []]));
  }

  /** Returns true when the message is ours; replies asynchronously. */
  private dispatch(msg: Message): boolean {
    if (msg.type !== MessageType.METHOD_CALL || msg.path !== OBJECT_PATH) return false;
    const reply = (signature = '', body: unknown[] = []): void => {
      this.options.bus.send(Message.newMethodReturn(msg, signature, body));
    };
    const fail = (err: unknown): void => {
      const error = toPassimError(err);
      if (error.kind === 'internal') this.options.log.warn(`${msg.member} from ${msg.sender} failed: ${error.message}`);
      else this.options.log.debug(`${msg.member} from ${msg.sender} refused: ${error.message}`);
      this.options.bus.send(errorReply(msg, error.dbusName, error.message));
    };
    const run = (work: () => Promise<void> | void): boolean => {
      this.inFlight += 1;
      this.options.onActivity?.();
      Promise.resolve()
        .then(work)
        .catch(fail)
        .finally(() => {
          this.inFlight -= 1;
          this.options.onActivity?.();
        });
      return true;
    };

    switch (`${msg.interface}.${msg.member}`) {
      case `${INTROSPECTABLE}.Introspect`:
        return run(() => reply('s', [this.introspectionXml]));
      case `${PROPERTIES}.Get`:
        return run(() => {
          expectSignature(msg, 'ss', N_('Get takes an interface and a property name (ss)'));
          const [iface, prop] = msg.body as [string, string];
          const value = iface === INTERFACE ? this.properties([prop])[prop] : undefined;
          if (!value) throw new PassimError('invalid-argument', N_('No such property: {property}', { property: `${iface}.${prop}` }));
          reply('v', [value]);
        });
      case `${PROPERTIES}.GetAll`:
        return run(() => {
          expectSignature(msg, 's', N_('GetAll takes an interface name (s)'));
          const [iface] = msg.body as [string];
          reply('a{sv}', [iface === INTERFACE ? this.properties() : {}]);
        });
      case `${PROPERTIES}.Set`:
        return run(() => {
          throw new PassimError('invalid-argument', N_('All properties of {interface} are read-only', { interface: INTERFACE }));
        });
      case `${INTERFACE}.GetItems`:
        return run(() => {
          expectSignature(msg, '', N_('GetItems takes no arguments'));
          reply('aa{sv}', [this.options.store.page(0, GET_ITEMS_MAX).map(itemToDict)]);
        });
      case `${INTERFACE}.GetItemsPage`:
        return run(() => {
          // TRANSLATORS: uu is a D-Bus type signature, keep it as it is
          expectSignature(msg, 'uu', N_('GetItemsPage takes an offset and a limit (uu)'));
          const [offset, limit] = msg.body as [number, number];
          if (limit > ITEMS_PAGE_MAX) {
            throw new PassimError(
              'invalid-argument',
              N_('GetItemsPage takes at most {max} items at a time, not {limit}', { max: ITEMS_PAGE_MAX, limit }),
            );
          }
          reply('aa{sv}', [this.options.store.page(offset, limit).map(itemToDict)]);
        });
      case `${INTERFACE}.ReportTransfer`:
        return run(async () => {
          // TRANSLATORS: sst is a D-Bus type signature, keep it as it is
          expectSignature(msg, 'sst', N_('ReportTransfer takes a hash, a source and a byte count (sst)'));
          const [hash, source, bytes] = msg.body as [string, string, bigint];
          const uid = await this.options.callers.uid(msg.sender);
          const now = Date.now();
          const counted = this.options.reports.accept(
            { uid, hash: hash.toLowerCase(), source, bytes: Number(bytes), day: dayOf(now) },
            now,
          );
          this.options.traffic.add(source === 'neighbour' ? 'fromNeighbours' : 'fromOrigin', counted, now);
          reply('t', [BigInt(counted)]);
        });
      case `${INTERFACE}.Publish`: {
        // Claimed now, while the message is being delivered; unclaimed descriptors are closed right after.
        const fds = claimDescriptors();
        return run(async () => {
          const { item, by } = await this.publish(msg, fds);
          // The caller's wait ends first: a log line is a write to stderr.
          reply();
          this.options.log.info(`published ${item.hash} (${item.basename}, ${item.size} bytes) for ${by}`);
        });
      }
      case `${INTERFACE}.Unpublish`:
        return run(async () => {
          expectSignature(msg, 's', N_('Unpublish takes one argument: the hash (s)'));
          await this.authorize('unpublish', msg);
          const item = await this.options.store.unpublish(String(msg.body[0]).toLowerCase());
          reply();
          this.options.log.info(`unpublished ${item.hash} (${item.basename})`);
        });
      default:
        if (msg.interface === INTERFACE || msg.interface === PROPERTIES || msg.interface === INTROSPECTABLE) {
          const text = N_('No method {method} on {interface}', { method: msg.member ?? '', interface: msg.interface ?? '' });
          this.options.bus.send(errorReply(msg, 'org.freedesktop.DBus.Error.UnknownMethod', String(text)));
          return true;
        }
        return false; // org.freedesktop.DBus.Peer and the like: dbus-next answers those
    }
  }

  private authorize(action: Action, msg: Message): Promise<void> {
    const interactive = (msg.flags & MessageFlag.ALLOW_INTERACTIVE_AUTHORIZATION) !== 0;
    return this.options.authorizer.authorize(action, { sender: msg.sender, interactive });
  }

  /**
   * Like the original, the descriptor is the one attached to the message, whatever the handle says:
   * libpassim sends its own descriptor number as the handle instead of an index.
   */
  /** Stores the file passed; resolves with the item and who published it (its program, else its bus name). */
  private async publish(msg: Message, fds: number[]): Promise<{ item: Item; by: string }> {
    let owned = [...fds]; // ours to close until a stream takes one over
    try {
      // TRANSLATORS: ha{sv} is a D-Bus type signature, keep it as it is
      expectSignature(msg, 'ha{sv}', N_('Publish takes a file descriptor and a dictionary of attributes (ha{sv})'));
      if (fds.length !== 1) {
        throw new PassimError(
          'invalid-argument',
          N_('Publish needs exactly one file descriptor attached to the call, not {count}', { count: fds.length }),
        );
      }
      const [, attrs] = msg.body as [number, Record<string, IncomingVariant>];
      const options = parsePublishAttributes(attrs);
      await this.authorize('publish', msg);
      const cmdline = await this.callerProgram(msg.sender);
      const fd = owned[0] as number;
      owned = [];
      const source = openPublishSource(fd);
      const stream = Buffer.isBuffer(source) ? undefined : source;
      if (stream) this.sources.add(stream);
      try {
        const item = await this.options.store.publish(source, { ...options, cmdline });
        return { item, by: cmdline || msg.sender };
      } finally {
        if (stream) {
          this.sources.delete(stream);
          stream.destroy();
        }
      }
    } finally {
      closeDescriptors(owned);
    }
  }

  private async callerProgram(sender: string): Promise<string> {
    try {
      const { pid } = await this.options.callers.credentials(sender);
      return pid === undefined ? '' : await readProgramName(pid);
    } catch (err) {
      this.options.log.debug(`cannot tell which program ${sender} is: ${(err as Error).message}`);
      return '';
    }
  }
}

/** Strips the doc comments (busctl and GDBus reject or ignore them) and adds the standard interfaces. */
export function introspectionFromInterfaceFile(xml: string): string {
  return xml
    .replace(/<doc:doc>[\s\S]*?<\/doc:doc>\s*/g, '')
    .replace(/\s+xmlns:doc="[^"]*"/, '')
    .replace('</node>', `${STANDARD_INTERFACES_XML}</node>`);
}

function expectSignature(msg: Message, signature: string, usage: Translatable): void {
  if (msg.signature !== signature) throw new PassimError('invalid-argument', usage);
}

function attribute<T>(attrs: Record<string, IncomingVariant>, { key, type }: { key: string; type: string }, fallback: T): T {
  const variant = attrs[key];
  if (variant === undefined) return fallback;
  if (variant.signature !== type) {
    // TRANSLATORS: {type} and {actual} are D-Bus type signatures such as "t" or "s"
    throw new PassimError(
      'invalid-argument',
      N_('Attribute {key} must have type {type}, not {actual}', { key, type, actual: variant.signature }),
    );
  }
  return variant.value as T;
}

function parsePublishAttributes(attrs: Record<string, IncomingVariant>) {
  const basename = attribute<string>(attrs, Attribute.filename, '');
  if (basename === '') throw new PassimError('invalid-argument', N_('The filename attribute is required'));
  const flags = attribute<bigint>(attrs, Attribute.flags, 0n);
  return {
    basename,
    maxAge: attribute<number>(attrs, Attribute.maxAge, DEFAULT_MAX_AGE),
    shareLimit: attribute<number>(attrs, Attribute.shareLimit, DEFAULT_SHARE_LIMIT),
    shareCount: attribute<number>(attrs, Attribute.shareCount, 0),
    nextReboot: (flags & BigInt(ItemFlags.NEXT_REBOOT)) !== 0n,
  };
}

/** One GetItems entry; keys whose value is zero or empty are left out, as the original does. */
function itemToDict(item: Item): Record<string, Variant> {
  const dict: Record<string, Variant> = {};
  const put = ({ key, type }: { key: string; type: string }, value: string | number | bigint): void => {
    if (value === '' || value === 0 || value === 0n) return;
    dict[key] = new Variant(type, value);
  };
  put(Attribute.hash, item.hash);
  put(Attribute.filename, item.basename);
  put(Attribute.cmdline, item.cmdline);
  put(Attribute.maxAge, item.maxAge);
  put(Attribute.shareLimit, item.shareLimit);
  put(Attribute.shareCount, item.shareCount);
  put(Attribute.size, BigInt(item.size));
  put(Attribute.flags, BigInt(item.flags));
  put(Attribute.ctime, BigInt(item.ctime));
  return dict;
}

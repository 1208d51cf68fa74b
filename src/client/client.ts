// SPDX-License-Identifier: LGPL-2.1-or-later
// A typed client of the org.freedesktop.Passim API, the TypeScript counterpart of libpassim.
import { Attribute, BUS_NAME, INTERFACE, OBJECT_PATH } from '../shared/api.js';
import {
  MessageFlag,
  PROPERTIES_INTERFACE,
  Variant,
  callMethod,
  connectSystemBus,
  dbusErrorOf,
  isNobodyAnswered,
  type MessageBus,
} from '../shared/dbus/bus.js';
import { PassimError, errnoCode, errorKindOfDBusName } from '../shared/errors.js';
import { N_, type Translatable } from '../shared/i18n.js';
import { ItemFlags, type Item } from '../shared/item.js';
import { withTimeout } from '../shared/timeout.js';

/** The libdbus default: a query the daemon never answers fails instead of hanging the CLI. */
const CALL_TIMEOUT_MS = 25_000;

export interface DaemonProperties {
  daemonVersion: string;
  uri: string;
  name: string;
  status: number;
  /** Bytes served to other machines. */
  downloadSaving: number;
  /** kg CO₂e. */
  carbonSaving: number;
  /** The owner's limits (0 is no limit); 0 from a daemon that does not have them (the original). */
  maxUploadRate: number;
  maxConnections: number;
  maxStorageSize: number;
  /** Items the daemon holds; undefined from a daemon without the property (the original). */
  itemCount: number | undefined;
  /** Bytes per day, oldest first; empty from a daemon without the property (the original). */
  traffic: DayTraffic[];
  /** Neighbours seen on the LAN; empty from a daemon without the property. */
  neighbours: Neighbour[];
}

/** One day of the Traffic property. */
export interface DayTraffic {
  day: string;
  servedToNeighbours: number;
  servedLocally: number;
  fromNeighbours: number;
  fromOrigin: number;
}

/** One entry of the Neighbours property. */
export interface Neighbour {
  address: string;
  port: number;
  summary: boolean;
  /** Entries of its summary the daemon holds; undefined when it holds none. */
  items: number | undefined;
  /** Unix seconds. */
  lastSeen: number;
}

/** One entry of GetItems(): the daemon's item under its wire name `filename`; keys it left out are 0 or ''. */
export type RemoteItem = Omit<Item, 'path' | 'basename'> & { filename: string };

export interface PublishRequest {
  filename: string;
  maxAge?: number;
  shareLimit?: number;
  shareCount?: number;
  /** Only share the item after the machine has rebooted. */
  nextReboot?: boolean;
}

export interface CallOptions {
  /** Let polkit ask the user for a password (only sensible with a terminal). */
  interactive?: boolean;
}

interface InternalCallOptions extends CallOptions {
  interface?: string;
  /**
   * Milliseconds to wait for the reply; undefined waits as long as the bus connection lives, for calls
   * that legitimately take long (a password prompt, reading a multi-gigabyte file). The bus itself
   * answers with an error if the daemon goes away meanwhile.
   */
  timeoutMs?: number;
}

/** Socket errors in words: the usocket binding's own messages name its C++ source lines. */
const SOCKET_ERRORS: Record<string, Translatable> = {
  ENOENT: N_('no system bus socket (No such file or directory)'),
  ECONNREFUSED: N_('the system bus refused the connection'),
  EACCES: N_('permission denied opening the system bus socket'),
  ECONNRESET: N_('the system bus closed the connection'),
  EPIPE: N_('the system bus closed the connection'),
};

function reasonOf(err: unknown): Translatable | string {
  const code = errnoCode(err);
  if (code !== undefined && SOCKET_ERRORS[code] !== undefined) return SOCKET_ERRORS[code];
  return err instanceof Error ? err.message : String(err);
}

function unreachable(reason: Translatable | string, cause?: unknown): PassimError {
  // TRANSLATORS: {reason} says why, e.g. "the system bus refused the connection"
  return new PassimError('internal', N_('Failed to connect to daemon: {reason}', { reason }), { cause });
}

/** Turns whatever a call rejected with into a PassimError whose kind mirrors the D-Bus error name. */
function fromCallError(err: unknown): PassimError {
  if (err instanceof PassimError) return err;
  const dbusError = dbusErrorOf(err);
  if (!dbusError) return unreachable(reasonOf(err), err);
  if (isNobodyAnswered(dbusError.name)) return unreachable(dbusError.text || dbusError.name, err);
  return new PassimError(errorKindOfDBusName(dbusError.name) ?? 'internal', dbusError.text || dbusError.name, { cause: err });
}

/** The value of a variant as dbus-next decodes it. */
function variantValue(v: unknown): unknown {
  return v instanceof Variant ? (v as { value: unknown }).value : v;
}

function asString(v: unknown): string {
  const value = variantValue(v);
  return typeof value === 'string' ? value : '';
}

/** u, d, t and x all become a JS number; t and x arrive as bigint. */
function asNumber(v: unknown): number {
  const value = variantValue(v);
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return 0;
}

/** The members of an array of structs, each as an array; anything else is none. */
function structs(v: unknown): unknown[][] {
  const value = variantValue(v);
  return Array.isArray(value) ? value.filter((entry): entry is unknown[] => Array.isArray(entry)) : [];
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The items of a GetItems or GetItemsPage reply. */
function remoteItems(method: string, body: unknown[]): RemoteItem[] {
  const [items] = body;
  if (!Array.isArray(items)) throw new PassimError('internal', N_('unexpected reply to {method}', { method }));
  return items.filter(isDict).map((d) => ({
    hash: asString(d[Attribute.hash.key]),
    filename: asString(d[Attribute.filename.key]),
    cmdline: asString(d[Attribute.cmdline.key]),
    maxAge: asNumber(d[Attribute.maxAge.key]),
    shareLimit: asNumber(d[Attribute.shareLimit.key]),
    shareCount: asNumber(d[Attribute.shareCount.key]),
    size: asNumber(d[Attribute.size.key]),
    flags: asNumber(d[Attribute.flags.key]),
    ctime: asNumber(d[Attribute.ctime.key]),
  }));
}

/** Whether a call failed because the daemon has no such method: the original has none of our extensions. */
export function isUnknownMethod(err: unknown): boolean {
  return err instanceof PassimError && dbusErrorOf(err.cause)?.name === 'org.freedesktop.DBus.Error.UnknownMethod';
}

/** A typed client of the org.freedesktop.Passim system-bus API. */
export class PassimClient {
  private readonly bus: MessageBus;
  /** Rejects when the bus connection fails, so pending calls end instead of waiting forever. */
  private readonly broken: Promise<never>;

  private constructor(bus: MessageBus) {
    this.bus = bus;
    this.broken = new Promise<never>((_, reject) => {
      bus.on('error', (err: unknown) => reject(unreachable(reasonOf(err), err)));
    });
    // Nobody may be awaiting a call when the bus breaks; that must not become an unhandled rejection.
    this.broken.catch(() => {});
  }

  /** Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS or the default socket) with unix-fd passing. */
  static async connect(): Promise<PassimClient> {
    try {
      const bus = await withTimeout(connectSystemBus({ passDescriptors: true }), CALL_TIMEOUT_MS, () =>
        unreachable(N_('timed out connecting to the system bus')),
      );
      return new PassimClient(bus);
    } catch (err) {
      throw err instanceof PassimError ? err : unreachable(reasonOf(err), err);
    }
  }

  private async call(member: string, signature: string, body: unknown[], options: InternalCallOptions): Promise<unknown[]> {
    const { timeoutMs } = options;
    try {
      const flags = options.interactive ? MessageFlag.ALLOW_INTERACTIVE_AUTHORIZATION : 0;
      const reply = Promise.race([
        callMethod(this.bus, {
          destination: BUS_NAME,
          path: OBJECT_PATH,
          interface: options.interface ?? INTERFACE,
          member,
          signature,
          body,
          flags,
        }),
        this.broken,
      ]);
      if (timeoutMs === undefined) return await reply;
      return await withTimeout(reply, timeoutMs, () =>
        unreachable(N_('no reply to {method} within {seconds} s', { method: member, seconds: timeoutMs / 1000 })),
      );
    } catch (err) {
      throw fromCallError(err);
    }
  }

  async getProperties(): Promise<DaemonProperties> {
    const [props] = await this.call('GetAll', 's', [INTERFACE], {
      interface: PROPERTIES_INTERFACE,
      timeoutMs: CALL_TIMEOUT_MS,
    });
    if (!isDict(props)) throw new PassimError('internal', N_('unexpected reply to {method}', { method: 'GetAll' }));
    return {
      daemonVersion: asString(props.DaemonVersion),
      uri: asString(props.Uri),
      name: asString(props.Name),
      status: asNumber(props.Status),
      downloadSaving: asNumber(props.DownloadSaving),
      carbonSaving: asNumber(props.CarbonSaving),
      maxUploadRate: asNumber(props.MaxUploadRate),
      maxConnections: asNumber(props.MaxConnections),
      maxStorageSize: asNumber(props.MaxStorageSize),
      itemCount: props.ItemCount === undefined ? undefined : asNumber(props.ItemCount),
      traffic: structs(props.Traffic).map(([day, servedToNeighbours, servedLocally, fromNeighbours, fromOrigin]) => ({
        day: asString(day),
        servedToNeighbours: asNumber(servedToNeighbours),
        servedLocally: asNumber(servedLocally),
        fromNeighbours: asNumber(fromNeighbours),
        fromOrigin: asNumber(fromOrigin),
      })),
      neighbours: structs(props.Neighbours).map(([address, port, summary, items, lastSeen]) => ({
        address: asString(address),
        port: asNumber(port),
        summary: variantValue(summary) === true,
        items: asNumber(items) < 0 ? undefined : asNumber(items),
        lastSeen: asNumber(lastSeen),
      })),
    };
  }

  /**
   * Tells the daemon a download it was asked about first has ended (see ReportTransfer in the interface
   * description); resolves with the bytes it counted.
   */
  async reportTransfer(hash: string, source: 'neighbour' | 'origin', bytes: number): Promise<number> {
    const [counted] = await this.call('ReportTransfer', 'sst', [hash, source, BigInt(bytes)], { timeoutMs: CALL_TIMEOUT_MS });
    return asNumber(counted);
  }

  /** Every item; our daemon lists them newest first, and only the newest GET_ITEMS_MAX of a larger store. */
  async getItems(): Promise<RemoteItem[]> {
    return remoteItems('GetItems', await this.call('GetItems', '', [], { timeoutMs: CALL_TIMEOUT_MS }));
  }

  /**
   * At most `limit` (up to ITEMS_PAGE_MAX) items from position `offset`, newest first. A daemon without
   * GetItemsPage (the original) fails: see isUnknownMethod.
   */
  async getItemsPage(offset: number, limit: number): Promise<RemoteItem[]> {
    return remoteItems('GetItemsPage', await this.call('GetItemsPage', 'uu', [offset, limit], { timeoutMs: CALL_TIMEOUT_MS }));
  }

  /** Hands the daemon an open, readable fd; the daemon reads it to its end. The caller still owns (and closes) fd. */
  async publish(fd: number, request: PublishRequest, options: CallOptions = {}): Promise<void> {
    const attrs: Record<string, Variant> = {};
    const put = ({ key, type }: { key: string; type: string }, value: string | number | bigint | undefined): void => {
      if (value !== undefined) attrs[key] = new Variant(type, value);
    };
    put(Attribute.filename, request.filename);
    put(Attribute.maxAge, request.maxAge);
    put(Attribute.shareLimit, request.shareLimit);
    put(Attribute.shareCount, request.shareCount);
    put(Attribute.flags, request.nextReboot ? BigInt(ItemFlags.NEXT_REBOOT) : undefined);
    await this.call('Publish', 'ha{sv}', [fd, attrs], options);
  }

  async unpublish(hash: string, options: CallOptions = {}): Promise<void> {
    await this.call('Unpublish', 's', [hash], options);
  }

  disconnect(): void {
    this.bus.disconnect();
  }
}

/** Connects, runs `fn`, and always disconnects so the process can exit. */
export async function withClient<T>(fn: (client: PassimClient) => Promise<T>): Promise<T> {
  const client = await PassimClient.connect();
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

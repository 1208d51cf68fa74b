// SPDX-License-Identifier: LGPL-2.1-or-later
// D-Bus helpers shared by passimd and passimctl: connecting, calling, and dbus-next's types fixed.
import dbus from 'dbus-next';
import { canPassDescriptors, connectionStream, installMessageReader, isDelivering, type ReaderOptions } from './dbus-next-patches.js';
import { PassimError } from '../errors.js';
import { N_ } from '../i18n.js';
import type { Logger } from '../log.js';

/** The parts of dbus-next the daemon and the CLI use, with the types its declarations get wrong fixed. */
export type MessageBus = dbus.MessageBus;
export type Message = dbus.Message;
export const { Message, Variant } = dbus;
export type Variant = dbus.Variant;

export const MessageType = {
  METHOD_CALL: 1,
  METHOD_RETURN: 2,
  ERROR: 3,
  SIGNAL: 4,
} as const;

/** Header flags (the D-Bus specification, "Message Format"). */
export const MessageFlag = {
  NO_REPLY_EXPECTED: 0x1,
  NO_AUTO_START: 0x2,
  ALLOW_INTERACTIVE_AUTHORIZATION: 0x4,
} as const;

const DBUS_NAME = 'org.freedesktop.DBus';
/** The standard interfaces every object may have (the D-Bus specification, "Standard Interfaces"). */
export const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';
export const INTROSPECTABLE_INTERFACE = 'org.freedesktop.DBus.Introspectable';
/** The D-Bus specification's well-known system bus address. */
const DEFAULT_SYSTEM_BUS_ADDRESS = 'unix:path=/var/run/dbus/system_bus_socket';
const DBUS_PATH = '/org/freedesktop/DBus';

export interface ConnectOptions {
  /** Pass file descriptors (Publish); refuses to connect if the connection cannot carry them. */
  passDescriptors?: boolean;
  /** Incoming bodies over this many bytes are refused unparsed (see dbus-next-patches.ts). */
  maxBodyBytes?: number;
  /** Called once when the connection to the bus is lost, however that happens. */
  onDisconnect?: (reason: string) => void;
  /** Told about refused and malformed messages (already answered if they expected a reply). */
  log?: Logger;
}

/** At most one line per this interval about refused messages: a hostile client must not flood the journal. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS or the default socket) through our own message reader;
 * rejects instead of emitting 'error'.
 */
export function connectSystemBus(options: ConnectOptions = {}): Promise<MessageBus> {
  installMessageReader();
  const { log } = options;
  let lost = false;
  let bus: MessageBus | undefined;
  const disconnected = (reason: string): void => {
    if (lost) return;
    lost = true;
    options.onDisconnect?.(reason);
  };
  let lastRefusalLog = 0;
  let unloggedRefusals = 0;
  const reader: ReaderOptions = {
    maxBodyBytes: options.maxBodyBytes,
    onCorrupt: (detail) => disconnected(detail),
    onRefused: ({ header, reason, detail }) => {
      const who = header.sender ?? 'the bus';
      const what = header.member ? `${header.interface ?? ''}.${header.member}` : `message ${header.serial}`;
      const now = Date.now();
      if (now - lastRefusalLog >= REFUSAL_LOG_INTERVAL_MS) {
        const more = unloggedRefusals > 0 ? ` (and ${unloggedRefusals} more since the last report)` : '';
        log?.warn(`refused ${what} from ${who}: ${detail}${more}`);
        lastRefusalLog = now;
        unloggedRefusals = 0;
      } else {
        unloggedRefusals++;
      }
      const expectsReply = header.type === MessageType.METHOD_CALL && (header.flags & MessageFlag.NO_REPLY_EXPECTED) === 0;
      if (!bus || !expectsReply || !header.sender) return;
      const error = new PassimError(
        reason === 'malformed' ? 'invalid-argument' : 'limits-exceeded',
        N_('Refused {what}: {detail}', { what, detail }),
      );
      // newError needs only the call's serial and sender, which is all a refused message has.
      const call = { serial: header.serial, sender: header.sender } as unknown as Message;
      bus.send(errorReply(call, error.dbusName, error.message));
    },
  };
  return new Promise((resolve, reject) => {
    try {
      // sessionBus() is the one factory that hands its options on to the reader; the address makes it the system bus.
      bus = dbus.sessionBus({
        busAddress: process.env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS_ADDRESS,
        negotiateUnixFd: options.passDescriptors ?? false,
        ...reader,
      } as dbus.SessionBusOptions);
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const connected = bus;
    const stream = connectionStream(connected);
    if (options.passDescriptors && !canPassDescriptors(stream)) {
      connected.disconnect();
      reject(new Error('the system bus connection cannot pass file descriptors, so Publish could never work'));
      return;
    }
    // dbus-next reports a lost connection inconsistently (an 'end' only once all data was read, sometimes
    // nothing): every way the stream can stop counts.
    stream.once('end', () => disconnected('the bus closed the connection'));
    stream.once('close', () => disconnected('the bus connection was closed'));
    stream.on('error', (err: Error) => disconnected(`the bus connection failed: ${err.message}`));
    let ready = false;
    // Errors dbus-next emits while delivering one message are about that message, never fatal to us.
    connected.on('error', (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (isDelivering()) {
        log?.warn(`could not decode a message from the bus: ${message}`);
        return;
      }
      if (!ready) reject(err instanceof Error ? err : new Error(message));
      else disconnected(`the bus connection failed: ${message}`);
    });
    connected.once('connect', () => {
      ready = true;
      resolve(connected);
    });
  });
}

/** Sends a method call and returns the reply body. */
export async function callMethod(
  bus: MessageBus,
  call: { destination: string; path: string; interface: string; member: string; signature?: string; body?: unknown[]; flags?: number },
): Promise<unknown[]> {
  const reply = await bus.call(
    new Message({
      destination: call.destination,
      path: call.path,
      interface: call.interface,
      member: call.member,
      signature: call.signature ?? '',
      body: call.body ?? [],
      flags: call.flags ?? 0,
    }),
  );
  return reply?.body ?? [];
}

/** Calls the bus daemon itself (org.freedesktop.DBus). */
export function callBusDaemon(bus: MessageBus, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
  return callMethod(bus, { destination: DBUS_NAME, path: DBUS_PATH, interface: DBUS_NAME, member, signature, body });
}

/** Asks the bus to route signals matching `rule` to us. */
export async function addMatch(bus: MessageBus, rule: string): Promise<void> {
  await callBusDaemon(bus, 'AddMatch', 's', [rule]);
}

/** Subscribes to NameOwnerChanged for one well-known name; see nameOwnerChange(). */
export function watchNameOwner(bus: MessageBus, name: string): Promise<void> {
  return addMatch(bus, `type='signal',sender='${DBUS_NAME}',interface='${DBUS_NAME}',member='NameOwnerChanged',arg0='${name}'`);
}

/** For a NameOwnerChanged signal about `name`: its new owner, or null if it left the bus; otherwise undefined. */
export function nameOwnerChange(msg: Message, name: string): string | null | undefined {
  if (msg.type !== MessageType.SIGNAL || msg.sender !== DBUS_NAME || msg.interface !== DBUS_NAME) return undefined;
  if (msg.member !== 'NameOwnerChanged' || msg.body[0] !== name) return undefined;
  const owner = msg.body[2];
  return typeof owner === 'string' && owner !== '' ? owner : null;
}

/** Who is behind a bus connection, as the bus daemon saw it when the connection was made. */
export interface ConnectionCredentials {
  uid: number;
  /** Undefined when the bus cannot tell (the peer's process ID is not always known). */
  pid: number | undefined;
}

/** The Unix user and process ID of a bus connection, in one call (GetConnectionCredentials). */
export async function connectionCredentials(bus: MessageBus, sender: string): Promise<ConnectionCredentials> {
  const [dict] = await callBusDaemon(bus, 'GetConnectionCredentials', 's', [sender]);
  const number = (key: string): number | undefined => {
    const entry = typeof dict === 'object' && dict !== null ? (dict as Record<string, { value?: unknown }>)[key] : undefined;
    return typeof entry?.value === 'number' ? entry.value : undefined;
  };
  const uid = number('UnixUserID');
  if (uid === undefined) throw new Error(`the bus did not say which user ${sender} runs as`);
  return { uid, pid: number('ProcessID') };
}

/** Builds a reply that dbus-next's declarations mistype (they say newError takes a string). */
export function errorReply(call: Message, name: string, text: string): Message {
  return (Message.newError as unknown as (m: Message, n: string, t: string) => Message)(call, name, text);
}

/** Error names that mean nobody answered a call (as opposed to the service refusing it). */
const NOBODY_ANSWERED = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.NoReply',
  'org.freedesktop.DBus.Error.Disconnected',
  'org.freedesktop.DBus.Error.TimedOut',
]);

/** True for an error that says the service is not there; Spawn.* means the bus tried to start it and could not. */
export function isNobodyAnswered(errorName: string): boolean {
  return NOBODY_ANSWERED.has(errorName) || errorName.startsWith('org.freedesktop.DBus.Error.Spawn.');
}

/** The name and text of a D-Bus error reply that a call rejected with, if it is one. */
export function dbusErrorOf(err: unknown): { name: string; text: string } | undefined {
  if (typeof err === 'object' && err !== null && 'type' in err && typeof err.type === 'string') {
    const text = 'text' in err && typeof err.text === 'string' ? err.text : '';
    return { name: err.type, text };
  }
  return undefined;
}

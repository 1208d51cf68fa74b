// SPDX-License-Identifier: LGPL-2.1-or-later
// Every reach into dbus-next's and usocket's private parts: our own incoming-message reader. Checked at start.
import { EventEmitter } from 'node:events';
import { closeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';

/*
 * Why replace dbus-next's reader (lib/message.js unmarshalMessages):
 * - it parses every body eagerly, whatever its size: a 25 MB a{sv} blocks the event loop for seconds;
 * - it hands each message every descriptor received so far and never closes the ones nobody uses,
 *   so any local user can exhaust our descriptors with well-formed calls;
 * - a handle that is not an index into the message's own descriptors throws out of the stream
 *   listener ("No FDs available") and kills the process. libpassim sends the raw descriptor number.
 * Our reader gives each message exactly the descriptors its UNIX_FDS header field announces, decodes
 * handles as their raw values, refuses bodies over a limit without parsing them, and never throws.
 * These internals are only known for the exact versions below, which package.json pins.
 */
export const PINNED_VERSIONS = { 'dbus-next': '0.10.2', usocket: '1.1.0' } as const;

const require = createRequire(import.meta.url);

/** A signature tree node, as dbus-next's signature parser builds it. */
interface SignatureNode {
  type: string;
  child: SignatureNode[];
}

interface DBusBufferInstance {
  readArray(elementType: SignatureNode, byteLength: number): unknown[];
  read(signature: string): unknown[];
  align(power: number): void;
}
type DBusBufferConstructor = new (
  buffer: Buffer,
  start: number,
  endian: number,
  fds: ArrayLike<number> | null,
  options: object,
) => DBusBufferInstance;

/** What dbus-next's connection hands its reader and expects back. */
type OnRawMessage = (message: RawMessage) => void;
interface MessageModule {
  unmarshalMessages: (stream: Readable, onMessage: OnRawMessage, options: ReaderOptions) => void;
}

/** The header fields (and body, once read) of one message, in dbus-next's wire-side format. */
export interface RawMessage {
  serial: number;
  type: number;
  flags: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
  unixFd?: number;
  body?: unknown[];
}

/** A message the reader refused; the connection's owner decides what to answer. */
export interface RefusedMessage {
  header: RawMessage;
  reason: 'too-large' | 'malformed' | 'descriptors-lost';
  detail: string;
}

/** Options passed through dbus.systemBus() to our reader (dbus-next hands its options object to the reader). */
export interface ReaderOptions {
  /** Bodies larger than this are skipped unparsed and refused; undefined accepts what the bus accepts. */
  maxBodyBytes?: number;
  onRefused?: (refused: RefusedMessage) => void;
  /** The stream broke its framing: nothing after this point can be trusted. */
  onCorrupt?: (detail: string) => void;
}

/** The parts of usocket's stream that carry received descriptors. */
interface DescriptorStream extends Readable {
  _wrap?: { fds: number[] } | null;
}

interface Internals {
  messageModule: MessageModule;
  DBusBuffer: DBusBufferConstructor;
  headerFieldsSignature: SignatureNode;
  headerTypeName: (string | null)[];
  parseSignature: (signature: string) => SignatureNode[];
  validators: Record<string, (name: string) => void>;
}

function loadInternals(): Internals {
  const version = (name: string): string => {
    const path = require.resolve(`${name}/package.json`);
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
    return String(parsed.version);
  };
  for (const [name, pinned] of Object.entries(PINNED_VERSIONS)) {
    const found = version(name);
    if (found !== pinned) throw new Error(`${name} ${found} is installed, but passim's D-Bus reader is written for exactly ${pinned}`);
  }
  const messageModule = require('dbus-next/lib/message.js') as MessageModule;
  const DBusBuffer = require('dbus-next/lib/dbus-buffer.js') as DBusBufferConstructor;
  const headerSignature = require('dbus-next/lib/header-signature.json') as SignatureNode[];
  const constants = require('dbus-next/lib/constants.js') as { headerTypeName?: (string | null)[] };
  const { parseSignature } = require('dbus-next/lib/signature.js') as { parseSignature?: Internals['parseSignature'] };
  const validators = require('dbus-next/lib/validators.js') as Internals['validators'];
  const headerFieldsSignature = headerSignature[0]?.child[0];
  if (
    typeof messageModule.unmarshalMessages !== 'function' ||
    typeof DBusBuffer !== 'function' ||
    !headerFieldsSignature ||
    !Array.isArray(constants.headerTypeName) ||
    typeof parseSignature !== 'function' ||
    typeof validators.assertObjectPathValid !== 'function'
  ) {
    throw new Error("dbus-next does not have the internals passim's D-Bus reader needs");
  }
  return { messageModule, DBusBuffer, headerFieldsSignature, headerTypeName: constants.headerTypeName, parseSignature, validators };
}

let internals: Internals | undefined;

/**
 * Replaces dbus-next's reader with ours for every connection made afterwards; throws (naming the cause) if
 * dbus-next is not the version whose internals we know, or if usocket, which passes descriptors, cannot load.
 */
export function installMessageReader(): void {
  if (internals) return;
  const loaded = loadInternals();
  try {
    require('usocket');
  } catch (err) {
    throw new Error(
      `the usocket module, which passes file descriptors over D-Bus, cannot be loaded (${(err as Error).message.split('\n')[0]}); ` +
        'was it built for another Node.js? Rebuild it with "npm rebuild usocket"',
    );
  }
  loaded.messageModule.unmarshalMessages = readIncomingMessages;
  internals = loaded;
}

/** The socket stream under a dbus-next bus connection. */
export function connectionStream(bus: object): Readable {
  const stream = (bus as { _connection?: { stream?: unknown } })._connection?.stream;
  if (!(stream instanceof EventEmitter)) throw new Error("dbus-next's bus has no connection stream where passim expects it");
  return stream as Readable;
}

/** True when a bus connection's stream can carry file descriptors (a usocket). */
export function canPassDescriptors(stream: Readable): boolean {
  return Array.isArray((stream as DescriptorStream)._wrap?.fds);
}

// Descriptors of the message being delivered right now (delivery is synchronous), for claimDescriptors().
let delivering: { fds: number[]; claimed: boolean } | undefined;

/**
 * Takes ownership of the descriptors that came with the message being delivered; only valid synchronously
 * inside a message handler. Descriptors nobody claims are closed as soon as the handlers return.
 */
export function claimDescriptors(): number[] {
  if (!delivering) return [];
  delivering.claimed = true;
  return delivering.fds;
}

/** True while a message is being handed to dbus-next: an 'error' it emits then is about that message, not the bus. */
export function isDelivering(): boolean {
  return delivering !== undefined;
}

export function closeDescriptors(fds: Iterable<number>): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}

/** Handles decode as their raw values; the handler picks the descriptor (libpassim sends the fd number itself). */
const RAW_HANDLES: ArrayLike<number> = new Proxy({ length: Number.MAX_SAFE_INTEGER } as ArrayLike<number>, {
  get: (target, key) => (key === 'length' ? target.length : Number(key)),
});

const FIXED_HEADER_BYTES = 16;
// The specification's limits: a whole message is at most 128 MiB, a header field array at most 64 MiB.
const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
const LITTLE_ENDIAN = 0x6c; // 'l'
const BIG_ENDIAN = 0x42; // 'B'
const PROTOCOL_VERSION = 1;
const MESSAGE_TYPES = new Set([1, 2, 3, 4]);

/** Reads D-Bus messages from a connection's socket stream; installed as dbus-next's reader, exported for tests. */
export function readIncomingMessages(stream: Readable, onMessage: OnRawMessage, options: ReaderOptions): void {
  const { DBusBuffer, headerFieldsSignature, headerTypeName } = internals as Internals;
  const descriptorStream = stream as DescriptorStream;
  let fixed: Buffer | null = null;
  let header: RawMessage | null = null;
  let fds: number[] = [];
  let bodyLength = 0;
  let skipping = 0; // bytes of a refused body still to discard
  let corrupt = false;

  const fail = (detail: string): void => {
    corrupt = true;
    options.onCorrupt?.(detail);
    stream.destroy();
  };

  const refuse = (message: RawMessage, own: number[], reason: RefusedMessage['reason'], detail: string): void => {
    closeDescriptors(own);
    options.onRefused?.({ header: message, reason, detail });
  };

  const deliver = (message: RawMessage, own: number[]): void => {
    const context = { fds: own, claimed: false };
    delivering = context;
    try {
      onMessage(message);
    } catch {
      // dbus-next catches handler errors itself; nothing may escape into the stream listener either way
    } finally {
      delivering = undefined;
      if (!context.claimed) closeDescriptors(own);
    }
  };

  const step = (): boolean => {
    if (skipping > 0) {
      const chunk = stream.read(Math.min(skipping, stream.readableLength)) as Buffer | null;
      if (!chunk) return false;
      skipping -= chunk.length;
      return true;
    }
    if (!fixed) {
      fixed = stream.read(FIXED_HEADER_BYTES) as Buffer | null;
      if (!fixed) return false;
      if (fixed.length < FIXED_HEADER_BYTES) {
        fail('the bus connection ended inside a message header');
        return false;
      }
      const endian = fixed[0];
      if ((endian !== LITTLE_ENDIAN && endian !== BIG_ENDIAN) || fixed[3] !== PROTOCOL_VERSION || !MESSAGE_TYPES.has(fixed[1] ?? 0)) {
        fail('the bus sent bytes that are not a D-Bus message header');
        return false;
      }
      return true;
    }
    const fixedHeader = fixed;
    const littleEndian = fixedHeader[0] === LITTLE_ENDIAN;
    const u32 = (at: number): number => (littleEndian ? fixedHeader.readUInt32LE(at) : fixedHeader.readUInt32BE(at));
    const fieldsLength = u32(12);
    const fieldsPadded = Math.ceil(fieldsLength / 8) * 8;
    if (!header) {
      bodyLength = u32(4);
      if (fieldsLength === 0) {
        fail('the bus sent a message without header fields');
        return false;
      }
      if (FIXED_HEADER_BYTES + fieldsPadded + bodyLength > MAX_MESSAGE_BYTES) {
        fail(`the bus announced a message of ${fieldsPadded + bodyLength} bytes, over the protocol's limit`);
        return false;
      }
      const fieldBytes = stream.read(fieldsPadded) as Buffer | null;
      if (!fieldBytes) return false;
      let fields: unknown[];
      try {
        fields = new DBusBuffer(fieldBytes, 0, fixed[0] ?? LITTLE_ENDIAN, null, {}).readArray(headerFieldsSignature, fieldsLength);
      } catch (err) {
        fail(`the bus sent a message header that cannot be parsed: ${(err as Error).message}`);
        return false;
      }
      const parsed: RawMessage = { serial: u32(8), type: fixed[1] ?? 0, flags: fixed[2] ?? 0 };
      for (const field of fields) {
        // Each field is [code, [signatureTree, [value]]] in the marshaller's format.
        const [code, variant] = field as [number, [unknown, [unknown]]];
        const name = headerTypeName[code];
        if (name) (parsed as unknown as Record<string, unknown>)[name] = variant[1][0];
      }
      const announced = typeof parsed.unixFd === 'number' ? parsed.unixFd : 0;
      const own = (descriptorStream._wrap?.fds ?? []).splice(0, announced);
      if (own.length < announced || (options.maxBodyBytes !== undefined && bodyLength > options.maxBodyBytes)) {
        // Refused: its body, if any, is skipped unparsed and the next message starts after it.
        skipping = bodyLength;
        fixed = null;
        if (own.length < announced) {
          refuse(
            parsed,
            own,
            'descriptors-lost',
            `the message announced ${announced} descriptors but ${own.length} arrived (descriptor limit reached?)`,
          );
        } else {
          refuse(parsed, own, 'too-large', `its body of ${bodyLength} bytes is over the limit of ${options.maxBodyBytes}`);
        }
        return true;
      }
      header = parsed;
      fds = own;
      if (bodyLength === 0) {
        finish(fieldsPadded, Buffer.alloc(0));
        return true;
      }
      return true;
    }
    const body = stream.read(bodyLength) as Buffer | null;
    if (!body) return false;
    finish(fieldsPadded, body);
    return true;
  };

  const finish = (fieldsPadded: number, body: Buffer): void => {
    const message = header as RawMessage;
    const own = fds;
    header = null;
    fds = [];
    const endian = (fixed as Buffer)[0] ?? LITTLE_ENDIAN;
    fixed = null;
    try {
      checkHeader(message);
      if (body.length > 0 && message.signature) {
        // Alignment is relative to the message start; the body starts at 16 + fieldsPadded, a multiple of 8.
        message.body = new DBusBuffer(body, FIXED_HEADER_BYTES + fieldsPadded, endian, RAW_HANDLES, {}).read(message.signature);
      }
    } catch (err) {
      refuse(message, own, 'malformed', (err as Error).message);
      return;
    }
    deliver(message, own);
  };

  stream.on('readable', () => {
    try {
      while (!corrupt && step()) {
        // each step consumes one part of a message
      }
    } catch (err) {
      fail(`reading from the bus failed: ${(err as Error).message}`);
    }
  });
}

/** What dbus-next's Message constructor would throw on, checked before delivery so it cannot throw there. */
function checkHeader(message: RawMessage): void {
  const { validators, parseSignature } = internals as Internals;
  if (message.destination) validators.assertBusNameValid?.(message.destination);
  if (message.interface) validators.assertInterfaceNameValid?.(message.interface);
  if (message.path) validators.assertObjectPathValid?.(message.path);
  if (message.member) validators.assertMemberNameValid?.(message.member);
  if (message.errorName) validators.assertInterfaceNameValid?.(message.errorName);
  if (message.signature) parseSignature(message.signature);
  const required: Record<number, (keyof RawMessage)[]> = {
    1: ['path', 'member'],
    2: ['replySerial'],
    3: ['errorName', 'replySerial'],
    4: ['path', 'member', 'interface'],
  };
  for (const field of required[message.type] ?? []) {
    if (message[field] === undefined) throw new Error(`the message lacks its ${field} field`);
  }
}

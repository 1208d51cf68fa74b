import dbus from 'dbus-next';

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
const DBUS_PATH = '/org/freedesktop/DBus';

/** Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS or the default socket); rejects instead of emitting 'error'. */
export function connectSystemBus(options: { negotiateUnixFd?: boolean; onDisconnect?: () => void } = {}): Promise<MessageBus> {
  return new Promise((resolve, reject) => {
    let bus: MessageBus;
    try {
      bus = dbus.systemBus({ negotiateUnixFd: options.negotiateUnixFd ?? false });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (options.negotiateUnixFd) takeOnlyOwnFds(bus);
    // dbus-next does not tell when the bus daemon goes away; a service must notice and exit.
    const { onDisconnect } = options;
    if (onDisconnect) (bus as unknown as { _connection: NodeJS.EventEmitter })._connection.once('end', onDisconnect);
    const onError = (err: unknown): void => {
      bus.removeListener('connect', onConnect);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onConnect = (): void => {
      bus.removeListener('error', onError);
      resolve(bus);
    };
    bus.once('error', onError);
    bus.once('connect', onConnect);
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

/** A number the bus daemon knows about a connection (its Unix user ID, its process ID). */
async function connectionNumber(bus: MessageBus, member: string, sender: string): Promise<number> {
  const [value] = await callBusDaemon(bus, member, 's', [sender]);
  if (typeof value !== 'number') throw new Error(`unexpected reply to ${member}: ${String(value)}`);
  return value;
}

/** The Unix user ID of a bus connection, as the bus daemon saw it at connect time. */
export function connectionUnixUser(bus: MessageBus, sender: string): Promise<number> {
  return connectionNumber(bus, 'GetConnectionUnixUser', sender);
}

/** The process ID of a bus connection. */
export function connectionProcessId(bus: MessageBus, sender: string): Promise<number> {
  return connectionNumber(bus, 'GetConnectionUnixProcessID', sender);
}

/** Builds a reply that dbus-next's declarations mistype (they say newError takes a string). */
export function errorReply(call: Message, name: string, text: string): Message {
  return (Message.newError as unknown as (m: Message, n: string, t: string) => Message)(call, name, text);
}

/** The name and text of a D-Bus error reply that a call rejected with, if it is one. */
export function dbusErrorOf(err: unknown): { name: string; text: string } | undefined {
  if (typeof err === 'object' && err !== null && 'type' in err && typeof err.type === 'string') {
    const text = 'text' in err && typeof err.text === 'string' ? err.text : '';
    return { name: err.type, text };
  }
  return undefined;
}

/** The parts of usocket's stream that dbus-next reads messages through. */
interface FdStream {
  read(size?: number, fdSize?: number | null): unknown;
  _wrap?: { fds: number[] };
}

/**
 * dbus-next reads each message body with `read(length, null)`, which hands it every file descriptor received
 * so far: when one read holds the end of a message and the start of a Publish call, the first message takes
 * the Publish's descriptor and the Publish fails. This makes each message take exactly the number of
 * descriptors its UNIX_FDS header field announces (the D-Bus specification, "Message Format").
 */
function takeOnlyOwnFds(bus: MessageBus): void {
  const stream = (bus as unknown as { _connection?: { stream?: FdStream } })._connection?.stream;
  if (!stream || !stream._wrap) return; // not a usocket: no descriptors are passed at all
  const read = stream.read.bind(stream);
  let header: Buffer | null = null;
  stream.read = (size?: number, fdSize?: number | null): unknown => {
    if (fdSize !== null) {
      const chunk = read(size, fdSize);
      if (size === 16 && Buffer.isBuffer(chunk)) header = chunk; // the fixed part of a message header
      return chunk;
    }
    const result = read(size, 0) as { data: Buffer | null; fds: number[] } | null;
    if (!result?.data || !header) return result;
    const count = unixFdCount(header, result.data);
    result.fds = stream._wrap?.fds.splice(0, count) ?? [];
    return result;
  };
}

/** The UNIX_FDS header field (code 9) of a message, from its fixed header and the bytes after it. */
export function unixFdCount(fixedHeader: Buffer, rest: Buffer): number {
  const littleEndian = fixedHeader[0] === 0x6c; // 'l'
  const u32 = (at: number): number => (littleEndian ? rest.readUInt32LE(at) : rest.readUInt32BE(at));
  const fieldsLength = littleEndian ? fixedHeader.readUInt32LE(12) : fixedHeader.readUInt32BE(12);
  const align = (n: number, to: number): number => Math.ceil(n / to) * to;
  // Offsets in `rest` are offsets in the message minus 16, so alignment to 8 or less is unchanged.
  let at = 0;
  while (at < fieldsLength) {
    at = align(at, 8);
    const code = rest[at];
    const signatureLength = rest[at + 1] ?? 0;
    const signature = rest.toString('latin1', at + 2, at + 2 + signatureLength);
    at += 2 + signatureLength + 1;
    switch (signature) {
      case 'u':
        at = align(at, 4);
        if (code === 9) return u32(at);
        at += 4;
        break;
      case 's':
      case 'o':
        at = align(at, 4);
        at += 4 + u32(at) + 1;
        break;
      case 'g':
        at += 1 + (rest[at] ?? 0) + 1;
        break;
      default:
        return 0; // a header field type the specification does not define
    }
  }
  return 0;
}

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
export function connectSystemBus(options: { negotiateUnixFd?: boolean } = {}): Promise<MessageBus> {
  return new Promise((resolve, reject) => {
    let bus: MessageBus;
    try {
      bus = dbus.systemBus({ negotiateUnixFd: options.negotiateUnixFd ?? false });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
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

/** The Unix user ID of a bus connection, as the bus daemon saw it at connect time. */
export async function connectionUnixUser(bus: MessageBus, sender: string): Promise<number> {
  const [uid] = await callMethod(bus, {
    destination: DBUS_NAME, path: DBUS_PATH, interface: DBUS_NAME,
    member: 'GetConnectionUnixUser', signature: 's', body: [sender],
  });
  if (typeof uid !== 'number') throw new Error(`unexpected reply to GetConnectionUnixUser: ${String(uid)}`);
  return uid;
}

/** The process ID of a bus connection. */
export async function connectionProcessId(bus: MessageBus, sender: string): Promise<number> {
  const [pid] = await callMethod(bus, {
    destination: DBUS_NAME, path: DBUS_PATH, interface: DBUS_NAME,
    member: 'GetConnectionUnixProcessID', signature: 's', body: [sender],
  });
  if (typeof pid !== 'number') throw new Error(`unexpected reply to GetConnectionUnixProcessID: ${String(pid)}`);
  return pid;
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

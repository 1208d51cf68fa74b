// Thin helpers for calling the daemon from tests with a raw dbus-next connection.
import { closeSync, openSync } from 'node:fs';
import { Agent, request } from 'node:https';
import dbus from 'dbus-next';

const { DBusError, Message, Variant } = dbus;
const DEST = 'org.freedesktop.Passim';
const IFACE = 'org.freedesktop.Passim';

/**
 * @typedef {object} CallOptions
 * @property {string} [destination]
 * @property {string} [path]
 * @property {string} [interface]
 * @property {number} [flags]
 */

/**
 * Calls `member` of the daemon (or options.destination) and resolves with the reply's body.
 * @param {import('dbus-next').MessageBus} client
 * @param {string} member
 * @param {string} signature
 * @param {unknown[]} body
 * @param {CallOptions} options
 * @returns {Promise<any[]>} the body, as dbus-next decodes it
 */
export async function call(client, member, signature = '', body = [], options = {}) {
  const reply = await client.call(
    new Message({
      destination: options.destination ?? DEST,
      path: options.path ?? '/',
      interface: options.interface ?? IFACE,
      member,
      signature,
      body,
      flags: options.flags ?? 0,
    }),
  );
  if (!reply) throw new Error(`${member}: no reply`);
  return reply.body;
}

/**
 * @param {import('dbus-next').MessageBus} client
 * @param {string} name
 */
export async function getProperty(client, name) {
  const [variant] = await call(client, 'Get', 'ss', [IFACE, name], { interface: 'org.freedesktop.DBus.Properties' });
  return variant.value;
}

/**
 * @param {import('dbus-next').MessageBus} client
 * @returns {Promise<Record<string, any>>}
 */
export async function getAllProperties(client) {
  const [dict] = await call(client, 'GetAll', 's', [IFACE], { interface: 'org.freedesktop.DBus.Properties' });
  return Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, v.value]));
}

/**
 * GetItems with the variants unwrapped: [{ hash, filename, ... }].
 * @param {import('dbus-next').MessageBus} client
 * @returns {Promise<Record<string, any>[]>}
 */
export async function getItems(client) {
  const [items] = await call(client, 'GetItems');
  return items.map((/** @type {Record<string, import('dbus-next').Variant>} */ dict) =>
    Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, v.value])),
  );
}

/**
 * Publishes the file at `path` by passing an fd; attrs are plain values typed like the API wants.
 * @param {import('dbus-next').MessageBus} client
 * @param {string} path
 * @param {Record<string, unknown>} attrs
 */
export async function publish(client, path, attrs) {
  /** @type {Record<string, string>} */
  const signatures = { filename: 's', 'max-age': 'u', 'share-limit': 'u', 'share-count': 'u', flags: 't' };
  /** @type {Record<string, import('dbus-next').Variant>} */
  const dict = {};
  for (const [key, value] of Object.entries(attrs)) {
    dict[key] = value instanceof Variant ? value : new Variant(signatures[key] ?? 's', value);
  }
  const fd = openSync(path, 'r');
  try {
    return await call(client, 'Publish', 'ha{sv}', [fd, dict]);
  } finally {
    closeSync(fd);
  }
}

/**
 * Rejects with the D-Bus error name as `err.type`; returns that error. Anything else thrown is thrown again.
 * @param {Promise<unknown>} promise
 * @returns {Promise<import('dbus-next').DBusError>}
 */
export async function expectDBusError(promise) {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DBusError) return err;
    throw err;
  }
  throw new Error('expected a D-Bus error, the call succeeded');
}

/**
 * A full GET of an item from the daemon on loopback, without keep-alive; resolves with { status, body }.
 * @param {number} port
 * @param {string} basename
 * @param {string} hash
 * @returns {Promise<{ status: number | undefined, body: Buffer }>}
 */
export function fetchItem(port, basename, hash) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/${encodeURIComponent(basename)}?sha256=${hash}`,
        rejectUnauthorized: false,
        agent: new Agent({ keepAlive: false }),
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

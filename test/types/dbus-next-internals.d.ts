// The parts of dbus-next's internals the tests use to write D-Bus messages by hand (test/lib/hostile-client.js,
// test/unit/dbus-reader.test.js); dbus-next's own types.d.ts covers only its public API. Pinned in package.json.
declare module 'dbus-next/lib/marshall.js' {
  /**
   * Marshals `data` (one value per complete type in `signature`) in little-endian D-Bus wire format, aligned as if
   * the result started at byte `offset` of the message. A variant is [signature, value], a dictionary an array of
   * [key, value] pairs; handles are written as indices into `fds`.
   */
  function marshall(signature: string, data: unknown[], offset?: number, fds?: number[]): Buffer;
  export = marshall;
}

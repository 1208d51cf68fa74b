// SPDX-License-Identifier: LGPL-2.1-or-later
// apt's "passim" acquire method: wires stdin, stdout and signals to the method. bin/passim-apt-method has
// told apt our capabilities (the protocol of apt's http method, so that apt sends us what it would send
// that one) before starting us.
import { AptMethod } from './method.js';
import { MessageReader } from './message.js';
import { dropPrivileges } from './privileges.js';

/** Set for our children: a configuration that makes apt's own method us again must not recurse. */
const NESTED = 'PASSIM_APT_METHOD';

const method = new AptMethod({
  write: (text) => process.stdout.write(text),
  exit: (code) => process.exit(code),
  dropPrivileges,
});
if (process.env[NESTED] !== undefined) {
  method.fatal("the passim method would run itself as apt's own method: check Dir::Bin::Methods");
} else {
  process.env[NESTED] = '1';
}

const reader = new MessageReader(
  (message) => method.receive(message),
  (error) => method.fatal(`malformed message from apt: ${error.message}`),
);
process.stdin.on('data', (chunk: Buffer) => reader.push(chunk));
process.stdin.on('end', () => void method.shutdown());
process.stdin.on('error', () => void method.shutdown());
// apt closes stdin and sends SIGINT to end a method.
process.on('SIGINT', () => void method.shutdown());
process.on('SIGTERM', () => void method.shutdown());
// apt gone: nobody to answer, but what it fetched may still be published.
process.stdout.on('error', () => void method.shutdown());
// A bug of ours is logged; the relay to apt's method keeps apt's downloads going.
process.on('uncaughtException', (err) => method.log(`internal error: ${err.stack ?? err.message}`, true));
process.on('unhandledRejection', (err) =>
  method.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, true),
);

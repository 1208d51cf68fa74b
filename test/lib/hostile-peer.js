// A neighbour that announces a summary and then misbehaves, run inside a test host's namespace:
//   node hostile-peer.js MODE PORT KEY CERT [HASH...]
// MODE: lies (a well-formed summary of HASH's prefixes, but a HEAD for anything gets 404), malformed (200 with
// bytes that are no summary), endless (200 that trickles bytes and never ends), huge (a Content-Length of 1 GiB
// streamed as fast as the reader takes it), silent (accepts connections, never answers).
// Prints "listening" once it listens, and one line per request it gets ("GET /passim/summary", "HEAD /x?…").
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [mode = '', portText = '', keyPath = '', certPath = '', ...hashes] = process.argv.slice(2);

/** A version-1 full summary (see src/daemon/lan/summary-format.ts) of the hashes' 32-bit prefixes. */
function summaryOf(/** @type {string[]} */ list) {
  const prefixes = [...new Set(list.map((h) => Number.parseInt(h.slice(0, 8), 16)))].sort((a, b) => a - b);
  /** @type {number[]} */
  const varints = [];
  let previous = 0;
  prefixes.forEach((value, i) => {
    let gap = i === 0 ? value : value - previous;
    previous = value;
    while (gap >= 0x80) {
      varints.push((gap & 0x7f) | 0x80);
      gap = Math.floor(gap / 128);
    }
    varints.push(gap);
  });
  const header = Buffer.alloc(40);
  header.write('PSUM', 0, 'latin1');
  header[4] = 1;
  header.write('00000000000000aa', 8, 'hex');
  header.writeBigUInt64BE(1n, 16);
  header.writeUInt32BE(prefixes.length, 32);
  return Buffer.concat([header, Buffer.from(varints)]);
}

const server = createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, (req, res) => {
  process.stdout.write(`${req.method} ${req.url}\n`);
  if (mode === 'silent') return;
  if (req.method === 'HEAD') {
    res.writeHead(404);
    res.end();
    return;
  }
  if (mode === 'lies') {
    const body = summaryOf(hashes);
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
  } else if (mode === 'malformed') {
    res.writeHead(200, { 'Content-Length': 64 });
    res.end(Buffer.alloc(64, 0x41));
  } else if (mode === 'endless') {
    res.writeHead(200);
    const timer = setInterval(() => res.write(Buffer.from([0x50])), 200);
    res.on('close', () => clearInterval(timer));
  } else if (mode === 'huge') {
    res.writeHead(200, { 'Content-Length': 1024 * 1024 * 1024 });
    const chunk = Buffer.alloc(64 * 1024, 0x42);
    const pump = () => {
      while (res.write(chunk));
    };
    res.on('drain', pump);
    pump();
  }
});
server.listen(Number(portText), () => process.stdout.write('listening\n'));
// Bounded life: a test that forgot it cannot leave it running.
setTimeout(() => process.exit(0), 10 * 60 * 1000).unref();

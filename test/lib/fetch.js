#!/usr/bin/env node
// HTTPS GET from wherever this runs (e.g. inside a test network namespace); prints one JSON line:
// { status, headers, size, sha256, ended, transferMs } — ended is false when the connection was cut before the
// body's end; transferMs runs from the first body byte to the last. Usage: fetch.js URL [METHOD] [RANGE]
import { createHash } from 'node:crypto';
import { request } from 'node:https';

const [url, method = 'GET', range] = process.argv.slice(2);
const headers = range ? { Range: range } : {};
const req = request(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
  const hash = createHash('sha256');
  let size = 0;
  /** @type {bigint | undefined} */
  let first;
  let reported = false;
  /** @param {boolean} ended */
  const report = (ended) => {
    if (reported) return;
    reported = true;
    const transferMs = first === undefined ? 0 : Number(process.hrtime.bigint() - first) / 1e6;
    process.stdout.write(
      `${JSON.stringify({ status: res.statusCode, headers: res.headers, size, sha256: hash.digest('hex'), ended, transferMs })}\n`,
    );
  };
  res.on('data', (chunk) => {
    first ??= process.hrtime.bigint();
    hash.update(chunk);
    size += chunk.length;
  });
  res.on('end', () => report(true));
  res.on('error', () => report(false));
  res.on('close', () => report(false));
});
req.on('error', (err) => {
  process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
  process.exitCode = 1;
});
req.end();

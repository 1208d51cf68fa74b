#!/usr/bin/env node
// HTTPS GET from wherever this runs (e.g. inside a test network namespace); prints one JSON line:
// { status, headers, size, sha256 }. Usage: fetch.js URL [METHOD]
import { createHash } from 'node:crypto';
import { request } from 'node:https';

const [url, method = 'GET'] = process.argv.slice(2);
const req = request(url, { method, rejectUnauthorized: false }, (res) => {
  const hash = createHash('sha256');
  let size = 0;
  res.on('data', (chunk) => { hash.update(chunk); size += chunk.length; });
  res.on('end', () => {
    process.stdout.write(`${JSON.stringify({ status: res.statusCode, headers: res.headers, size, sha256: hash.digest('hex') })}\n`);
  });
});
req.on('error', (err) => {
  process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
  process.exitCode = 1;
});
req.end();

// SPDX-License-Identifier: LGPL-2.1-or-later
// A worker thread of the start-up loader: checks batches of data-folder files with blocking calls.
import { parentPort } from 'node:worker_threads';
import { type CheckReply, type CheckRequest, checkFile } from './scan.js';

parentPort?.on('message', ({ id, paths, hashes }: CheckRequest) => {
  const results = paths.map((path, i) => checkFile(path, hashes[i] ?? ''));
  parentPort?.postMessage({ id, results } satisfies CheckReply);
});

// The folders are the architecture: passimctl and the client library never reach into the daemon, and the
// shared parts depend on nothing above them.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * Every relative import of every module under `folder`, as [importing file, imported file] under src/.
 * @param {string} folder
 */
async function importsUnder(folder) {
  /** @type {[string, string][]} */
  const edges = [];
  for (const name of await readdir(join(SRC, folder), { recursive: true })) {
    if (!name.endsWith('.ts')) continue;
    const file = join(SRC, folder, name);
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]).replace(/\.js$/, '.ts');
      edges.push([relative(SRC, file), relative(SRC, target)]);
    }
  }
  return edges;
}

test('passimctl and the client import nothing from the daemon', async () => {
  const edges = [...(await importsUnder('ctl')), ...(await importsUnder('client'))];
  assert.ok(edges.length > 10, 'the scan found the imports');
  assert.deepEqual(
    edges.filter(([, to]) => to.startsWith('daemon/')),
    [],
  );
  assert.deepEqual(
    (await importsUnder('client')).filter(([, to]) => to.startsWith('ctl/')),
    [],
  );
});

test('the apt method imports only itself, the client library and the shared parts', async () => {
  const edges = await importsUnder('apt-method');
  assert.ok(edges.length > 5, 'the scan found the imports');
  assert.deepEqual(
    edges.filter(([, to]) => !to.startsWith('apt-method/') && !to.startsWith('client/') && !to.startsWith('shared/')),
    [],
  );
});

test('the shared parts import only shared parts', async () => {
  const edges = await importsUnder('shared');
  assert.ok(edges.length > 2, 'the scan found the imports');
  assert.deepEqual(
    edges.filter(([, to]) => !to.startsWith('shared/')),
    [],
  );
});

test('the daemon imports neither passimctl nor the client library', async () => {
  const edges = await importsUnder('daemon');
  assert.deepEqual(
    edges.filter(([, to]) => to.startsWith('ctl/') || to.startsWith('client/')),
    [],
  );
});

#!/usr/bin/env node
// Removes from a production node_modules what only building needs: usocket declares node-gyp (and nan, the
// headers it compiles with) as dependencies, but once its addon is built it loads it through `bindings`
// alone. node-gyp brings Python scripts and a dozen modules that want a newer Node.js than Debian's.
// Every module still reachable from package.json's dependencies, by Node.js's own lookup, stays.
//   node debian/prune-build-only.mjs DIR   (DIR holds package.json and node_modules)
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const BUILD_ONLY = { usocket: ['node-gyp', 'nan'] };
const top = process.argv[2];
if (!top) throw new Error('usage: node debian/prune-build-only.mjs DIR');

/** The folder `name` resolves to from a module in `from`, as Node.js looks it up. */
function resolve(name, from) {
  for (let dir = from; dir.startsWith(top); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === top) break;
  }
  throw new Error(`${name} is needed by ${relative(top, from) || 'passim'} but not installed`);
}

const reached = new Set();
const queue = [top];
while (queue.length) {
  const folder = queue.shift();
  const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
  const skip = folder === top ? [] : (BUILD_ONLY[pkg.name] ?? []);
  const names = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  for (const name of names) {
    if (skip.includes(name)) continue;
    let found;
    try {
      found = resolve(name, folder);
    } catch (err) {
      if (name in (pkg.optionalDependencies ?? {})) continue;
      throw err;
    }
    if (!reached.has(found)) {
      reached.add(found);
      queue.push(found);
    }
  }
}

/** Module folders under `dir`/node_modules, scoped and nested ones too. */
function installed(dir) {
  const found = [];
  const nm = join(dir, 'node_modules');
  if (!existsSync(nm)) return found;
  for (const entry of readdirSync(nm, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const folders = entry.name.startsWith('@')
      ? readdirSync(join(nm, entry.name)).map((n) => join(nm, entry.name, n))
      : [join(nm, entry.name)];
    for (const folder of folders) found.push(folder, ...installed(folder));
  }
  return found;
}

for (const folder of installed(top)) {
  if (!reached.has(folder) && existsSync(folder)) {
    rmSync(folder, { recursive: true });
    console.log(`pruned ${relative(top, folder)}`);
  }
}
// Scope folders left empty.
for (const entry of readdirSync(join(top, 'node_modules'))) {
  const path = join(top, 'node_modules', entry);
  if (entry.startsWith('@') && readdirSync(path).length === 0) rmSync(path, { recursive: true });
}

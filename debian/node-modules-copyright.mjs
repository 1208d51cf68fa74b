#!/usr/bin/env node
// Prints the debian/copyright paragraphs of the JavaScript modules in a production node_modules folder
// (the one passim ships in /usr/lib/passim), from each module's package.json and licence file:
//   node debian/node-modules-copyright.mjs node_modules
// With --check FILE it prints nothing and fails unless FILE's node_modules paragraphs are exactly these:
// debian/rules runs that on what it installs, so debian/copyright cannot fall behind the lock file.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

// Modules whose package.json names no licence, or names one in words DEP-5 does not use; each checked
// against the module's licence file.
const LICENCES = {
  jsbi: 'Apache-2.0',
  'map-stream': 'Expat',
  'pause-stream': 'Expat or Apache-2.0',
  'node-forge': 'BSD-3-clause or GPL-2',
  '@nornagon/put': 'Expat',
};
const SPDX = { MIT: 'Expat', ISC: 'ISC', 'Apache-2.0': 'Apache-2.0', 'BlueOak-1.0.0': 'BlueOak-1.0.0' };

/** Module folders below `dir` (scoped ones and nested node_modules too), as paths relative to the top. */
function modules(top, dir = '') {
  const found = [];
  for (const entry of readdirSync(join(top, dir), { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const rel = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      found.push(...modules(top, rel));
      continue;
    }
    found.push(rel);
    if (existsSync(join(top, rel, 'node_modules'))) found.push(...modules(top, join(rel, 'node_modules')));
  }
  return found;
}

function copyrightOf(folder, pkg) {
  const licence = readdirSync(folder).find((f) => /^(licen[cs]e|copying)/i.test(f));
  if (licence) {
    for (const line of readFileSync(join(folder, licence), 'utf8').split('\n')) {
      const m = /^\s*Copyright\s+(?:\(c\)\s*|©\s*)?(.*\d.*)$/i.exec(line);
      if (m) return m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').trim();
    }
  }
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
  return author ? author.replace(/\s*\(https?:[^)]*\)/, '') : `the authors of ${pkg.name}`;
}

// npm installs the one prebuilt addon of @napi-rs/xattr that fits the build machine; one paragraph covers
// them all, so that the list is the same on every architecture.
const PER_PLATFORM = /^@napi-rs\/xattr-/;

const args = process.argv.slice(2);
const check = args[0] === '--check' ? args.splice(0, 2)[1] : undefined;
const top = args[0] ?? 'node_modules';
const paragraphs = [];
for (const rel of modules(top).sort()) {
  const folder = join(top, rel);
  if (!existsSync(join(folder, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
  const licence = LICENCES[pkg.name] ?? SPDX[pkg.license];
  if (!licence) throw new Error(`${rel}: licence ${JSON.stringify(pkg.license)} is not known to ${process.argv[1]}`);
  const platform = PER_PLATFORM.test(pkg.name);
  paragraphs.push(
    [
      `Files: node_modules/${platform ? '@napi-rs/xattr-*' : rel}/*`,
      `Copyright: ${platform ? 'the authors of @napi-rs/xattr' : copyrightOf(folder, pkg)}`,
      `License: ${licence}`,
      platform
        ? `Comment: the prebuilt addons of @napi-rs/xattr ${pkg.version} that npm picks for the build machine, from the npm registry`
        : `Comment: ${pkg.name} ${pkg.version}, from the npm registry`,
    ].join('\n'),
  );
}
// One paragraph for all of @napi-rs/xattr's prebuilt addons.
paragraphs.splice(0, paragraphs.length, ...new Set(paragraphs));
if (check) {
  const listed = readFileSync(check, 'utf8')
    .split(/\n\n+/)
    .map((p) => p.trim())
    .filter((p) => p.startsWith('Files: node_modules/'));
  const missing = paragraphs.filter((p) => !listed.includes(p));
  const stale = listed.filter((p) => !paragraphs.includes(p));
  for (const p of missing) console.error(`not in ${check}:\n${p}\n`);
  for (const p of stale) console.error(`in ${check} but not installed:\n${p}\n`);
  if (missing.length || stale.length) {
    console.error(`${check} is out of date: node ${process.argv[1]} ${top} prints the paragraphs`);
    process.exit(1);
  }
} else {
  console.log(paragraphs.join('\n\n'));
}

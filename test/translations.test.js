// The catalogs stay true to the code: po/passim.pot is what xgettext extracts from po/POTFILES now, every
// _() and N_() message of src/ is in it, no user-facing text in src/ escapes them, and each translation
// keeps its message's {placeholders} and markup; German is complete.
import './lib/english.js';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { po } from 'gettext-parser';
import ts from 'typescript';
import { ROOT } from './lib/harness.js';
import { runProcess } from './lib/process.js';

/** @param {string} name a file of po/ */
const poFile = (name) => readFile(join(ROOT, 'po', name), 'utf8');
/** @param {string} text a po/ list file */
const lines = (text) =>
  text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);

const POTFILES = lines(await poFile('POTFILES'));
const LINGUAS = lines(await poFile('LINGUAS'));

/**
 * The messages of a .po or .pot file, without the header.
 * @param {string} text
 */
function messages(text) {
  return Object.values(po.parse(text).translations[''] ?? {}).filter((entry) => entry.msgid !== '');
}

/** The .ts files of src/ with their syntax trees. */
const SOURCES = await Promise.all(
  (await readdir(join(ROOT, 'src'), { recursive: true }))
    .filter((name) => name.endsWith('.ts'))
    .map(async (name) => {
      const path = `src/${name}`;
      const text = await readFile(join(ROOT, path), 'utf8');
      return { path, tree: ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS) };
    }),
);

/**
 * Every node of `tree`, depth first.
 * @param {ts.Node} tree
 * @returns {Generator<ts.Node>}
 */
function* nodes(tree) {
  yield tree;
  for (const child of tree.getChildren()) yield* nodes(child);
}

/**
 * The text a string or template literal writes itself, without what its ${} insert; undefined for anything else.
 * @param {ts.Node | undefined} node
 */
function literalText(node) {
  if (!node) return undefined;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return [node.head.text, ...node.templateSpans.map((span) => span.literal.text)].join('\u0000');
  return undefined;
}

/** @param {string | undefined} text */
const hasWords = (text) => text !== undefined && /\p{L}{2,}/u.test(text);

/**
 * Where `node` is, for a failure message.
 * @param {string} path
 * @param {ts.Node} node
 */
function where(path, node) {
  const { line } = node.getSourceFile().getLineAndCharacterOfPosition(node.getStart());
  return `${path}:${line + 1}: ${node.getText().slice(0, 100)}`;
}

/** The _() and N_() calls of src/. */
const CALLS = SOURCES.flatMap(({ path, tree }) =>
  [...nodes(tree)]
    .filter((n) => ts.isCallExpression(n) && ts.isIdentifier(n.expression) && ['_', 'N_'].includes(n.expression.text))
    .map((call) => ({ path, call: /** @type {ts.CallExpression} */ (call) })),
);

test('po/passim.pot is what po/catalogs.sh extracts from the sources now (npm run po:update)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'passim-pot-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fresh = join(dir, 'passim.pot');
  const extract = await runProcess('sh', [join(ROOT, 'po', 'catalogs.sh'), 'pot', fresh]);
  assert.equal(extract.code, 0, extract.stderr);
  const withoutDate = (/** @type {string} */ text) => text.replace(/^"POT-Creation-Date: .*\n/m, '');
  assert.equal(withoutDate(await poFile('passim.pot')), withoutDate(await readFile(fresh, 'utf8')));
});

test('every _() and N_() message of src/ is a literal in po/passim.pot, from a file listed in po/POTFILES', async () => {
  assert.ok(CALLS.length > 150, `the scan found the calls (${CALLS.length})`);
  const pot = new Set(messages(await poFile('passim.pot')).map((entry) => entry.msgid));
  for (const { path, call } of CALLS) {
    const msgid = literalText(call.arguments[0]);
    assert.ok(
      msgid !== undefined && !msgid.includes('\u0000'),
      `xgettext cannot read a message that is not a plain string: ${where(path, call)}`,
    );
    assert.ok(pot.has(msgid), `not in po/passim.pot: ${where(path, call)}`);
    assert.ok(POTFILES.includes(path), `${path} is missing from po/POTFILES`);
  }
  for (const path of POTFILES) assert.ok(SOURCES.some((s) => s.path === path) || !path.startsWith('src/'), `${path} exists`);
  assert.deepEqual(
    POTFILES.filter((path) => path.startsWith('src/') && !CALLS.some((c) => c.path === path)),
    [],
    'po/POTFILES lists only files with messages',
  );
});

/**
 * User-facing text written as a literal instead of through _() or N_(): errors meant for a person, what
 * passimctl prints, the descriptions of the command-line tables, and the HTML fragments of the pages.
 * An 'internal' error is a failure for the log and bug reports, which stay English, and so are the
 * configuration errors, which stop passimd before it serves anyone.
 */
function untranslated() {
  /** @type {string[]} */
  const found = [];
  for (const { path, tree } of SOURCES) {
    for (const node of nodes(tree)) {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
        const args = node.arguments ?? [];
        if (node.expression.text === 'PassimError') {
          const kind = literalText(args[0]);
          if (kind !== 'internal' && path !== 'src/daemon/config.ts' && hasWords(literalText(args[1]))) found.push(where(path, node));
        }
        if (node.expression.text === 'UsageError' && hasWords(literalText(args[0]))) found.push(where(path, node));
      }
      if (ts.isCallExpression(node) && /^process\.std(out|err)\.write$/.test(node.expression.getText()) && path.startsWith('src/ctl/')) {
        if (hasWords(literalText(node.arguments[0]))) found.push(where(path, node));
      }
      if (ts.isPropertyAssignment(node) && ['description', 'summary', 'epilogue'].includes(node.name.getText())) {
        if (hasWords(literalText(node.initializer))) found.push(where(path, node));
      }
      const parent = node.parent;
      const message = parent && ts.isCallExpression(parent) && ['_', 'N_'].includes(parent.expression.getText());
      if (path === 'src/daemon/http/pages.ts' && !message) {
        const html = literalText(node);
        if (html?.includes('<') && hasWords(html.replace(/<[^>]*>/g, ''))) found.push(where(path, node));
      }
    }
  }
  return found;
}

test('no user-facing text in src/ escapes translation', () => {
  assert.deepEqual(untranslated(), []);
});

/**
 * The {placeholders} of a message, sorted.
 * @param {string} text
 */
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
/**
 * The HTML tags of a message, sorted.
 * @param {string} text
 */
const tags = (text) => [...text.matchAll(/<[^>]*>/g)].map((m) => m[0]).sort();

for (const lang of LINGUAS) {
  test(`po/${lang}.po compiles, and each translation keeps its placeholders and markup`, async () => {
    const check = await runProcess('msgfmt', ['--check', '--statistics', '-o', '/dev/null', join(ROOT, 'po', `${lang}.po`)]);
    assert.equal(check.code, 0, check.stderr);
    for (const entry of messages(await poFile(`${lang}.po`))) {
      const translation = entry.msgstr[0] ?? '';
      if (translation === '') continue;
      assert.deepEqual(placeholders(translation), placeholders(entry.msgid), `${lang}: ${entry.msgid}`);
      // The HTML of the pages is markup; elsewhere <…> is part of the text, as <command> in --help.
      if (entry.comments?.reference?.includes('src/daemon/http/pages.ts')) {
        assert.deepEqual(tags(translation), tags(entry.msgid), `${lang}: ${entry.msgid}`);
      }
    }
  });
}

test('the German translation is complete and merged with the current passim.pot', async () => {
  const pot = messages(await poFile('passim.pot')).map((entry) => entry.msgid);
  const de = messages(await poFile('de.po')).filter((entry) => !entry.obsolete);
  assert.deepEqual(de.map((entry) => entry.msgid).sort(), [...pot].sort(), 'run npm run po:update');
  assert.deepEqual(
    de.filter((entry) => !entry.msgstr[0] || entry.comments?.flag?.includes('fuzzy')).map((entry) => entry.msgid),
    [],
    'untranslated or fuzzy',
  );
});

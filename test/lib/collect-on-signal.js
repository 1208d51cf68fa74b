// Preloaded into a passimd under test (live-memory.js): on SIGUSR2 the daemon collects its garbage and says so
// on stderr, so that a memory reading counts what it holds, not garbage that its next collection would free.
const collect = globalThis.gc;
if (!collect) throw new Error('collect-on-signal.js needs node --expose-gc (data/passimd.options)');
process.on('SIGUSR2', () => {
  // Twice, as src/daemon/memory-release.ts does: the second pass returns the pages the first left fragmented.
  collect();
  collect();
  // The line liveAnonymousBytes() waits for (live-memory.js).
  process.stderr.write('collect-on-signal: collected\n');
});

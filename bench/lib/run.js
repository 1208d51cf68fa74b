// How a benchmark on the test LANs starts: progress lines, a way to stop with a reason, and the checks that
// it can run at all.
import { existsSync } from 'node:fs';

/**
 * Checks that `script` runs as root on a built tree (it makes network namespaces and runs passimd from
 * dist/), and returns say(text), a progress line on stderr with the seconds since now, and fail(text),
 * which names the script and exits with status 1.
 * @param {string} script
 */
export function startRun(script) {
  const started = performance.now();
  const say = (/** @type {string} */ text) =>
    process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(7)} s] ${text}\n`);
  /** @type {(text: string) => never} */
  const fail = (text) => {
    console.error(`${script}: ${text}`);
    process.exit(1);
  };
  if (process.getuid?.() !== 0) fail('it makes network namespaces and runs daemons in them: run it as root.');
  if (!existsSync(new URL('../../dist/daemon/main.js', import.meta.url))) fail('dist/ is missing: run `npm run build` first.');
  return { say, fail };
}

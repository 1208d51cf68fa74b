// What a passimd under test holds live: its anonymous memory read right after it collected its garbage. A
// reading without the collection moves by megabytes with whatever the heap has not collected yet.
import { residentBytes, waitFor } from './process.js';

/** The environment that preloads collect-on-signal.js into a daemon started by startDaemon (harness.js). */
export const COLLECT_ON_SIGNAL_ENV = { NODE_OPTIONS: `--import=${new URL('collect-on-signal.js', import.meta.url).href}` };
/** What collect-on-signal.js prints once it has collected. */
const COLLECTED = 'collect-on-signal: collected';

/**
 * Makes `daemon` (started with COLLECT_ON_SIGNAL_ENV) collect its garbage, then reads its RssAnon.
 * @param {{ pid: number, output(): string }} daemon
 */
export async function liveAnonymousBytes(daemon) {
  const collections = () => daemon.output().split(COLLECTED).length;
  const before = collections();
  process.kill(daemon.pid, 'SIGUSR2');
  await waitFor(() => collections() > before, 'the daemon to collect its garbage');
  return residentBytes(daemon.pid, 'RssAnon');
}

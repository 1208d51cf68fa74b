// SPDX-License-Identifier: LGPL-2.1-or-later
// The project's version, from package.json.
import { readFileSync } from 'node:fs';

/** The package version, read once from package.json next to the built code. */
export const VERSION: string = (() => {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
    return parsed.version;
  }
  return 'unknown';
})();

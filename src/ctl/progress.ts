// SPDX-License-Identifier: LGPL-2.1-or-later
// A download progress bar on stderr.
import { formatSize } from '../shared/format.js';
import { _, localTranslator } from '../shared/i18n.js';

/** A one-line bar on stderr, redrawn only when the shown percentage changes. */
export class ProgressBar {
  private shown = -1;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number): void {
    const percent = Math.min(100, Math.floor((done * 100) / this.total));
    if (percent === this.shown) return;
    this.shown = percent;
    const { locale } = localTranslator();
    // TRANSLATORS: download progress, e.g. "1.5 MB of 3.1 MB"
    const text = ` ${String(percent).padStart(3)}% ${_('{done} of {total}', { done: formatSize(done, locale), total: formatSize(this.total, locale) })}`;
    const width = Math.max(10, Math.min(40, (process.stderr.columns || 80) - this.label.length - text.length - 4));
    const filled = Math.round((width * percent) / 100);
    process.stderr.write(`\r${this.label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}]${text}\x1b[K`);
  }

  clear(): void {
    if (this.shown >= 0) process.stderr.write('\r\x1b[K');
  }
}

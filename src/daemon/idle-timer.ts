// SPDX-License-Identifier: LGPL-2.1-or-later
// The quiet period before an idle exit: restarted by every sign of use, checked again when it runs out.

export interface IdleTimerOptions {
  timeoutMs: number;
  /** Whether there is nothing to keep running for (nothing published, nothing in progress). */
  isIdle: () => boolean;
  onIdle: () => void;
}

export class IdleTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: IdleTimerOptions) {
    this.arm();
  }

  /** Something happened: the quiet period starts again. */
  poke(): void {
    if (!this.stopped) this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    // Unreferenced: a daemon shutting down for another reason must not wait for it.
    this.timer = setTimeout(() => this.expired(), this.options.timeoutMs).unref();
  }

  private expired(): void {
    if (this.stopped) return;
    if (this.options.isIdle()) {
      this.stopped = true;
      this.options.onIdle();
    } else {
      this.arm();
    }
  }
}

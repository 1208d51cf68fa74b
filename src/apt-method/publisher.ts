// SPDX-License-Identifier: LGPL-2.1-or-later
// Publishing files apt verified through passimd's D-Bus API, and reporting where downloads came from for its
// traffic figures, a few at a time, never failing a download.
import { closeSync } from 'node:fs';
import type { PassimClient } from '../client/client.js';

/** Where a download that passimd was asked about first came from, for its Traffic figures. */
export interface ReportJob {
  hash: string;
  source: 'neighbour' | 'origin';
  bytes: number;
}

export interface PublishJob {
  /** An open descriptor of the verified file, taken before apt could move or replace it; closed here. */
  fd: number;
  filename: string;
  maxAge: number;
  shareLimit: number;
}

/** Publishes in flight at once: passimd handles each in its own time, mostly waiting on the disk. */
const PUBLISH_CONCURRENCY = 8;

/**
 * A queue of publishes over one bus connection, made on first use. Each outcome goes to `log`; a daemon
 * that is absent or refuses is logged and the rest still tried (each call is cheap to fail).
 */
export class Publisher {
  private client: Promise<PassimClient> | undefined;
  private readonly queue: Array<PublishJob | ReportJob> = [];
  private running = 0;
  private idle: (() => void)[] = [];

  constructor(private readonly log: (text: string) => void) {}

  add(job: PublishJob): void {
    this.queue.push(job);
    this.next();
  }

  report(hash: string, source: 'neighbour' | 'origin', bytes: number): void {
    this.queue.push({ hash, source, bytes });
    this.next();
  }

  private next(): void {
    while (this.running < PUBLISH_CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift() as PublishJob | ReportJob;
      this.running++;
      void ('fd' in job ? this.publish(job) : this.sendReport(job)).finally(() => {
        this.running--;
        this.next();
      });
    }
    if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  private async publish(job: PublishJob): Promise<void> {
    try {
      this.client ??= import('../client/client.js').then(({ PassimClient }) => PassimClient.connect());
      const started = performance.now();
      const client = await this.client;
      await client.publish(job.fd, { filename: job.filename, maxAge: job.maxAge, shareLimit: job.shareLimit });
      this.log(`published ${job.filename} (${Math.round(performance.now() - started)} ms)`);
    } catch (err) {
      const kind = (err as { kind?: unknown }).kind;
      // Already shared (another apt run, or the neighbour we got it from did not have it after all): fine.
      if (kind === 'exists') this.log(`already published: ${job.filename}`);
      else this.log(`could not publish ${job.filename}: ${err instanceof Error ? err.message : String(err)}`);
      // A broken connection is made anew for the next file.
      if (kind !== 'exists' && kind !== 'access-denied') this.client = undefined;
    } finally {
      try {
        closeSync(job.fd);
      } catch {
        /* already closed */
      }
    }
  }

  private async sendReport(job: ReportJob): Promise<void> {
    try {
      this.client ??= import('../client/client.js').then(({ PassimClient }) => PassimClient.connect());
      const counted = await (await this.client).reportTransfer(job.hash, job.source, job.bytes);
      this.log(`reported ${job.bytes} bytes of ${job.hash} from the ${job.source}; ${counted} counted`);
    } catch (err) {
      // An original passimd has no ReportTransfer, and a report is never worth failing a download for.
      this.log(`could not report ${job.hash}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Waits for queued publishes, at most `timeoutMs`; then disconnects. Returns how many were left undone. */
  async finish(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const done = this.running === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idle.push(resolve));
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    const left = this.running + this.queue.length;
    const client = await Promise.race([this.client?.catch(() => undefined), Promise.resolve(undefined)]);
    client?.disconnect();
    return left;
  }
}

// SPDX-License-Identifier: LGPL-2.1-or-later
// apt's own method for a scheme (its http or https), run as a child speaking the same protocol: it does
// every download that does not come from the LAN, so proxies, authentication and redirects stay apt's.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { MessageReader, type Message } from './message.js';

export interface ChildEvents {
  /** A message from the child other than its 100 Capabilities, in the order it sent them. */
  onMessage(message: Message): void;
  /** The child is gone (or never started); `reason` says why. Nothing more comes from it. */
  onGone(reason: string): void;
}

/**
 * One child method. Messages sent before its 100 Capabilities are held, then the configuration (apt's
 * 601, relayed as received) goes first, as apt itself would send it.
 */
export class ChildMethod {
  private child: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private ready = false;
  private held: string[] = [];
  private gone = false;

  constructor(
    readonly path: string,
    private readonly configuration: string | undefined,
    private readonly events: ChildEvents,
  ) {}

  /** Starts the child; failures come back through onGone (asynchronously). */
  start(): void {
    let child: ChildProcessByStdio<Writable, Readable, null>;
    try {
      // argv[0] is the method's own path: apt's http binary reads its scheme (http or https) from it.
      child = spawn(this.path, [], { stdio: ['pipe', 'pipe', 'inherit'], argv0: this.path });
    } catch (err) {
      queueMicrotask(() => this.end(`cannot run ${this.path}: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    this.child = child;
    child.once('error', (err) => this.end(`cannot run ${this.path}: ${err.message}`));
    child.once('exit', (code, signal) => this.end(`${this.path} exited (${signal ?? `status ${code}`})`));
    // A child that stops reading must not crash us with EPIPE; its exit is reported above.
    child.stdin.on('error', () => {});
    const reader = new MessageReader(
      (message) => this.received(message),
      (error) => {
        this.end(`${this.path} sent a malformed message: ${error.message}`);
        child.kill('SIGKILL');
      },
    );
    child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
  }

  private received(message: Message): void {
    if (this.gone) return;
    if (message.code === 100 && !this.ready) {
      this.ready = true;
      if (this.configuration !== undefined) this.write(this.configuration);
      for (const text of this.held) this.write(text);
      this.held = [];
      return;
    }
    this.events.onMessage(message);
  }

  /** Sends a message (raw text without its terminating blank line). */
  send(raw: string): void {
    if (this.gone) return;
    if (this.ready) this.write(raw);
    else this.held.push(raw);
  }

  get alive(): boolean {
    return !this.gone;
  }

  private write(raw: string): void {
    this.child?.stdin.write(`${raw}\n\n`);
  }

  private end(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.held = [];
    this.events.onGone(reason);
  }

  /** Closing stdin is how apt tells a method to finish; a child that lingers is killed after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

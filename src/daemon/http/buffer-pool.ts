// SPDX-License-Identifier: LGPL-2.1-or-later
// Read buffers reused across transfers instead of a fresh allocation per chunk.

/** Idle buffers kept for reuse, in bytes over all sizes; the rest go to the garbage collector. */
const MAX_IDLE_BYTES = 4 * 1024 * 1024;

export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;

  take(size: number): Buffer {
    const buffer = this.idle.get(size)?.pop();
    if (buffer) {
      this.idleBytes -= size;
      return buffer;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  give(buffer: Buffer): void {
    if (this.idleBytes + buffer.length > MAX_IDLE_BYTES) return;
    const list = this.idle.get(buffer.length) ?? [];
    list.push(buffer);
    this.idle.set(buffer.length, list);
    this.idleBytes += buffer.length;
  }
}

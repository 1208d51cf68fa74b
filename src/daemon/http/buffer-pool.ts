// SPDX-License-Identifier: LGPL-2.1-or-later
// Read buffers reused across transfers instead of a fresh allocation per chunk.

/** Idle buffers kept for reuse, in bytes over all sizes; the rest go to the garbage collector. */
const MAX_IDLE_BYTES = 4 * 1024 * 1024;
/**
 * What all transfers together may hold in chunks beyond their first size (transfer.ts grows a fast client's
 * chunks to 1 MiB, a read ahead and a write each): about 16 clients at full size. Past it, clients get the
 * first size, which costs more CPU per byte but bounds what many fast clients hold (bench/compare.js).
 */
export const MAX_GROWN_BYTES = 32 * 1024 * 1024;

export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;
  private grownBytes = 0;

  /** Takes `bytes` of the allowance for larger chunks; false (and nothing taken) when it would go over. */
  reserveGrowth(bytes: number): boolean {
    if (this.grownBytes + bytes > MAX_GROWN_BYTES) return false;
    this.grownBytes += bytes;
    return true;
  }

  /** Gives back what reserveGrowth() took, once the transfer is over. */
  releaseGrowth(bytes: number): void {
    this.grownBytes -= bytes;
  }

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

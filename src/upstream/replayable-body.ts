// A request body that can be sent again (a retry, a hedged attempt) within a
// bound: it streams to the current attempt as it arrives, keeping a copy of
// at most `maxBytes`; past that it still streams, but is no longer
// replayable (Envoy's retry buffer limit behaves the same way). The copy is
// references to the chunks the client sent, not a second buffer.
import { Readable } from 'node:stream';

export class ReplayableBody {
  private source: Readable;
  private maxBytes: number;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private overflowed = false;
  private ended = false;
  private failed: Error | null = null;
  private current: Readable | null = null;
  private attempts = 0;

  constructor(source: Readable, maxBytes: number) {
    this.source = source;
    this.maxBytes = maxBytes;
  }

  /** Whether another attempt can be given the whole body. */
  get replayable(): boolean {
    return !this.overflowed && this.failed === null;
  }

  /**
   * The body for the next attempt: the first call streams live; later calls
   * replay what was kept, then follow the source. undefined when the body has
   * gone over the bound (the request is then not retryable).
   */
  stream(): Readable | undefined {
    if (this.attempts++ === 0) {
      // Read from the source only once there is an attempt to feed.
      const src = this.source;
      src.on('data', this.onData);
      src.once('end', this.onEnd);
      src.once('error', this.onError);
    } else if (!this.replayable) return undefined;
    const prev = this.current;
    const next = new Readable({ read: () => this.source.resume() });
    this.current = next;
    // The previous attempt is over: its body must not get the rest.
    if (prev && !prev.destroyed) prev.destroy();
    for (const c of this.chunks) next.push(c);
    if (this.failed) next.destroy(this.failed);
    else if (this.ended) next.push(null);
    return next;
  }

  private onData = (chunk: Buffer): void => {
    if (!this.overflowed) {
      this.bytes += chunk.length;
      if (this.bytes > this.maxBytes) {
        this.overflowed = true;
        this.chunks = [];
      } else this.chunks.push(chunk);
    }
    const cur = this.current;
    if (cur && !cur.destroyed && !cur.push(chunk)) this.source.pause();
  };

  private onEnd = (): void => {
    this.ended = true;
    const cur = this.current;
    if (cur && !cur.destroyed) cur.push(null);
  };

  private onError = (err: Error): void => {
    this.failed = err;
    this.current?.destroy(err);
  };
}

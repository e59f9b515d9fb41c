import { DecodeError } from '../errors.ts';

/**
 * Length-prefixed framing for byte-stream transports: a u32 big-endian length, then the
 * body. The simulator carries whole frames and does not need this; the QUIC driver does.
 */
export const FRAME_HEADER_BYTES = 4;

export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Reassembles frames from arbitrary chunks. A length above `maxFrameBytes` is reported
 * before any of the body is buffered, so a hostile length cannot make us allocate. The first
 * frame may have a lower limit of its own (`firstFrameMaxBytes`: a stream that starts with a
 * small handshake message).
 */
export class FrameDecoder {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #failed: DecodeError | undefined;
  #limit: number;

  constructor(
    readonly maxFrameBytes: number,
    firstFrameMaxBytes: number = maxFrameBytes,
  ) {
    this.#limit = Math.min(firstFrameMaxBytes, maxFrameBytes);
  }

  /** Feeds a chunk; returns the complete frame bodies, or the error that ends the stream. */
  push(chunk: Uint8Array): { frames: Uint8Array[]; error?: DecodeError } {
    if (this.#failed) return { frames: [], error: this.#failed };
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#buffered < FRAME_HEADER_BYTES) break;
      const header = this.#peek(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false);
      if (length > this.#limit) {
        this.#failed = new DecodeError('oversized', `frame of ${length} bytes exceeds the ${this.#limit}-byte limit`);
        return { frames, error: this.#failed };
      }
      if (this.#buffered < FRAME_HEADER_BYTES + length) break;
      this.#take(FRAME_HEADER_BYTES);
      frames.push(this.#take(length));
      this.#limit = this.maxFrameBytes;
    }
    return { frames };
  }

  /** Bytes of an unfinished frame; non-zero at end of stream means the stream was truncated. */
  get pendingBytes(): number {
    return this.#buffered;
  }

  /** The chunks those bytes are kept in (each a view, which costs memory of its own). */
  get pendingChunks(): number {
    return this.#chunks.length;
  }

  /** Called at end of stream: a partial frame left over is a truncation. */
  finish(): DecodeError | undefined {
    if (this.#buffered > 0) return new DecodeError('truncated', `stream ended inside a frame (${this.#buffered} bytes pending)`);
    return undefined;
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length >= n) return first.subarray(0, n);
    return this.#gather(n, false);
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    return this.#gather(n, true);
  }

  #gather(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    while (filled < n) {
      const chunk = this.#chunks[i] as Uint8Array;
      const part = Math.min(chunk.length, n - filled);
      out.set(chunk.subarray(0, part), filled);
      filled += part;
      if (consume) {
        if (part === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(part);
      } else {
        i++;
      }
    }
    if (consume) this.#buffered -= n;
    return out;
  }
}

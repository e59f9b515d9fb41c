import { DecodeError } from '../core/errors.ts';
import { FRAME_HEADER_BYTES, FrameDecoder } from '../core/wire/frame.ts';
import { CHUNK_OVERHEAD_BYTES } from './read-budget.ts';

/**
 * The driver's framing on one QUIC stream (one link). Each frame is the core's length-prefixed
 * frame (u32 BE length, `core/wire/frame.ts`) whose body starts with a kind byte:
 *   kind 0 `data`:  the rest is one frame body of the node machine;
 *   kind 1 `close`: the rest is u32 BE close code + UTF-8 reason; the sender then ends the stream.
 * A close frame carries the application close code across, which a bare stream end cannot.
 */
export const FrameKind = { Data: 0, Close: 1 } as const;

/** Longest close reason sent, in bytes; longer reasons are cut (at a character boundary). */
export const MAX_CLOSE_REASON_BYTES = 1024;

const KIND_BYTES = 1;
const CLOSE_CODE_BYTES = 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Header of a data frame: length + kind. The body follows as its own chunk (no copy). */
export function dataFrameHeader(bodyLength: number): Uint8Array {
  const header = new Uint8Array(FRAME_HEADER_BYTES + KIND_BYTES);
  new DataView(header.buffer).setUint32(0, KIND_BYTES + bodyLength, false);
  header[FRAME_HEADER_BYTES] = FrameKind.Data;
  return header;
}

export function closeFrame(code: number, reason: string): Uint8Array {
  const text = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
  const length = KIND_BYTES + CLOSE_CODE_BYTES + text.length;
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  const view = new DataView(out.buffer);
  view.setUint32(0, length, false);
  out[FRAME_HEADER_BYTES] = FrameKind.Close;
  view.setUint32(FRAME_HEADER_BYTES + KIND_BYTES, code >>> 0, false);
  out.set(text, FRAME_HEADER_BYTES + KIND_BYTES + CLOSE_CODE_BYTES);
  return out;
}

export type LinkFrame = { readonly kind: 'data'; readonly body: Uint8Array } | { readonly kind: 'close'; readonly code: number; readonly reason: string };

/**
 * Reassembles link frames from stream chunks. Data bodies may be up to `maxBodyBytes` (the
 * node's `maxFrameBytes`); a longer length prefix is rejected before anything is buffered.
 * The first frame's body may be limited lower (`firstBodyMaxBytes`): on a link it is the
 * handshake message, a few hundred bytes, and before it the peer has not even said which
 * network it is on. A close frame is always allowed.
 */
export class LinkFrameDecoder {
  readonly #frames: FrameDecoder;

  constructor(maxBodyBytes: number, firstBodyMaxBytes: number = maxBodyBytes) {
    // Room for the kind byte; a close frame's reason is far below any sane frame limit.
    const limit = (bodyBytes: number) => Math.max(bodyBytes, CLOSE_CODE_BYTES + MAX_CLOSE_REASON_BYTES) + KIND_BYTES;
    this.#frames = new FrameDecoder(limit(maxBodyBytes), limit(firstBodyMaxBytes));
  }

  /** What the unfinished frame held here costs: its bytes, and an overhead per chunk they came in (see read-budget.ts). */
  get heldBytes(): number {
    return this.#frames.pendingBytes + CHUNK_OVERHEAD_BYTES * this.#frames.pendingChunks;
  }

  /** The frames completed by `chunk`, or the error that ends the stream (after the good ones). */
  push(chunk: Uint8Array): { frames: LinkFrame[]; error?: DecodeError } {
    const pushed = this.#frames.push(chunk);
    const frames: LinkFrame[] = [];
    for (const raw of pushed.frames) {
      const frame = parseLinkFrame(raw);
      if (frame instanceof DecodeError) return { frames, error: frame };
      frames.push(frame);
    }
    return pushed.error ? { frames, error: pushed.error } : { frames };
  }
}

function parseLinkFrame(raw: Uint8Array): LinkFrame | DecodeError {
  if (raw.length < KIND_BYTES) return new DecodeError('truncated', 'link frame without a kind byte');
  const kind = raw[0];
  if (kind === FrameKind.Data) return { kind: 'data', body: raw.subarray(KIND_BYTES) };
  if (kind === FrameKind.Close) {
    if (raw.length < KIND_BYTES + CLOSE_CODE_BYTES) return new DecodeError('truncated', 'close frame without a code');
    if (raw.length > KIND_BYTES + CLOSE_CODE_BYTES + MAX_CLOSE_REASON_BYTES) return new DecodeError('oversized', 'close reason too long');
    const code = new DataView(raw.buffer, raw.byteOffset + KIND_BYTES, CLOSE_CODE_BYTES).getUint32(0, false);
    return { kind: 'close', code, reason: decoder.decode(raw.subarray(KIND_BYTES + CLOSE_CODE_BYTES)) };
  }
  return new DecodeError('unknown-variant', `link frame kind ${kind}`);
}

function truncateUtf8(text: string, maxBytes: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

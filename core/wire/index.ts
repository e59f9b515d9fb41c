export { CloseCode, closeCodeName } from './close-codes.ts';
export type { CloseCodeName } from './close-codes.ts';
export { DEFAULT_MAX_FRAME_BYTES, checkFrameSize, msgpackCodec } from './codec.ts';
export type { Decoded, MessageCodec } from './codec.ts';
export { FRAME_HEADER_BYTES, FrameDecoder, encodeFrame } from './frame.ts';
export { Protocols, protocolId } from './protocol.ts';
export type { ProtocolId } from './protocol.ts';
export * as s from './schema.ts';

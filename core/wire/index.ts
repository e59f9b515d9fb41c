export type { CloseCodeName } from './close-codes.ts';
export { CloseCode, closeCodeName } from './close-codes.ts';
export type { Decoded, MessageCodec } from './codec.ts';
export { checkFrameSize, DEFAULT_MAX_FRAME_BYTES, msgpackCodec } from './codec.ts';
export { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from './frame.ts';
export type { ProtocolId } from './protocol.ts';
export { Protocols, protocolId } from './protocol.ts';
export * as s from './schema.ts';

/**
 * The `sdrlink/1` transfer protocol (docs/protocol.md): pure and isomorphic — no Node or DOM I/O. Channels,
 * file access, CRC-32 and SHA-256 are injected, so the same code runs in the agents, the relay and the browser.
 */
export type { Channel } from './channel.js';
export { PROTOCOL_NAME, dispatchControl, encodeControl, parseControl, utf8Length } from './codec.js';
export type {
  AckMessage,
  ControlHandlers,
  ControlMessage,
  ControlType,
  ErrorMessage,
  FileCompleteMessage,
  FileMetadataMessage,
  KeepaliveMessage,
  ResumeMessage,
  StartMessage,
} from './codec.js';
export { crc32, crc32Update } from './crc32.js';
export type { Crc32 } from './crc32.js';
export { TRANSFER_ERROR_CODES, TransferError, isTransferErrorCode, toTransferError } from './errors.js';
export type { TransferErrorCode, TransferErrorOptions } from './errors.js';
export { MAX_FILE_NAME_BYTES, checkFileName } from './file-name.js';
export { KEEPALIVE_DEFAULTS, Keepalive, MAX_KEEPALIVE_MS, peerTimeoutFor } from './keepalive.js';
export type { KeepaliveOptions } from './keepalive.js';
export {
  DEFAULT_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  FRAME_KIND_DATA,
  HIGH_WATER_BYTES,
  LOW_WATER_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CONTROL_BYTES,
  MAX_FRAME_OFFSET,
  SEED_CHUNK_BYTES,
  checkFrameHeader,
  decodeFrame,
  encodeFrame,
  readFrameCrc,
  writeFrameHeader,
} from './frames.js';
export type { DataFrame } from './frames.js';
export { createSha256, isSha256Hex, wrapDigestHash } from './hashing.js';
export type { DigestHashLike, Hash, HashFactory } from './hashing.js';
export { RECEIVE_DEFAULTS, receiveFile } from './receiver.js';
export type {
  FileMetadata,
  ReceiveOptions,
  ReceiveProgress,
  ReceiveResult,
  ReceiveTarget,
} from './receiver.js';
export { SEND_DEFAULTS, sendFile } from './sender.js';
export type { ByteSource, SendOptions, SendProgress, SendResult } from './sender.js';

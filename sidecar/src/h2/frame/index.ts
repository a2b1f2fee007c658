// The HTTP/2 frame layer (RFC 9113 sections 4 and 6): a streaming decoder, encoders, and the codes they speak.
export { DEFAULT_MAX_HEADER_BLOCK_SIZE, FrameDecoder, type FrameDecoderOptions, type FrameHandler } from "./decoder.ts";
export {
  encodeData,
  encodeGoAway,
  encodeHeaders,
  encodePing,
  encodePriority,
  encodePushPromise,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  type HeadersOptions,
} from "./encoder.ts";
export { type ErrorScope, FrameError, HeaderBlockTooLargeError } from "./errors.ts";
export { FRAME_HEAD_LENGTH } from "./head.ts";
export { CONNECTION_PREFACE, checkPreface } from "./preface.ts";
export type { Priority } from "./priority.ts";
export { SettingId, type Settings } from "./settings.ts";
export {
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  errorCodeName,
  Flag,
  FrameType,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_STREAM_ID,
  MAX_WINDOW_SIZE,
} from "./types.ts";

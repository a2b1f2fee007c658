import { FrameError } from "./errors.ts";
import { DEFAULT_MAX_FRAME_SIZE, ErrorCode, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW_SIZE } from "./types.ts";

/** Setting identifiers (RFC 9113 section 6.5.2, RFC 8441 for ENABLE_CONNECT_PROTOCOL). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

/** The settings a SETTINGS frame carried; absent ones keep their previous value. Unknown identifiers are ignored. */
export interface Settings {
  headerTableSize?: number;
  enablePush?: number;
  maxConcurrentStreams?: number;
  initialWindowSize?: number;
  maxFrameSize?: number;
  maxHeaderListSize?: number;
  enableConnectProtocol?: number;
}

/** Wire order used when encoding, and the id-to-field mapping used when decoding. */
const SETTING_FIELDS: ReadonlyArray<readonly [number, keyof Settings]> = [
  [SettingId.HEADER_TABLE_SIZE, "headerTableSize"],
  [SettingId.ENABLE_PUSH, "enablePush"],
  [SettingId.MAX_CONCURRENT_STREAMS, "maxConcurrentStreams"],
  [SettingId.INITIAL_WINDOW_SIZE, "initialWindowSize"],
  [SettingId.MAX_FRAME_SIZE, "maxFrameSize"],
  [SettingId.MAX_HEADER_LIST_SIZE, "maxHeaderListSize"],
  [SettingId.ENABLE_CONNECT_PROTOCOL, "enableConnectProtocol"],
];
const FIELD_BY_ID = new Map<number, keyof Settings>(SETTING_FIELDS);

export const SETTING_ENTRY_LENGTH = 6;

/** A value the RFC forbids for its setting, as the connection error to answer with; undefined when valid. */
function invalidSetting(id: number, value: number): FrameError | undefined {
  switch (id) {
    case SettingId.ENABLE_PUSH:
    case SettingId.ENABLE_CONNECT_PROTOCOL:
      return value > 1
        ? new FrameError(
            "connection",
            ErrorCode.PROTOCOL_ERROR,
            0,
            `setting 0x${id.toString(16)} must be 0 or 1, got ${value}`,
          )
        : undefined;
    case SettingId.INITIAL_WINDOW_SIZE:
      return value > MAX_WINDOW_SIZE
        ? new FrameError("connection", ErrorCode.FLOW_CONTROL_ERROR, 0, `INITIAL_WINDOW_SIZE ${value} exceeds 2^31-1`)
        : undefined;
    case SettingId.MAX_FRAME_SIZE:
      return value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE
        ? new FrameError(
            "connection",
            ErrorCode.PROTOCOL_ERROR,
            0,
            `MAX_FRAME_SIZE ${value} is outside 16384..16777215`,
          )
        : undefined;
    default:
      return undefined;
  }
}

/** Parses a SETTINGS payload whose length the caller checked to be a multiple of 6. Later entries win. */
export function decodeSettings(payload: Buffer): Settings | FrameError {
  const settings: Settings = {};
  for (let offset = 0; offset + SETTING_ENTRY_LENGTH <= payload.length; offset += SETTING_ENTRY_LENGTH) {
    const id = payload.readUInt16BE(offset);
    const value = payload.readUInt32BE(offset + 2);
    const invalid = invalidSetting(id, value);
    if (invalid) return invalid;
    const field = FIELD_BY_ID.get(id);
    if (field) settings[field] = value;
  }
  return settings;
}

/** Writes the present settings as 6-byte entries at `offset`; returns how many bytes that took. */
export function writeSettings(target: Buffer, offset: number, settings: Settings): number {
  let written = 0;
  for (const [id, field] of SETTING_FIELDS) {
    const value = settings[field];
    if (value === undefined) continue;
    target.writeUInt16BE(id, offset + written);
    target.writeUInt32BE(value, offset + written + 2);
    written += SETTING_ENTRY_LENGTH;
  }
  return written;
}

export function settingsPayloadLength(settings: Settings): number {
  return SETTING_FIELDS.filter(([, field]) => settings[field] !== undefined).length * SETTING_ENTRY_LENGTH;
}

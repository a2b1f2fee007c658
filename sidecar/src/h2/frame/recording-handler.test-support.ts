import type { FrameHandler } from "./decoder.ts";
import type { FrameError } from "./errors.ts";
import type { Priority } from "./priority.ts";
import type { Settings } from "./settings.ts";

/** What the decoder reported, as plain records tests can compare. */
export type Recorded =
  | { kind: "data"; streamId: number; data: Buffer; endStream: boolean; flowControlledLength: number }
  | { kind: "headers"; streamId: number; headerBlock: Buffer; endStream: boolean; priority: Priority | undefined }
  | { kind: "priority"; streamId: number; priority: Priority }
  | { kind: "rstStream"; streamId: number; errorCode: number }
  | { kind: "settings"; settings: Settings }
  | { kind: "settingsAck" }
  | { kind: "pushPromise"; streamId: number; promisedStreamId: number; headerBlock: Buffer }
  | { kind: "ping"; opaqueData: Buffer; ack: boolean }
  | { kind: "goAway"; lastStreamId: number; errorCode: number; debugData: Buffer }
  | { kind: "windowUpdate"; streamId: number; increment: number }
  | { kind: "error"; error: FrameError };

export function recordingHandler(): FrameHandler & { records: Recorded[] } {
  const records: Recorded[] = [];
  return {
    records,
    onData: (streamId, data, endStream, flowControlledLength) =>
      records.push({ kind: "data", streamId, data, endStream, flowControlledLength }),
    onHeaders: (streamId, headerBlock, endStream, priority) =>
      records.push({ kind: "headers", streamId, headerBlock, endStream, priority }),
    onPriority: (streamId, priority) => records.push({ kind: "priority", streamId, priority }),
    onRstStream: (streamId, errorCode) => records.push({ kind: "rstStream", streamId, errorCode }),
    onSettings: (settings) => records.push({ kind: "settings", settings }),
    onSettingsAck: () => records.push({ kind: "settingsAck" }),
    onPushPromise: (streamId, promisedStreamId, headerBlock) =>
      records.push({ kind: "pushPromise", streamId, promisedStreamId, headerBlock }),
    onPing: (opaqueData, ack) => records.push({ kind: "ping", opaqueData, ack }),
    onGoAway: (lastStreamId, errorCode, debugData) =>
      records.push({ kind: "goAway", lastStreamId, errorCode, debugData }),
    onWindowUpdate: (streamId, increment) => records.push({ kind: "windowUpdate", streamId, increment }),
    onError: (error) => records.push({ kind: "error", error }),
  };
}

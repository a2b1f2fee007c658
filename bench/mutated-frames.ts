// Mutations of a valid HTTP/2 conversation for the hostile-input run: a client preface, SETTINGS, a gRPC request's
// HEADERS (HPACK-encoded with the sidecar's own encoder) and DATA, then a PING and a WINDOW_UPDATE, with a few bytes
// after the preface overwritten at seeded positions. Unlike random bytes after the preface, most of these parse as
// frames far enough to reach the stream, flow-control and header-decoding paths.
import {
  CONNECTION_PREFACE,
  encodeData,
  encodeHeaders,
  encodePing,
  encodeSettings,
  encodeWindowUpdate,
} from "../sidecar/src/h2/frame/index.ts";
import { Encoder, HeaderList } from "../sidecar/src/h2/hpack/index.ts";
import { seededBytes } from "./seeded-bytes.ts";

function validConversation(path: string): Buffer {
  const headers = new HeaderList();
  for (const [name, value] of [
    [":method", "POST"],
    [":scheme", "http"],
    [":authority", "127.0.0.1"],
    [":path", path],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["grpc-timeout", "1S"],
  ] as const) {
    headers.push(name, value);
  }
  const message = Buffer.from([0, 0, 0, 0, 7, 0x0a, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  return Buffer.concat([
    CONNECTION_PREFACE,
    encodeSettings({ initialWindowSize: 1 << 20 }),
    ...encodeHeaders(1, new Encoder().encode(headers)),
    ...encodeData(1, message, true),
    encodePing(Buffer.alloc(8), false),
    encodeWindowUpdate(0, 1 << 20),
  ]);
}

/** The `round`-th mutation: 1 to 8 bytes after the preface replaced, at positions and with values from the seed. */
export function mutatedConversation(path: string, round: number): Buffer {
  const bytes = validConversation(path);
  const changes = 1 + (round % 8);
  const noise = seededBytes(changes * 3, round + 1);
  const span = bytes.length - CONNECTION_PREFACE.length;
  for (let i = 0; i < changes; i++) {
    const position = CONNECTION_PREFACE.length + (noise.readUInt16BE(i * 3) % span);
    bytes[position] = noise[i * 3 + 2] as number;
  }
  return bytes;
}

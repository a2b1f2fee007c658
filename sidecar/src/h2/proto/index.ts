// The HTTP/2 protocol layer (RFC 9113 sections 5 and 6.9): connections, streams and flow control over any socket.
export { Connection, type ConnectionOptions } from "./connection.ts";
export { type ClosedBy, H2Stream, type StreamHandler } from "./stream.ts";

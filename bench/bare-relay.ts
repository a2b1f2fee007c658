// The floor of an HTTP/2 proxy in Node, for `npm run bench:sidecar`: one upstream connection per downstream one,
// every frame parsed with the sidecar's own frame layer and every header block HPACK-decoded (to read `:path` and
// `grpc-status`, as any routing proxy must), and the bytes written on unchanged. No routing, no policies: what is
// left between this and the sidecar is what the sidecar's own work costs.
//
//   node --import tsx bench/bare-relay.ts <listen host:port> <upstream host:port>
import { connect, createServer, type Socket } from "node:net";
import { splitAddress } from "../sidecar/src/config/address.ts";
import { CONNECTION_PREFACE, FrameDecoder, type FrameHandler } from "../sidecar/src/h2/frame/index.ts";
import { Decoder, HeaderList } from "../sidecar/src/h2/hpack/index.ts";

const [listen, upstream] = process.argv.slice(2) as [string, string];
const { host: listenHost, port: listenPort } = splitAddress(listen);
const { host: upstreamHost, port: upstreamPort } = splitAddress(upstream);
let calls = 0;
let failed = 0;

/** Watches one direction of a connection: frames parsed, header blocks decoded, nothing changed. */
function observer(direction: "request" | "response", onError: () => void): FrameDecoder {
  const hpack = new Decoder();
  const fields = new HeaderList();
  const ignore = () => {};
  const handler: FrameHandler = {
    onData: ignore,
    onHeaders(_streamId, block) {
      hpack.decode(block, fields);
      for (let i = 0; i < fields.length; i++) {
        const name = fields.name(i);
        if (direction === "request" && name === ":path") calls++;
        if (direction === "response" && name === "grpc-status" && fields.value(i) !== "0") failed++;
      }
    },
    onPriority: ignore,
    onRstStream: ignore,
    onSettings: ignore,
    onSettingsAck: ignore,
    onPushPromise: ignore,
    onPing: ignore,
    onGoAway: ignore,
    onWindowUpdate: ignore,
    onError,
  };
  // The largest frame either side may announce; the relay itself never refuses a frame its peers accept.
  return new FrameDecoder(handler, { maxFrameSize: 16_777_215 });
}

function relay(from: Socket, to: Socket, decoder: FrameDecoder, skip: number) {
  let preface = skip;
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
    const frames = preface > 0 ? chunk.subarray(Math.min(preface, chunk.length)) : chunk;
    preface = Math.max(0, preface - chunk.length);
    if (frames.length > 0) decoder.push(frames);
  });
  to.on("drain", () => from.resume());
  from.on("end", () => to.end());
}

createServer((downstream) => {
  const upstreamSocket = connect(upstreamPort, upstreamHost);
  const close = () => {
    downstream.destroy();
    upstreamSocket.destroy();
  };
  for (const socket of [downstream, upstreamSocket]) {
    socket.setNoDelay(true);
    socket.on("error", close);
    socket.on("close", close);
  }
  relay(downstream, upstreamSocket, observer("request", close), CONNECTION_PREFACE.length);
  relay(upstreamSocket, downstream, observer("response", close), 0);
}).listen(listenPort, listenHost, () => process.stdout.write(`bare relay on ${listen} -> ${upstream}\n`));

process.on("SIGTERM", () => {
  process.stdout.write(`bare relay: ${calls} calls relayed, ${failed} answered with a non-OK grpc-status\n`);
  process.exit(0);
});

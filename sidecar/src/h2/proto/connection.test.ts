import { once } from "node:events";
import { connect as connectTcp, createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../frame/index.ts";
import { HeaderList } from "../hpack/index.ts";
import { Connection } from "./connection.ts";
import type { H2Stream, StreamHandler } from "./stream.ts";

function list(fields: [string, string][]): HeaderList {
  const headers = new HeaderList();
  for (const [name, value] of fields) headers.push(name, value);
  return headers;
}

const REQUEST: [string, string][] = [
  [":method", "POST"],
  [":scheme", "http"],
  [":authority", "test"],
  [":path", "/echo"],
];

/** Collects what a stream reports, and resolves once it closes. */
class Recorder implements StreamHandler {
  readonly headers: [string, string][][] = [];
  readonly chunks: Buffer[] = [];
  readonly closed: Promise<H2Stream>;
  private resolveClosed: (stream: H2Stream) => void = () => {};
  constructor() {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }
  onHeaders(_stream: H2Stream, headers: HeaderList): void {
    this.headers.push(headers.toArray());
  }
  onData(_stream: H2Stream, data: Buffer, _endStream: boolean): void {
    this.chunks.push(Buffer.from(data));
  }
  onDrain(): void {}
  onClose(stream: H2Stream): void {
    this.resolveClosed(stream);
  }
  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Echoes each request body back with a 200 and a trailer, as a server connection's stream handler. */
class EchoHandler extends Recorder {
  override onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    super.onData(stream, data, endStream);
    if (!stream.headersSent) stream.respond(list([[":status", "200"]]));
    stream.write(Buffer.from(data));
    if (endStream) stream.end(list([["grpc-status", "0"]]));
  }
}

let server: Server | undefined;
const connections: Connection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.destroy();
  if (server) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function pair(options: { initialWindowSize?: number; onServer?: (connection: Connection) => void } = {}) {
  server = createServer((socket) => {
    const connection = Connection.server(socket, {
      initialWindowSize: options.initialWindowSize,
      onStream: (stream) => {
        stream.handler = new EchoHandler();
      },
    });
    connections.push(connection);
    options.onServer?.(connection);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const client = Connection.client(connectTcp({ host: "127.0.0.1", port }), {
    initialWindowSize: options.initialWindowSize,
  });
  connections.push(client);
  return client;
}

describe("Connection", () => {
  it("carries a request and its response, headers, data and trailers, both ways", async () => {
    const client = await pair();
    const recorder = new Recorder();
    const stream = client.request(list(REQUEST), recorder);
    stream.write(Buffer.from("hello"));
    stream.end();
    const closed = await recorder.closed;
    expect(closed.closedBy).toBe("done");
    expect(recorder.headers).toEqual([[[":status", "200"]], [["grpc-status", "0"]]]);
    expect(recorder.body.toString()).toBe("hello");
  });

  it("moves 4 MiB each way through 16 KiB windows, held back by flow control rather than buffered", async () => {
    const client = await pair({ initialWindowSize: 16 * 1024 });
    const body = Buffer.alloc(4 * 1024 * 1024, 7);
    const recorder = new Recorder();
    const stream = client.request(list(REQUEST), recorder);
    // The window is smaller than the body: the write is queued and reported as not taken at once.
    expect(stream.write(body)).toBe(false);
    stream.end();
    await recorder.closed;
    expect(recorder.body.equals(body)).toBe(true);
  });

  it("marks streams above the last stream id of a GOAWAY as never processed", async () => {
    let serverSide: Connection | undefined;
    const client = await pair({ onServer: (connection) => (serverSide = connection) });
    const first = new Recorder();
    const firstStream = client.request(list(REQUEST), first);
    firstStream.write(Buffer.from("one"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    serverSide?.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.canOpenStream).toBe(false);
    expect(() => client.request(list(REQUEST), new Recorder())).toThrow(/GOAWAY/);
    firstStream.end();
    expect((await first.closed).closedBy).toBe("done");
  });

  it("reports a reset from the peer with its code", async () => {
    server = createServer((socket) => {
      connections.push(
        Connection.server(socket, {
          onStream: (stream) => stream.reset(ErrorCode.REFUSED_STREAM),
        }),
      );
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    const client = Connection.client(connectTcp({ host: "127.0.0.1", port }));
    connections.push(client);
    const recorder = new Recorder();
    client.request(list(REQUEST), recorder, true);
    const closed = await recorder.closed;
    expect([closed.closedBy, closed.closeCode, closed.neverProcessed]).toEqual([
      "peer-reset",
      ErrorCode.REFUSED_STREAM,
      true,
    ]);
  });
});

import {
  createServer as createHttp2Server,
  type Http2Server,
  connect as http2Connect,
  type IncomingHttpHeaders,
} from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { EchoRequestSchema, EchoService } from "@mesh/proto/mesh/echo/v1/echo_pb";
import { afterAll, describe, expect, it } from "vitest";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

// An upstream that answers with no message sends either one trailers-only block or response headers and trailers;
// the sidecars must pass either on as it was framed. A connect-node app that rethrows a failed backend call's error
// (as the gateway does) sends `grpc-encoding: gzip` in its headers (the caller accepts gzip) and the backend's
// `grpc-encoding: identity` in its trailers (connect copies an error's metadata there): merged into one block, the
// caller reads `grpc-encoding: gzip, identity` and fails with INTERNAL instead of the app's status.

/** A connect-node echo app whose failures carry a backend's response headers as metadata. */
async function startConnectApp(): Promise<{ server: Http2Server; address: string }> {
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(EchoService, {
        async echo(request) {
          if (request.failCode) {
            throw new ConnectError(request.failMessage, request.failCode as Code, {
              "grpc-encoding": "identity",
              "grpc-accept-encoding": "identity,deflate,gzip",
            });
          }
          return { message: request.message, payload: new Uint8Array(request.responseSize).fill(1), servedBy: "c" };
        },
      }),
  });
  const server = createHttp2Server(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

interface RawAnswer {
  headers: string[];
  trailers: string[] | undefined;
}

/** One Echo call over node:http2, returning the raw header blocks as received. */
async function rawEcho(address: string, request: Parameters<typeof create<typeof EchoRequestSchema>>[1]) {
  const session = http2Connect(`http://${address}`);
  try {
    const body = toBinary(EchoRequestSchema, create(EchoRequestSchema, request));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": "/mesh.echo.v1.EchoService/Echo",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "gzip",
    });
    const answer: RawAnswer = { headers: [], trailers: undefined };
    stream.on("response", (_headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      answer.headers = raw;
    });
    stream.on("trailers", (_trailers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      answer.trailers = raw;
    });
    stream.resume();
    stream.end(frame);
    await new Promise((resolve) => stream.on("close", resolve));
    return answer;
  } finally {
    session.close();
  }
}

function values(raw: string[] | undefined, name: string): string[] {
  const found: string[] = [];
  for (let i = 0; raw && i + 1 < raw.length; i += 2) if (raw[i] === name) found.push(raw[i + 1] as string);
  return found;
}

let connectApp: { server: Http2Server; address: string };
let grpcApp: EchoServer;
// caller -> client sidecar (outbound) -> server sidecar (inbound) -> app, for each app.
let toConnectApp: TestSidecar;
let toGrpcApp: TestSidecar;

// Registered before the mesh's: it runs after the sidecars (and their connections to the app) are closed.
afterAll(() => new Promise<void>((resolve) => connectApp.server.close(() => resolve())));

useEchoMesh(async (mesh) => {
  connectApp = await startConnectApp();
  [grpcApp] = (await mesh.apps(1)) as [EchoServer];
  const connectSide = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: connectApp.address } });
  const grpcSide = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: grpcApp.address } });
  toConnectApp = await mesh.sidecar({ upstreams: echoUpstream([{ address: connectSide.inbound }]) });
  toGrpcApp = await mesh.sidecar({ upstreams: echoUpstream([{ address: grpcSide.inbound }]) });
});

describe("an upstream's answer without a message", () => {
  it("keeps response headers and trailers apart, so fields in both are not repeated", async () => {
    const direct = await rawEcho(connectApp.address, { failCode: Code.Unavailable, failMessage: "backend down" });
    // What the app sends: gzip negotiated in the headers, the backend's identity in the trailers.
    expect(values(direct.headers, "grpc-encoding")).toEqual(["gzip"]);
    expect(values(direct.trailers, "grpc-encoding")).toEqual(["identity"]);

    const relayed = await rawEcho(toConnectApp.outbound, { failCode: Code.Unavailable, failMessage: "backend down" });
    expect(values(relayed.headers, "grpc-encoding")).toEqual(["gzip"]);
    expect(values(relayed.headers, "grpc-status")).toEqual([]);
    expect(values(relayed.trailers, "grpc-encoding")).toEqual(["identity"]);
    expect(values(relayed.trailers, "grpc-status")).toEqual([String(Code.Unavailable)]);
  });

  it("gives a connect client the app's status, not INTERNAL for an encoding it cannot read", async () => {
    const failure = echoClient(toConnectApp.outbound).echo({ failCode: Code.Unavailable, failMessage: "backend down" });
    await expect(failure).rejects.toSatisfy(
      (error: ConnectError) => error.code === Code.Unavailable && error.rawMessage === "backend down",
    );
    // And the same app's large answers still arrive gzipped and decoded.
    const reply = await echoClient(toConnectApp.outbound).echo({ message: "big", responseSize: 4096 });
    expect(reply.payload.length).toBe(4096);
  });

  it("keeps a trailers-only answer trailers-only", async () => {
    const relayed = await rawEcho(toGrpcApp.outbound, { failCode: Code.NotFound, failMessage: "no such thing" });
    expect(relayed.trailers).toBeUndefined();
    expect(values(relayed.headers, "grpc-status")).toEqual([String(Code.NotFound)]);
    expect(values(relayed.headers, "grpc-message")).toEqual(["no%20such%20thing"]);
  });
});

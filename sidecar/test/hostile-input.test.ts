import { connect as connectHttp2, constants } from "node:http2";
import { connect as connectTcp } from "node:net";
import { Code, type ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

let app: EchoServer;
let inbound: TestSidecar;
let outbound: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  inbound = await mesh.sidecar({
    inbound: { listen: "127.0.0.1:0", app: app.address },
    limits: { maxMessageBytes: 1024 },
  });
  outbound = await mesh.sidecar({ upstreams: echoUpstream([{ address: inbound.inbound }]) });
});

/** Sends raw bytes and returns what comes back before the sidecar closes the connection. */
function raw(address: string, bytes: Buffer | string): Promise<string> {
  const [host, port] = address.split(":") as [string, string];
  return new Promise((resolve) => {
    const socket = connectTcp(Number(port), host, () => socket.write(bytes));
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk.toString("latin1")));
    socket.on("error", () => resolve(answer));
    socket.on("close", () => resolve(answer));
    socket.setTimeout(3000, () => socket.destroy());
  });
}

/** One HTTP/2 request with the given headers and body; resolves the response headers and trailers. */
function h2Request(address: string, headers: Record<string, string>, body?: Buffer) {
  return new Promise<{ headers: Record<string, unknown>; trailers: Record<string, unknown> }>((resolve, reject) => {
    const session = connectHttp2(`http://${address}`);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": "/mesh.echo.v1.EchoService/Echo", ...headers });
    let responseHeaders: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", () => {});
    stream.on("close", () => {
      session.close();
      resolve({ headers: responseHeaders, trailers });
    });
    stream.on("error", () => {});
    stream.end(body);
  });
}

function frame(declaredLength: number, payload: Buffer = Buffer.alloc(0)) {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

const grpcHeaders = { "content-type": "application/grpc", te: "trailers" };

async function stillServes() {
  expect((await echoClient(outbound.outbound).echo({ message: "alive" })).message).toBe("alive");
}

describe("hostile input", () => {
  it("answers HTTP/1.1 on the HTTP/2 port with a plain message", async () => {
    const answer = await raw(inbound.inbound, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 505 /);
    expect(answer).toContain("gRPC over HTTP/2 (h2c) only");
    await stillServes();
  });

  it("closes connections that send random bytes, and keeps serving", async () => {
    for (let i = 0; i < 20; i++) {
      const garbage = Buffer.from(Array.from({ length: 64 + i * 13 }, (_, j) => (j * 7919 + i * 31) % 256));
      await raw(inbound.inbound, garbage);
      await raw(inbound.inbound, Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), garbage]));
    }
    await stillServes();
  });

  it("refuses a non-gRPC content type with 415 and a gRPC status", async () => {
    const { headers } = await h2Request(inbound.inbound, { "content-type": "application/json" }, Buffer.from("{}"));
    expect(headers[":status"]).toBe(415);
    expect(headers["grpc-status"]).toBe(String(Code.Internal));
    expect(headers["grpc-message"]).toBe('not a gRPC request: content-type "application/json"');
  });

  it("refuses a message over the size limit with RESOURCE_EXHAUSTED before it reaches the app", async () => {
    const before = app.received.get("Echo") ?? 0;
    const { headers } = await h2Request(inbound.inbound, grpcHeaders, frame(4096, Buffer.alloc(4096)));
    expect(headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(headers["grpc-message"]).toBe("request message of 4096 bytes exceeds the limit of 1024 bytes");
    expect(app.received.get("Echo") ?? 0).toBe(before);
  });

  it("answers a truncated message with INTERNAL", async () => {
    const { headers, trailers } = await h2Request(inbound.inbound, grpcHeaders, frame(100, Buffer.alloc(10)));
    const status = headers["grpc-status"] ?? trailers["grpc-status"];
    expect(status).toBe(String(Code.Internal));
  });

  it("answers a malformed grpc-timeout and a malformed path precisely", async () => {
    const timeout = await h2Request(outbound.outbound, { ...grpcHeaders, "grpc-timeout": "soon" }, frame(0));
    expect(timeout.headers["grpc-message"]).toBe('malformed grpc-timeout "soon"');
    const path = await h2Request(outbound.outbound, { ...grpcHeaders, ":path": "/no.method.path" }, frame(0));
    expect(path.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    expect(path.headers["grpc-message"]).toBe('malformed method path "/no.method.path"');
  });

  it("refuses oversized headers itself, so the app's connection (shared by every call) stays up", async () => {
    const flood = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-flood-${i}`, "v".repeat(100)]));
    const echo = echoClient(inbound.inbound);
    const steady = Promise.all(Array.from({ length: 20 }, () => echo.echo({ message: "ok", delayMs: 50 })));
    const { headers } = await h2Request(inbound.inbound, { ...grpcHeaders, ...flood }, frame(0));
    expect(headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(String(headers["grpc-message"])).toMatch(/^request headers of \d+ bytes exceed the limit of 8192 bytes$/);
    expect((await steady).map((reply) => reply.message)).toEqual(Array(20).fill("ok"));
  });

  it("survives a flood of streams that are opened and reset at once", async () => {
    const session = connectHttp2(`http://${outbound.outbound}`);
    session.on("error", () => {});
    for (let i = 0; i < 2000; i++) {
      const stream = session.request({ ":method": "POST", ":path": "/mesh.echo.v1.EchoService/Echo", ...grpcHeaders });
      stream.on("error", () => {});
      stream.close(constants.NGHTTP2_CANCEL);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    session.destroy();
    await stillServes();
    const failure = echoClient(outbound.outbound).echo({ payload: new Uint8Array(2048) });
    await expect(failure).rejects.toSatisfy((error: ConnectError) => error.code === Code.ResourceExhausted);
  });
});

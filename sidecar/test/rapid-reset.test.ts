// The HTTP/2 rapid-reset attack (CVE-2023-44487): HEADERS then RST_STREAM, over and over on one connection, makes a
// server start work it is told at once to drop. A sidecar counts the streams a peer resets before their response and
// ends such a connection with ENHANCE_YOUR_CALM; and a stream whose handler throws is reset alone, the connection
// and the process go on.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ErrorCode, encodeData, encodeRstStream, errorCodeName } from "../src/h2/frame/index.ts";
import { HeaderList } from "../src/h2/hpack/index.ts";
import { createH2Server, listen } from "../src/proxy/h2-server.ts";
import { echoClient, type TestSidecar, useEchoMesh } from "./harness.ts";
import { type Fields, fieldValue, RawH2, type RawServer, startRawServer } from "./raw-h2.ts";

const WRITE = "/mesh.echo.v1.EchoService/Write";

function requestFields(path = WRITE): Fields {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "echo.test"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ];
}

/** An empty gRPC message (an empty EchoRequest or EchoResponse). */
const EMPTY_MESSAGE = Buffer.alloc(5);

/** An app that counts the streams it was sent and answers every complete call OK with an empty message. */
let streamsAtApp = 0;
function serveOk(peer: RawH2): void {
  peer.onFrame = (frame) => {
    if (frame.type === "HEADERS" && !frame.endStream) streamsAtApp++;
    if (frame.type !== "DATA" || !frame.endStream) return;
    const id = frame.streamId;
    peer.send(
      peer.headers(id, [
        [":status", "200"],
        ["content-type", "application/grpc"],
      ]),
      encodeData(id, EMPTY_MESSAGE, false),
      peer.headers(id, [["grpc-status", "0"]], true),
    );
  };
}

let app: RawServer;
let inbound: TestSidecar;

useEchoMesh(async (mesh) => {
  app = await startRawServer(serveOk);
  inbound = await mesh.sidecar({ inbound: { listen: "127.0.0.1:0", app: app.address } });
});

afterAll(async () => {
  await app?.close();
});

const opened: RawH2[] = [];

afterEach(() => {
  for (const peer of opened.splice(0)) peer.destroy();
});

async function open(address: string): Promise<RawH2> {
  const peer = await RawH2.connect(address);
  opened.push(peer);
  await peer.waitFor("SETTINGS", (frame) => !frame.ack);
  return peer;
}

async function call(peer: RawH2, streamId: number, path = WRITE) {
  peer.send(peer.headers(streamId, requestFields(path)), encodeData(streamId, EMPTY_MESSAGE, true));
  return peer.waitForAny(
    (frame) =>
      (frame.type === "RST_STREAM" || (frame.type === "HEADERS" && frame.endStream)) && frame.streamId === streamId,
    `the end of stream ${streamId}`,
  );
}

describe("rapid reset", () => {
  it("HEADERS then RST_STREAM 3000 times: GOAWAY ENHANCE_YOUR_CALM, few streams at the app, others unharmed", async () => {
    const attacker = await open(inbound.inbound);
    const before = streamsAtApp;
    for (let batch = 0; batch < 30 && !attacker.isClosed; batch++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const id = 1 + 2 * (batch * 100 + i);
        frames.push(...attacker.headers(id, requestFields()), encodeRstStream(id, ErrorCode.CANCEL));
      }
      attacker.send(...frames);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const goAway = await attacker.waitFor("GOAWAY", () => true, 10_000);
    expect(errorCodeName(goAway.code)).toBe(errorCodeName(ErrorCode.ENHANCE_YOUR_CALM));
    await attacker.closed;

    // A well-behaved caller, on its own connection, is served.
    const reply = await echoClient(inbound.inbound).write({ message: "" });
    expect(reply.message).toBe("");
    const peer = await open(inbound.inbound);
    const end = await call(peer, 1);
    expect(end.type === "HEADERS" && fieldValue(end.fields, "grpc-status"), peer.summary()).toBe("0");
    expect(streamsAtApp - before).toBeLessThan(300);
  });
});

describe("a stream handler that throws", () => {
  const servers: { close(): void }[] = [];
  afterAll(() => {
    for (const server of servers) server.close();
  });

  it("resets only its stream; the next call on the same connection is answered", async () => {
    const failures: unknown[] = [];
    const server = createH2Server({
      maxConcurrentStreams: 100,
      maxHeaderListSize: 16 * 1024,
      idleTimeoutMs: 10_000,
      onHandlerError: (error) => failures.push(error),
      onStream: (stream, headers) => {
        let path = "";
        for (let i = 0; i < headers.length; i++) if (headers.name(i) === ":path") path = headers.value(i);
        if (path === "/boom") throw new Error("the handler failed");
        const answer = new HeaderList();
        answer.push(":status", "200");
        answer.push("content-type", "application/grpc");
        answer.push("grpc-status", "0");
        stream.respond(answer, true);
      },
    });
    servers.push(server.net);
    const port = await listen(server.net, "127.0.0.1:0");
    const peer = await open(`127.0.0.1:${port}`);

    const failed = await call(peer, 1, "/boom");
    expect(failed.type, peer.summary()).toBe("RST_STREAM");
    expect(errorCodeName((failed as { code: number }).code)).toBe(errorCodeName(ErrorCode.INTERNAL_ERROR));
    expect(failures.map((error) => (error as Error).message)).toEqual(["the handler failed"]);

    const next = await call(peer, 3, "/fine");
    expect(next.type === "HEADERS" && fieldValue(next.fields, "grpc-status"), peer.summary()).toBe("0");
    expect(peer.received("GOAWAY")).toEqual([]);
  });
});

import { connect as connectHttp2, constants } from "node:http2";
import { connect as connectTcp } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@mesh/proto/grpc/health/v1/health_pb";
import type { CheckStatus, HttpProbe } from "../state/model.ts";

export interface ProbeResult {
  status: CheckStatus;
  output: string;
}

const OUTPUT_MAX = 4096;

/** HTTP check: 2xx passing, 429 warning, anything else (or no answer) critical; output as Consul writes it. */
export async function probeHttp(probe: HttpProbe, timeoutMs: number): Promise<ProbeResult> {
  const headers = new Headers({ "User-Agent": "Consul Health Check", Accept: "text/plain, text/*, */*" });
  for (const [name, values] of Object.entries(probe.headers)) for (const value of values) headers.append(name, value);
  try {
    const response = await fetch(probe.url, {
      method: probe.method,
      headers,
      body: probe.body && probe.method !== "GET" && probe.method !== "HEAD" ? probe.body : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.text()).slice(0, OUTPUT_MAX);
    const output = `HTTP ${probe.method} ${probe.url}: ${response.status} ${response.statusText} Output: ${body}`;
    if (response.status >= 200 && response.status < 300) return { status: "passing", output };
    return { status: response.status === 429 ? "warning" : "critical", output };
  } catch (error) {
    const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    return { status: "critical", output: `${probe.method} ${probe.url}: ${cause}` };
  }
}

/** TCP check: a connection within the timeout passes. */
export function probeTcp(target: string, timeoutMs: number): Promise<ProbeResult> {
  const separator = target.lastIndexOf(":");
  const host = target.slice(0, separator).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(separator + 1));
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve({ status: "passing", output: `TCP connect ${target}: Success` });
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve({ status: "critical", output: `dial tcp ${target}: i/o timeout` });
    });
    socket.once("error", (error) => resolve({ status: "critical", output: `dial tcp ${target}: ${error.message}` }));
  });
}

function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * gRPC check: `host:port[/service]`; calls grpc.health.v1.Health/Check with the part after the first "/" as the
 * service. Only SERVING passes; gRPC checks never warn.
 */
export function probeGrpc(target: string, timeoutMs: number): Promise<ProbeResult> {
  const slash = target.indexOf("/");
  const address = slash < 0 ? target : target.slice(0, slash);
  const service = slash < 0 ? "" : target.slice(slash + 1);
  return new Promise((resolve) => {
    const session = connectHttp2(`http://${address}`);
    const finish = (result: ProbeResult) => {
      session.destroy();
      resolve(result);
    };
    const failed = (reason: string) =>
      finish({ status: "critical", output: `rpc error: code = Unavailable desc = ${reason}` });
    session.on("error", (error) => failed(`connection error: ${error.message}`));
    const timer = setTimeout(() => failed(`timeout after ${timeoutMs}ms`), timeoutMs);
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${timeoutMs}m`,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    const noteStatus = (headers: Record<string, unknown>) => {
      if (headers["grpc-status"] !== undefined) {
        grpcStatus = String(headers["grpc-status"]);
        grpcMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
      }
    };
    stream.on("response", noteStatus);
    stream.on("trailers", noteStatus);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      clearTimeout(timer);
      if (stream.rstCode && stream.rstCode !== constants.NGHTTP2_NO_ERROR && grpcStatus === undefined) {
        return failed(`stream reset (HTTP/2 error ${stream.rstCode})`);
      }
      if (grpcStatus !== "0") {
        return finish({
          status: "critical",
          output: `rpc error: code = ${grpcStatus ?? "Unknown"} desc = ${grpcMessage}`,
        });
      }
      const response = fromBinary(HealthCheckResponseSchema, Buffer.concat(chunks).subarray(5));
      if (response.status === ServingStatus.SERVING)
        return finish({ status: "passing", output: `gRPC check ${target}: success` });
      finish({ status: "critical", output: `gRPC ${target} serving status: ${ServingStatus[response.status]}` });
    });
    stream.end(grpcFrame(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }))));
  });
}

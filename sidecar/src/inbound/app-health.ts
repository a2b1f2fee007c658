import { constants } from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import {
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@mesh/proto/grpc/health/v1/health_pb";
import type { SessionPool } from "../proxy/session-pool.ts";

// A gRPC message frame holding an empty HealthCheckRequest: service "" asks about the server as a whole.
const EMPTY_REQUEST = Buffer.from([0, 0, 0, 0, 0]);

/** Asks the app's grpc.health.v1 whether it serves; resolves a reason when it does not, or undefined when it does. */
export function checkAppHealth(pool: SessionPool, app: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let stream: ReturnType<ReturnType<SessionPool["get"]>["request"]>;
    try {
      stream = pool.get(app).request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${timeoutMs}m`,
      });
    } catch (error) {
      resolve(`app ${app} unreachable: ${(error as Error).message}`);
      return;
    }
    stream.setTimeout(timeoutMs, () => stream.close(constants.NGHTTP2_CANCEL));
    stream.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
    });
    stream.on("trailers", (trailers) => {
      status = String(trailers["grpc-status"]);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      if (status !== "0") {
        resolve(`app ${app} health check failed (${status === undefined ? "no answer" : `grpc-status ${status}`})`);
        return;
      }
      const body = Buffer.concat(chunks);
      const response = fromBinary(HealthCheckResponseSchema, body.subarray(5));
      resolve(
        response.status === ServingStatus.SERVING ? undefined : `app ${app} reports ${ServingStatus[response.status]}`,
      );
    });
    stream.end(EMPTY_REQUEST);
  });
}

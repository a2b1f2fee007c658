import { fromBinary } from "@bufbuild/protobuf";
import {
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@mesh/proto/grpc/health/v1/health_pb";
import { ErrorCode } from "../h2/frame/index.ts";
import { HeaderList } from "../h2/hpack/index.ts";
import type { H2Stream, StreamHandler } from "../h2/proto/index.ts";
import { headerValue } from "../proxy/headers.ts";
import type { SessionPool } from "../proxy/session-pool.ts";

// A gRPC message frame holding an empty HealthCheckRequest: service "" asks about the server as a whole.
const EMPTY_REQUEST = Buffer.from([0, 0, 0, 0, 0]);

/** Collects one health check's answer and turns it into a reason (or undefined when the app serves). */
class HealthCheck implements StreamHandler {
  private readonly chunks: Buffer[] = [];
  private status: string | undefined;

  constructor(
    private readonly app: string,
    private readonly resolve: (reason: string | undefined) => void,
  ) {}

  onHeaders(_stream: H2Stream, headers: HeaderList): void {
    this.status = headerValue(headers, "grpc-status") ?? this.status;
  }

  onData(_stream: H2Stream, chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }

  onDrain(): void {}

  onClose(stream: H2Stream): void {
    const { app } = this;
    if (this.status !== "0") {
      const why =
        this.status !== undefined
          ? `grpc-status ${this.status}`
          : stream.closeError
            ? stream.closeError.message
            : "no answer";
      this.resolve(`app ${app} health check failed (${why})`);
      return;
    }
    const response = fromBinary(HealthCheckResponseSchema, Buffer.concat(this.chunks).subarray(5));
    this.resolve(
      response.status === ServingStatus.SERVING ? undefined : `app ${app} reports ${ServingStatus[response.status]}`,
    );
  }
}

/** Asks the app's grpc.health.v1 whether it serves; resolves a reason when it does not, or undefined when it does. */
export function checkAppHealth(pool: SessionPool, app: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const headers = new HeaderList();
    headers.push(":method", "POST");
    headers.push(":scheme", "http");
    headers.push(":authority", app);
    headers.push(":path", "/grpc.health.v1.Health/Check");
    headers.push("content-type", "application/grpc");
    headers.push("te", "trailers");
    headers.push("grpc-timeout", `${timeoutMs}m`);
    let timer: NodeJS.Timeout | undefined;
    const check = new HealthCheck(app, (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
    let stream: H2Stream;
    try {
      stream = pool.get(app).request(headers, check);
    } catch (error) {
      resolve(`app ${app} unreachable: ${(error as Error).message}`);
      return;
    }
    timer = setTimeout(() => stream.reset(ErrorCode.CANCEL), timeoutMs);
    stream.write(EMPTY_REQUEST);
    stream.end();
  });
}

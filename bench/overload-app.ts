// The overload benchmark's app: a gRPC server whose every Echo call costs a fixed slice of its one thread's CPU
// (argv[3] ms), so that it has a capacity that concurrency does not raise, as a CPU-bound service has. Like most apps
// it does the work of a call whose caller already gave up. It also answers grpc.health.v1.Health/Check (SERVING).
// Port argv[2]; runs until SIGTERM.
import { type handleUnaryCall, Server, ServerCredentials } from "@grpc/grpc-js";

const port = Number(process.argv[2]);
const workMs = Number(process.argv[3] ?? 2);

const raw = { serialize: (bytes: Buffer) => bytes, deserialize: (bytes: Buffer) => bytes };
const unary = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});

// An empty EchoResponse is zero bytes; HealthCheckResponse{status: SERVING} is field 1 = 1.
const EMPTY = Buffer.alloc(0);
const SERVING = Buffer.from([0x08, 0x01]);

const echo: handleUnaryCall<Buffer, Buffer> = (_call, callback) => {
  const end = performance.now() + workMs;
  while (performance.now() < end) {
    // Busy: the call's work holds the thread, as computation would.
  }
  callback(null, EMPTY);
};

const server = new Server();
server.addService({ Echo: unary("/mesh.echo.v1.EchoService/Echo") }, { Echo: echo });
server.addService(
  { Check: unary("/grpc.health.v1.Health/Check") },
  { Check: ((_call, callback) => callback(null, SERVING)) satisfies handleUnaryCall<Buffer, Buffer> },
);
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
});
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));

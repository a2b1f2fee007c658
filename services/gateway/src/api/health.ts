import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as Status } from "@mesh/proto/grpc/health/v1/health_pb";

/** grpc.health.v1 for the gateway (a connect-node server): its sidecar's registered check calls it. */
export function gatewayHealth(served: readonly string[], serving: () => boolean): ServiceImpl<typeof Health> {
  const known = new Set(["", ...served]);
  const current = () => (serving() ? Status.SERVING : Status.NOT_SERVING);
  return {
    check(request) {
      if (!known.has(request.service)) throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      return { status: current() };
    },
    list() {
      return { statuses: Object.fromEntries([...known].map((name) => [name, { status: current() }])) };
    },
    async *watch(request) {
      yield { status: known.has(request.service) ? current() : Status.SERVICE_UNKNOWN };
    },
  };
}

import { create } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { Health, HealthCheckResponseSchema } from "@mesh/proto/grpc/health/v1/health_pb";
import { implement, type ServiceImplementation } from "../grpc/handlers.ts";
import { ServiceError } from "../grpc/service-error.ts";
import { type HealthRegistry, ServingStatus } from "./health-registry.ts";

// grpc-health-check (the npm package) builds its service from proto-loader definitions; this one is served from
// the same protobuf-es descriptors that reflection describes, and supports List.

/** grpc.health.v1.Health over a registry: Check, List, and Watch (current status, then every change). */
export function healthService(registry: HealthRegistry): ServiceImplementation {
  return implement(Health, {
    check(request) {
      const current = registry.get(request.service);
      if (current === undefined) {
        throw new ServiceError(status.NOT_FOUND, `unknown service "${request.service}"`);
      }
      return { status: current };
    },
    list() {
      const statuses = Object.fromEntries(
        registry
          .entries()
          .map(([service, current]) => [service, create(HealthCheckResponseSchema, { status: current })]),
      );
      return { statuses };
    },
    async *watch(request, context) {
      const changes = registry.changesOf(request.service, context.signal);
      yield { status: registry.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN };
      for await (const changed of changes) yield { status: changed };
    },
  });
}

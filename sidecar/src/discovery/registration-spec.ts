import { hostname, networkInterfaces } from "node:os";
import type { SidecarConfig } from "../config/schema.ts";
import type { ServiceRegistration } from "./consul-registration.ts";

type ConsulConfig = NonNullable<SidecarConfig["consul"]>;
type InboundConfig = NonNullable<SidecarConfig["inbound"]>;

const ANY = new Set(["0.0.0.0", "::", "[::]"]);

/** The address callers reach the inbound listener at (see `consul.advertiseAddress`). */
export function advertiseAddress(consul: ConsulConfig, inbound: InboundConfig): string {
  if (consul.advertiseAddress) return consul.advertiseAddress;
  const host = inbound.listen.slice(0, inbound.listen.lastIndexOf(":"));
  if (!ANY.has(host)) return host.replace(/^\[|\]$/g, "");
  const external = Object.values(networkInterfaces())
    .flat()
    .find((each) => each && each.family === "IPv4" && !each.internal);
  return external?.address ?? "127.0.0.1";
}

const goDuration = (ms: number) => `${ms}ms`;

/**
 * The registration of this sidecar's service instance: ID `<service>-<host>-<port>`, the inbound listener's
 * address, Meta naming the protobuf services served (for routing by contract), the version and the admin port,
 * and a gRPC health check that goes through the inbound listener to the app, so it tests both.
 */
export function buildRegistration(
  service: string,
  consul: ConsulConfig,
  inbound: InboundConfig,
  ports: { inbound: number; admin: number },
): ServiceRegistration {
  const address = advertiseAddress(consul, inbound);
  return {
    ID: `${service}-${hostname()}-${ports.inbound}`,
    Name: service,
    Address: address,
    Port: ports.inbound,
    Tags: consul.tags,
    Meta: {
      "grpc-services": inbound.services.join(","),
      version: consul.version,
      "admin-port": String(ports.admin),
    },
    Check: {
      Name: `gRPC health of ${service} through its sidecar`,
      GRPC: `${address}:${ports.inbound}`,
      Interval: goDuration(consul.checkIntervalMs),
      Timeout: goDuration(consul.checkTimeoutMs),
      DeregisterCriticalServiceAfter: goDuration(consul.deregisterCriticalAfterMs),
    },
  };
}

import { hostname, networkInterfaces } from "node:os";
import { splitAddress } from "../config/address.ts";
import type { SidecarConfig } from "../config/schema.ts";
import type { ServiceRegistration } from "./consul-registration.ts";

type ConsulConfig = NonNullable<SidecarConfig["consul"]>;
type InboundConfig = NonNullable<SidecarConfig["inbound"]>;

const ANY = new Set(["0.0.0.0", "::"]);

/** The address callers reach the inbound listener at (see `consul.advertiseAddress`). */
export function advertiseAddress(consul: ConsulConfig, inbound: InboundConfig): string {
  if (consul.advertiseAddress) return consul.advertiseAddress;
  const { host } = splitAddress(inbound.listen);
  if (!ANY.has(host)) return host;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((each) => each && each.family === "IPv4" && !each.internal);
  return external?.address ?? "127.0.0.1";
}

const goDuration = (ms: number) => `${ms}ms`;

/**
 * The registration of this sidecar's service instance: ID `<service>-<host>-<port>`, the inbound listener's
 * address, Meta naming the protobuf services served (for routing by contract), the version and the admin port,
 * and a health check that reaches the app through the sidecar, so it tests both. Without mesh TLS that is a gRPC
 * check on the inbound listener; with it (`ports.health`), Consul cannot present a mesh certificate, so the check is
 * HTTP on the sidecar's plaintext health listener, whose /readyz asks the app (Consul's "exposed path" approach),
 * and the service is marked Connect-native: it speaks mutual TLS with Connect CA certificates itself.
 */
export function buildRegistration(
  service: string,
  consul: ConsulConfig,
  inbound: InboundConfig,
  ports: { inbound: number; admin: number; health?: number },
): ServiceRegistration {
  const address = advertiseAddress(consul, inbound);
  const check =
    ports.health === undefined
      ? { Name: `gRPC health of ${service} through its sidecar`, GRPC: `${address}:${ports.inbound}` }
      : { Name: `readiness of ${service} through its sidecar`, HTTP: `http://${address}:${ports.health}/readyz` };
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
      "mesh-tls": ports.health === undefined ? "off" : "mutual",
    },
    ...(ports.health === undefined ? {} : { Connect: { Native: true } }),
    Check: {
      ...check,
      Interval: goDuration(consul.checkIntervalMs),
      Timeout: goDuration(consul.checkTimeoutMs),
      DeregisterCriticalServiceAfter: goDuration(consul.deregisterCriticalAfterMs),
    },
  };
}

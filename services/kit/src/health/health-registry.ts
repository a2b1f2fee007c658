import { EventEmitter, on } from "node:events";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@mesh/proto/grpc/health/v1/health_pb";

export { ServingStatus };

/** The server as a whole, as grpc.health.v1 names it. */
export const OVERALL = "";

/** The serving status of each service of a server, with change notifications for Watch. */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly changes = new EventEmitter();

  constructor() {
    // Every Watch call listens here; the default limit of 10 would warn under normal use.
    this.changes.setMaxListeners(0);
  }

  /** The status of a service, or undefined when the service is unknown. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.changes.emit(service, status);
  }

  /** Sets every known service, and the server as a whole, to one status (for example NOT_SERVING on shutdown). */
  setAll(status: ServingStatus): void {
    for (const service of [...this.statuses.keys()]) this.set(service, status);
  }

  entries(): [string, ServingStatus][] {
    return [...this.statuses.entries()];
  }

  /** The service's status changes from now on, until the signal aborts. Listens at once, so no change is missed. */
  changesOf(service: string, signal: AbortSignal): AsyncIterable<ServingStatus> {
    const events = on(this.changes, service, { signal });
    return (async function* () {
      try {
        for await (const [status] of events) yield status as ServingStatus;
      } catch (error) {
        if (!signal.aborted) throw error;
      }
    })();
  }
}

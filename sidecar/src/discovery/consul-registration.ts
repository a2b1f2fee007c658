import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { ConsulClient } from "./consul-client.ts";

export interface ServiceRegistration {
  ID: string;
  Name: string;
  [field: string]: unknown;
}

/**
 * Keeps the sidecar registered: registers at start (retrying with backoff while the agent is unreachable),
 * re-registers when the agent forgot it (a restarted dev agent), and deregisters on stop.
 */
export class ConsulRegistration {
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: ConsulClient,
    readonly registration: ServiceRegistration,
    private readonly log: Logger,
    private readonly resyncIntervalMs = 30_000,
  ) {}

  start(): void {
    this.loop = this.keepRegistered().catch(() => undefined);
  }

  /** Stops re-registering and removes the registration (best effort: the agent may be gone). */
  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
    try {
      await this.client.deregister(this.registration.ID);
      this.log.info({ id: this.registration.ID }, "deregistered from consul");
    } catch (error) {
      this.log.warn({ id: this.registration.ID, err: (error as Error).message }, "could not deregister from consul");
    }
  }

  private async keepRegistered() {
    const signal = this.stopped.signal;
    let failures = 0;
    let registered = false;
    while (!signal.aborted) {
      try {
        if (!registered || !(await this.client.hasService(this.registration.ID))) {
          await this.client.register(this.registration);
          this.log.info({ id: this.registration.ID, consul: this.client.baseUrl }, "registered in consul");
          registered = true;
        }
        failures = 0;
        await sleep(this.resyncIntervalMs, undefined, { signal });
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        registered = false;
        if (failures === 1)
          this.log.warn({ err: (error as Error).message }, "consul unreachable; retrying registration");
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(failures, 6)), undefined, { signal });
      }
    }
  }
}

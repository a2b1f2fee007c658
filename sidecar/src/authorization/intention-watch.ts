import { type ConsulWatchOptions, watchBlocking } from "../discovery/blocking-watch.ts";
import type { ConsulClient } from "../discovery/consul-client.ts";
import { type CallFacts, type Decision, decide, type Intention } from "./intentions.ts";

/**
 * The intentions that apply to calls into this service, kept current with the blocking match query, so a change
 * takes effect for new calls as soon as Consul answers. While Consul cannot be reached the last known intentions
 * stay in force; before any are known every call is denied.
 */
export class IntentionWatch {
  private intentions: Intention[] | undefined;
  private defaultAllow = false;
  private stop: (() => void) | undefined;

  constructor(
    private readonly client: ConsulClient,
    readonly destination: string,
    private readonly options: ConsulWatchOptions,
  ) {}

  start(): void {
    const { waitMs, minIntervalMs, log } = this.options;
    const path = `/v1/connect/intentions/match?by=destination&name=${encodeURIComponent(this.destination)}`;
    this.stop = watchBlocking(
      (index, signal) => this.client.blockingGet<Record<string, Intention[] | null>>(path, index, waitMs, signal),
      (matches, result) => {
        this.intentions = matches[this.destination] ?? [];
        // Consul tells its default ACL policy on every answer; without ACLs it is allow.
        this.defaultAllow = result.headers?.get("X-Consul-Default-Acl-Policy") !== "deny";
        log.info({ destination: this.destination, intentions: this.intentions.length }, "intentions updated");
      },
      { what: `intentions for ${this.destination}`, minIntervalMs, log },
    );
  }

  close(): void {
    this.stop?.();
  }

  /** The intentions in force, highest precedence first (undefined before Consul answered once). */
  get current(): readonly Intention[] | undefined {
    return this.intentions;
  }

  authorize(call: CallFacts): Decision {
    if (!this.intentions) return { allowed: false, reason: "no intentions known yet (Consul not reached)" };
    return decide(this.intentions, call, this.defaultAllow);
  }
}

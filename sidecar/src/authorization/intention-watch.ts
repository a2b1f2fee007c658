import { type ConsulWatchOptions, watchBlocking } from "../discovery/blocking-watch.ts";
import type { ConsulClient } from "../discovery/consul-client.ts";
import {
  type CallFacts,
  type CompiledIntentions,
  compileIntentions,
  type Decision,
  decide,
  type Intention,
} from "./intentions.ts";

/**
 * The intentions that apply to calls into this service, kept current with the blocking match query, so a change
 * takes effect for new calls as soon as Consul answers. While Consul cannot be reached the last known intentions
 * stay in force; before any are known every call is denied.
 */
export class IntentionWatch {
  private intentions: CompiledIntentions | undefined;
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
        // Compiled once per change, so a call only runs the compiled matchers.
        const intentions = compileIntentions(matches[this.destination] ?? []);
        for (const problem of intentions.problems) {
          log.error(
            { destination: this.destination, problem },
            "intention regex refused by RE2; its permission denies",
          );
        }
        this.intentions = intentions;
        // Consul tells its default ACL policy on every answer; without ACLs it is allow.
        this.defaultAllow = result.headers?.get("X-Consul-Default-Acl-Policy") !== "deny";
        log.info({ destination: this.destination, intentions: intentions.intentions.length }, "intentions updated");
      },
      { what: `intentions for ${this.destination}`, minIntervalMs, log },
    );
  }

  close(): void {
    this.stop?.();
  }

  /** The intentions in force, highest precedence first (undefined before Consul answered once). */
  get current(): readonly Intention[] | undefined {
    return this.intentions?.intentions;
  }

  authorize(call: CallFacts): Decision {
    if (!this.intentions) return { allowed: false, reason: "no intentions known yet (Consul not reached)" };
    try {
      return decide(this.intentions, call, this.defaultAllow);
    } catch (error) {
      // decide does not throw; should it ever, the call is denied, never the connection or the process ended.
      return { allowed: false, reason: `authorization failed: ${(error as Error).message}` };
    }
  }
}

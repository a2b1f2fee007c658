import type { AgentState } from "../state/agent-state.ts";
import type { Check, CheckStatus } from "../state/model.ts";
import { type ProbeResult, probeGrpc, probeHttp, probeTcp } from "./probes.ts";

export interface CheckRunnerOptions {
  /** How often services critical past their DeregisterCriticalServiceAfter are removed (Consul: 30s). */
  reapIntervalMs: number;
  random?: () => number;
}

/**
 * Runs the checks the agent owns: probes at their interval (the first after a random stagger within one interval,
 * as Consul does), TTL expiry, and the reaper that removes services critical for too long.
 */
export class CheckRunner {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly reaper: NodeJS.Timeout;
  private readonly random: () => number;

  constructor(
    private readonly state: AgentState,
    options: CheckRunnerOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.reaper = setInterval(() => this.reap(), options.reapIntervalMs);
    this.reaper.unref();
  }

  /** Starts (or restarts) what drives a check's status. */
  schedule(check: Check): void {
    this.unschedule(check.checkId);
    const definition = check.definition;
    if (definition.type === "ttl") {
      this.armTtl(check, definition.ttlMs);
    } else if (definition.type !== "") {
      this.later(check.checkId, this.random() * definition.intervalMs, () => this.probe(check, definition.intervalMs));
    }
  }

  unschedule(checkId: string): void {
    clearTimeout(this.timers.get(checkId));
    this.timers.delete(checkId);
  }

  /** A TTL heartbeat (pass, warn, fail or update): sets the result and restarts the TTL timer. */
  heartbeat(check: Check, status: CheckStatus, output: string): void {
    this.state.setCheckResult(check, status, output);
    if (check.definition.type === "ttl") this.armTtl(check, check.definition.ttlMs);
  }

  stop(): void {
    clearInterval(this.reaper);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private later(checkId: string, delayMs: number, run: () => void) {
    clearTimeout(this.timers.get(checkId));
    const timer = setTimeout(run, delayMs);
    timer.unref();
    this.timers.set(checkId, timer);
  }

  private armTtl(check: Check, ttlMs: number) {
    this.later(check.checkId, ttlMs, () => {
      const last = check.output;
      const output = last ? `TTL expired (last output before timeout follows): ${last}` : "TTL expired";
      this.state.setCheckResult(check, "critical", output);
    });
  }

  private probe(check: Check, intervalMs: number) {
    this.run(check).then(
      (result) => {
        if (this.state.checks.get(check.checkId) !== check) return; // removed meanwhile
        this.state.setCheckResult(check, result.status, result.output);
        this.later(check.checkId, intervalMs, () => this.probe(check, intervalMs));
      },
      () => this.later(check.checkId, intervalMs, () => this.probe(check, intervalMs)),
    );
  }

  private run(check: Check): Promise<ProbeResult> {
    const definition = check.definition;
    switch (definition.type) {
      case "http":
        return probeHttp(definition.http, definition.timeoutMs);
      case "tcp":
        return probeTcp(definition.tcp, definition.timeoutMs);
      case "grpc":
        return probeGrpc(definition.grpc, definition.timeoutMs);
      default:
        return Promise.resolve({ status: check.status, output: check.output });
    }
  }

  private reap() {
    const now = Date.now();
    for (const check of [...this.state.checks.values()]) {
      const { deregisterAfterMs, criticalSince } = check;
      if (deregisterAfterMs === undefined || criticalSince === undefined || check.status !== "critical") continue;
      if (now - criticalSince <= deregisterAfterMs || !this.state.services.has(check.serviceId)) continue;
      for (const each of this.state.checksOf(check.serviceId)) this.unschedule(each.checkId);
      this.state.removeService(check.serviceId);
    }
  }
}

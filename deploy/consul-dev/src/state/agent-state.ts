import { EventEmitter } from "node:events";
import type { Check, CheckStatus, KvEntry, NodeInfo, ServiceInstance } from "./model.ts";

/**
 * Everything the agent knows: one node, its service instances and checks, and the KV store, with the single
 * never-decreasing index Consul's Raft log gives. Every write that changes a query's result advances the index and
 * wakes blocking queries; a check's output alone does not (Consul syncs output-only changes late).
 */
export class AgentState {
  readonly services = new Map<string, ServiceInstance>();
  readonly checks = new Map<string, Check>();
  readonly kv = new Map<string, KvEntry>();
  private index = 1;
  /** The index at which each service name last lost an instance, so its queries still see the change. */
  private readonly serviceTombstones = new Map<string, number>();
  private kvTombstone = 1;
  private readonly changes = new EventEmitter();

  constructor(
    readonly node: NodeInfo,
    private readonly now: () => number = Date.now,
  ) {
    this.changes.setMaxListeners(0);
    this.serfHealth = this.makeSerfHealth();
  }

  readonly serfHealth: Check;
  readonly nodeIndex = 1;

  get currentIndex(): number {
    return this.index;
  }

  /**
   * Advances the index and wakes every blocking query to re-check its result, once the caller has finished the
   * write it is stamping (the wake-up runs on the next tick).
   */
  advance(): number {
    this.index++;
    process.nextTick(() => this.changes.emit("change"));
    return this.index;
  }

  onChange(listener: () => void): () => void {
    this.changes.on("change", listener);
    return () => this.changes.off("change", listener);
  }

  putService(instance: ServiceInstance): void {
    this.services.set(instance.id, instance);
  }

  removeService(id: string): ServiceInstance | undefined {
    const instance = this.services.get(id);
    if (!instance) return undefined;
    this.services.delete(id);
    for (const check of this.checksOf(id)) this.checks.delete(check.checkId);
    this.serviceTombstones.set(instance.service, this.advance());
    return instance;
  }

  checksOf(serviceId: string): Check[] {
    return [...this.checks.values()].filter((check) => check.serviceId === serviceId);
  }

  /** Sets a check's status and output; the index advances only when the status changes. */
  setCheckResult(check: Check, status: CheckStatus, output: string): void {
    check.output = output;
    if (check.status === status) return;
    check.status = status;
    check.criticalSince = status === "critical" ? this.now() : undefined;
    check.modifyIndex = this.advance();
  }

  instancesOf(serviceName: string): ServiceInstance[] {
    return [...this.services.values()].filter((instance) => instance.service === serviceName);
  }

  /** The index of the latest write that affected queries about one service name. */
  serviceIndex(serviceName: string): number {
    let index = Math.max(this.serviceTombstones.get(serviceName) ?? 1, this.nodeIndex);
    for (const instance of this.instancesOf(serviceName)) {
      index = Math.max(index, instance.modifyIndex);
      for (const check of this.checksOf(instance.id)) index = Math.max(index, check.modifyIndex);
    }
    return index;
  }

  /** The index of the latest write to any service or check (for catalog-wide queries). */
  catalogIndex(): number {
    let index = this.nodeIndex;
    for (const tombstone of this.serviceTombstones.values()) index = Math.max(index, tombstone);
    for (const instance of this.services.values()) index = Math.max(index, instance.modifyIndex);
    for (const check of this.checks.values()) index = Math.max(index, check.modifyIndex);
    return index;
  }

  /** The index of the latest write under a KV prefix (deletes count through a tombstone). */
  kvIndex(prefix: string, exact: boolean): number {
    let index = this.kvTombstone;
    for (const entry of this.kv.values()) {
      if (exact ? entry.key === prefix : entry.key.startsWith(prefix)) index = Math.max(index, entry.modifyIndex);
    }
    return index;
  }

  kvDeleted(): void {
    this.kvTombstone = this.advance();
  }

  private makeSerfHealth(): Check {
    return {
      checkId: "serfHealth",
      name: "Serf Health Status",
      status: "passing",
      notes: "",
      output: "Agent alive and reachable",
      serviceId: "",
      serviceName: "",
      serviceTags: [],
      definition: { type: "" },
      deregisterAfterMs: undefined,
      criticalSince: undefined,
      createIndex: 1,
      modifyIndex: 1,
    };
  }
}

// service-defaults config entries, minimal: a service's Protocol (and Meta). Consul needs a destination's protocol to
// be http, http2 or grpc for L7 intention permissions; consul-dev stores the entry so that configuration written for
// Consul applies here unchanged, but does not require it for L7 intentions (see intention-input.ts).
import { casMatches } from "./intentions.ts";

export interface ServiceDefaultsEntry {
  name: string;
  /** Lower-cased as Consul normalizes it; "" when not set (Consul then falls back to proxy-defaults, or tcp). */
  protocol: string;
  meta: Record<string, string>;
  createIndex: number;
  modifyIndex: number;
}

export class ServiceDefaultsStore {
  private readonly byName = new Map<string, ServiceDefaultsEntry>();
  /** The index of the last delete, so list queries see removals too. */
  private tombstone = 1;

  constructor(private readonly advance: () => number) {}

  get(name: string): ServiceDefaultsEntry | undefined {
    return this.byName.get(name);
  }

  list(): ServiceDefaultsEntry[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Writes an entry whole; with `cas`, only if its ModifyIndex is `cas` (0: only if absent). */
  write(name: string, protocol: string, meta: Record<string, string>, cas?: number): boolean {
    const existing = this.byName.get(name);
    if (cas !== undefined && !casMatches(existing, cas)) return false;
    const index = this.advance();
    this.byName.set(name, { name, protocol, meta, createIndex: existing?.createIndex ?? index, modifyIndex: index });
    return true;
  }

  delete(name: string, cas?: number): boolean {
    const existing = this.byName.get(name);
    if (!existing || (cas !== undefined && existing.modifyIndex !== cas)) return false;
    this.byName.delete(name);
    this.tombstone = this.advance();
    return true;
  }

  index(): number {
    let index = this.tombstone;
    for (const entry of this.byName.values()) index = Math.max(index, entry.modifyIndex);
    return index;
  }
}

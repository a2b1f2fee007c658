// Service intentions: which source service may call which destination, with Consul's precedence and matching rules
// (agent/structs/intention.go). Pure: no HTTP here; the caller stamps indexes through `advance`.
import { randomUUID } from "node:crypto";

export const WILDCARD = "*";

export type IntentionAction = "allow" | "deny";

export interface HeaderMatch {
  Name: string;
  Present?: boolean;
  Exact?: string;
  Prefix?: string;
  Suffix?: string;
  Regex?: string;
  Invert?: boolean;
}

export interface HttpMatch {
  PathExact?: string;
  PathPrefix?: string;
  PathRegex?: string;
  Methods?: string[];
  Header?: HeaderMatch[];
}

export interface Permission {
  Action: IntentionAction;
  HTTP: HttpMatch;
}

export interface Intention {
  id: string;
  source: string;
  destination: string;
  /** An L4 intention's action; undefined for an L7 one, which has permissions instead. */
  action?: IntentionAction;
  permissions: Permission[];
  description: string;
  meta: Record<string, string>;
  precedence: number;
  createdAt: Date;
  updatedAt: Date;
  createIndex: number;
  modifyIndex: number;
}

export interface IntentionInput {
  action?: IntentionAction;
  permissions?: Permission[];
  description?: string;
  meta?: Record<string, string>;
}

/**
 * Consul's precedence: 9 for exact source and destination, 8 for `*` -> exact, 6 for exact -> `*`, 5 for `*` -> `*`
 * (the namespace is always the exact "default" here; 7 and below 5 need wildcard namespaces, an Enterprise feature).
 */
export function precedence(source: string, destination: string): number {
  const max = destination === WILDCARD ? 6 : 9;
  return max - (source === WILDCARD ? 1 : 0);
}

/** Highest precedence first; ties in the order of (source, destination), as Consul's IntentionPrecedenceSorter. */
export function byPrecedence(a: Intention, b: Intention): number {
  if (a.precedence !== b.precedence) return b.precedence - a.precedence;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  if (a.destination !== b.destination) return a.destination < b.destination ? -1 : 1;
  return 0;
}

export type MatchBy = "source" | "destination";

/** Whether an intention applies to a service seen as a source or as a destination (wildcards included). */
export function matches(intention: Intention, by: MatchBy, name: string): boolean {
  const side = by === "source" ? intention.source : intention.destination;
  return side === WILDCARD || side === name;
}

/** The intention that decides a connection: the highest-precedence one matching both ends. */
export function decidingIntention(
  intentions: Iterable<Intention>,
  source: string,
  destination: string,
): Intention | undefined {
  return [...intentions]
    .filter((each) => matches(each, "source", source) && matches(each, "destination", destination))
    .sort(byPrecedence)[0];
}

/** Consul's Intention.String, used in authorize reasons: "web => db (ID: <id>, Precedence: 9, Action: ALLOW)". */
export function describeIntention(intention: Intention): string {
  const detail =
    intention.permissions.length > 0
      ? `Permissions: ${intention.permissions.length}`
      : `Action: ${(intention.action ?? "").toUpperCase()}`;
  return `${intention.source} => ${intention.destination} (ID: ${intention.id}, Precedence: ${intention.precedence}, ${detail})`;
}

const key = (source: string, destination: string) => `${source}\u0000${destination}`;

/** All intentions, at most one per (source, destination) pair. */
export class IntentionStore {
  private readonly byPair = new Map<string, Intention>();
  /** The index of the last delete, so list and match queries see removals too. */
  private tombstone = 1;

  constructor(
    private readonly advance: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  get(source: string, destination: string): Intention | undefined {
    return this.byPair.get(key(source, destination));
  }

  /** Creates or replaces the intention of a pair (keeping its ID and creation time, as an update does in Consul). */
  upsert(source: string, destination: string, input: IntentionInput): Intention {
    const existing = this.get(source, destination);
    const index = this.advance();
    const at = new Date(this.now());
    const intention: Intention = {
      id: existing?.id ?? randomUUID(),
      source,
      destination,
      action: input.permissions?.length ? undefined : input.action,
      permissions: input.permissions ?? [],
      description: input.description ?? "",
      meta: input.meta ?? {},
      precedence: precedence(source, destination),
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
      createIndex: existing?.createIndex ?? index,
      modifyIndex: index,
    };
    this.byPair.set(key(source, destination), intention);
    return intention;
  }

  remove(source: string, destination: string): boolean {
    if (!this.byPair.delete(key(source, destination))) return false;
    this.tombstone = this.advance();
    return true;
  }

  /** Every intention, highest precedence first. */
  list(): Intention[] {
    return [...this.byPair.values()].sort(byPrecedence);
  }

  /** The intentions that apply to `name` as a source or destination, highest precedence first. */
  match(by: MatchBy, name: string): Intention[] {
    return this.list().filter((intention) => matches(intention, by, name));
  }

  /** The index of the latest change to any intention (deletes included). */
  index(): number {
    let index = this.tombstone;
    for (const intention of this.byPair.values()) index = Math.max(index, intention.modifyIndex);
    return index;
  }
}

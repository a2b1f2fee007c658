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

/** One intention as the legacy endpoints show it, derived from its destination's entry. */
export interface Intention {
  /** Set for an intention written through the legacy endpoints; "" for one written as a config entry (as in Consul). */
  id: string;
  source: string;
  destination: string;
  /** An L4 intention's action; undefined for an L7 one, which has permissions instead. */
  action?: IntentionAction;
  permissions: Permission[];
  description: string;
  meta: Record<string, string>;
  precedence: number;
  createdAt?: Date;
  updatedAt?: Date;
  /** The entry's indexes: Consul stamps every intention of a destination with its entry's. */
  createIndex: number;
  modifyIndex: number;
}

/** What a legacy write records beside the intention itself (Consul's LegacyID, LegacyMeta, LegacyCreateTime...). */
export interface LegacyFields {
  id: string;
  meta: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** One source of a service-intentions entry. */
export interface SourceIntention {
  name: string;
  action?: IntentionAction;
  permissions: Permission[];
  description: string;
  precedence: number;
  legacy?: LegacyFields;
}

/** A destination's service-intentions config entry: its sources, highest precedence first. */
export interface ServiceIntentionsEntry {
  name: string;
  sources: SourceIntention[];
  meta: Record<string, string>;
  createIndex: number;
  modifyIndex: number;
}

export interface IntentionInput {
  action?: IntentionAction;
  permissions?: Permission[];
  description?: string;
  meta?: Record<string, string>;
}

/** A source as a config entry lists it. */
export interface SourceInput extends Omit<IntentionInput, "meta"> {
  name: string;
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

/**
 * Consul's Intention.String, used in authorize reasons: "web => db (ID: <id>, Precedence: 9, Action: ALLOW)", without
 * the ID part for an intention that has none.
 */
export function describeIntention(intention: Intention): string {
  const detail =
    intention.permissions.length > 0
      ? `Permissions: ${intention.permissions.length}`
      : `Action: ${(intention.action ?? "").toUpperCase()}`;
  const id = intention.id ? `ID: ${intention.id}, ` : "";
  return `${intention.source} => ${intention.destination} (${id}Precedence: ${intention.precedence}, ${detail})`;
}

const precedenceOrder = (a: SourceIntention, b: SourceIntention) => b.precedence - a.precedence;

/**
 * All intentions, kept as Consul 1.9+ keeps them: one service-intentions entry per destination, holding at most one
 * source intention per source name. The legacy per-pair endpoints and the config-entry endpoints read and write these
 * same entries, so an intention written either way is seen by both.
 */
export class IntentionStore {
  private readonly byDestination = new Map<string, ServiceIntentionsEntry>();
  /** The index of the last entry delete, so list and match queries see removals too. */
  private tombstone = 1;

  constructor(
    private readonly advance: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  get(source: string, destination: string): Intention | undefined {
    const entry = this.byDestination.get(destination);
    const found = entry?.sources.find((each) => each.name === source);
    return entry && found ? toIntention(entry, found) : undefined;
  }

  /**
   * Creates or replaces the intention of a pair, as the legacy endpoints do: consul-dev gives it an ID, its own Meta
   * and times (Consul's LegacyID, LegacyMeta...), keeping the ID and creation time of an earlier legacy write.
   */
  upsert(source: string, destination: string, input: IntentionInput): Intention {
    const existing = this.byDestination.get(destination);
    const previous = existing?.sources.find((each) => each.name === source);
    const at = new Date(this.now());
    const written: SourceIntention = {
      ...sourceIntention(source, destination, input),
      legacy: {
        id: previous?.legacy?.id ?? randomUUID(),
        meta: input.meta ?? {},
        createdAt: previous?.legacy?.createdAt ?? at,
        updatedAt: at,
      },
    };
    const sources = previous
      ? (existing?.sources ?? []).map((each) => (each === previous ? written : each))
      : [...(existing?.sources ?? []), written];
    const entry = this.store(destination, sources, existing?.meta ?? {}, existing);
    return toIntention(entry, written);
  }

  remove(source: string, destination: string): boolean {
    const entry = this.byDestination.get(destination);
    if (!entry?.sources.some((each) => each.name === source)) return false;
    const sources = entry.sources.filter((each) => each.name !== source);
    // Like Consul, an entry left without sources is deleted (an entry needs at least one).
    if (sources.length === 0) this.deleteEntry(destination);
    else this.store(destination, sources, entry.meta, entry);
    return true;
  }

  /** Every intention, highest precedence first. */
  list(): Intention[] {
    return [...this.byDestination.values()]
      .flatMap((entry) => entry.sources.map((source) => toIntention(entry, source)))
      .sort(byPrecedence);
  }

  /** The intentions that apply to `name` as a source or destination, highest precedence first. */
  match(by: MatchBy, name: string): Intention[] {
    return this.list().filter((intention) => matches(intention, by, name));
  }

  /** The index of the latest change to any intention (deletes included). */
  index(): number {
    let index = this.tombstone;
    for (const entry of this.byDestination.values()) index = Math.max(index, entry.modifyIndex);
    return index;
  }

  entry(destination: string): ServiceIntentionsEntry | undefined {
    return this.byDestination.get(destination);
  }

  /** Every service-intentions entry, by destination name (Consul's order). */
  entries(): ServiceIntentionsEntry[] {
    return [...this.byDestination.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Writes a destination's whole entry, as `PUT /v1/config` does: sources not listed are removed, and the written
   * sources carry no legacy ID, meta or times (Consul clears them on a config-entry write). With `cas`, writes only
   * if the entry's ModifyIndex is `cas` (0: only if there is no entry) and answers false otherwise.
   */
  writeEntry(destination: string, sources: readonly SourceInput[], meta: Record<string, string>, cas?: number) {
    const existing = this.byDestination.get(destination);
    if (cas !== undefined && !casMatches(existing, cas)) return false;
    this.store(
      destination,
      sources.map(({ name, ...input }) => sourceIntention(name, destination, input)),
      meta,
      existing,
    );
    return true;
  }

  /** Deletes a destination's entry (all its intentions); with `cas`, only if its ModifyIndex is `cas`. */
  deleteEntry(destination: string, cas?: number): boolean {
    const existing = this.byDestination.get(destination);
    if (!existing || (cas !== undefined && existing.modifyIndex !== cas)) return false;
    this.byDestination.delete(destination);
    this.tombstone = this.advance();
    return true;
  }

  private store(
    destination: string,
    sources: SourceIntention[],
    meta: Record<string, string>,
    existing: ServiceIntentionsEntry | undefined,
  ): ServiceIntentionsEntry {
    const index = this.advance();
    const entry: ServiceIntentionsEntry = {
      name: destination,
      // Consul keeps sources highest precedence first, otherwise in the order written (a stable sort).
      sources: [...sources].sort(precedenceOrder),
      meta,
      createIndex: existing?.createIndex ?? index,
      modifyIndex: index,
    };
    this.byDestination.set(destination, entry);
    return entry;
  }
}

/** Consul's check-and-set on config entries: 0 means "only if absent", any other index must be the ModifyIndex. */
export function casMatches(existing: { modifyIndex: number } | undefined, cas: number): boolean {
  return cas === 0 ? existing === undefined : existing?.modifyIndex === cas;
}

function sourceIntention(source: string, destination: string, input: IntentionInput): SourceIntention {
  const permissions = input.permissions ?? [];
  return {
    name: source,
    action: permissions.length ? undefined : input.action,
    permissions,
    description: input.description ?? "",
    precedence: precedence(source, destination),
  };
}

/** An entry's source as an intention (Consul's ToIntention): a legacy one has its own ID and meta, others the entry's. */
function toIntention(entry: ServiceIntentionsEntry, source: SourceIntention): Intention {
  return {
    id: source.legacy?.id ?? "",
    source: source.name,
    destination: entry.name,
    action: source.action,
    permissions: source.permissions,
    description: source.description,
    meta: source.legacy?.meta ?? entry.meta,
    precedence: source.precedence,
    createdAt: source.legacy?.createdAt,
    updatedAt: source.legacy?.updatedAt,
    createIndex: entry.createIndex,
    modifyIndex: entry.modifyIndex,
  };
}

// A bounded in-memory trace store, like Jaeger's in-memory store for development: at most `maxTraces` traces (the
// oldest first seen is dropped first) and at most `maxSpansPerTrace` spans in each; what it drops is counted. Spans
// of one trace arrive from many processes in many batches and are merged by trace id (a span id seen twice is kept
// once). Indexed by service and by the configured tag keys (shop.order_id), so a search does not scan every trace.
import { type SpanRecord, tagText } from "../model.ts";

export interface StoredTrace {
  traceId: string;
  spans: SpanRecord[];
  spanIds: Set<string>;
  services: Set<string>;
  /** Earliest span start and latest span end, µs since the epoch. */
  startUs: number;
  endUs: number;
  /** Spans of this trace not kept because it was full. */
  droppedSpans: number;
}

export interface TraceStoreOptions {
  maxTraces: number;
  maxSpansPerTrace: number;
  /** Tag keys indexed for exact-value search; other tags are searched by scanning. */
  indexedTags: readonly string[];
}

export interface TraceQuery {
  service?: string | undefined;
  /** Every tag must be present on one span (of `service`, when given) with this value. */
  tags?: Record<string, string> | undefined;
  limit: number;
  /** Only traces with a span ending at or after this time (µs). */
  sinceUs?: number | undefined;
  /** Only traces with a span starting at or before this time (µs). */
  untilUs?: number | undefined;
}

export interface StoreStats {
  kept: number;
  capacity: number;
  /** Whole traces dropped to make room for newer ones. */
  dropped: number;
  /** Spans not kept because their trace was at the span cap. */
  droppedSpans: number;
  maxSpansPerTrace: number;
  spans: number;
}

export const DEFAULT_STORE_OPTIONS: TraceStoreOptions = {
  maxTraces: 2000,
  maxSpansPerTrace: 1000,
  indexedTags: ["shop.order_id"],
};

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

const tagKey = (key: string, value: string) => `${key}\u0000${value}`;

export class TraceStore {
  readonly options: TraceStoreOptions;
  /** In first-seen order: the first entry is the oldest, dropped first. */
  private readonly traces = new Map<string, StoredTrace>();
  private readonly byService = new Map<string, Set<string>>();
  private readonly byTag = new Map<string, Set<string>>();
  /** Every service ever seen, as Jaeger's /api/services lists them (traces may have been dropped since). */
  private readonly seenServices = new Set<string>();
  private droppedTraces = 0;
  private droppedSpans = 0;
  private spanCount = 0;

  constructor(options: Partial<TraceStoreOptions> = {}) {
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options };
    if (!(this.options.maxTraces >= 1) || !(this.options.maxSpansPerTrace >= 1)) {
      throw new Error("a trace store keeps at least one trace of at least one span");
    }
  }

  /** Adds spans from one batch; returns how many were kept. */
  add(spans: readonly SpanRecord[]): number {
    let kept = 0;
    for (const span of spans) if (this.addSpan(span)) kept++;
    return kept;
  }

  private addSpan(span: SpanRecord): boolean {
    let trace = this.traces.get(span.traceId);
    if (!trace) {
      if (this.traces.size >= this.options.maxTraces) this.evictOldest();
      trace = {
        traceId: span.traceId,
        spans: [],
        spanIds: new Set(),
        services: new Set(),
        startUs: span.startUs,
        endUs: span.startUs + span.durationUs,
        droppedSpans: 0,
      };
      this.traces.set(span.traceId, trace);
    }
    if (trace.spanIds.has(span.spanId)) return false;
    if (trace.spans.length >= this.options.maxSpansPerTrace) {
      trace.droppedSpans++;
      this.droppedSpans++;
      return false;
    }
    trace.spans.push(span);
    trace.spanIds.add(span.spanId);
    this.spanCount++;
    trace.startUs = Math.min(trace.startUs, span.startUs);
    trace.endUs = Math.max(trace.endUs, span.startUs + span.durationUs);
    const service = span.process.serviceName;
    trace.services.add(service);
    this.seenServices.add(service);
    addTo(this.byService, service, trace.traceId);
    for (const tag of span.attributes) {
      if (this.options.indexedTags.includes(tag.key)) addTo(this.byTag, tagKey(tag.key, tagText(tag)), trace.traceId);
    }
    return true;
  }

  private evictOldest(): void {
    const oldest = this.traces.values().next().value;
    if (!oldest) return;
    this.traces.delete(oldest.traceId);
    this.droppedTraces++;
    this.spanCount -= oldest.spans.length;
    for (const service of oldest.services) removeFrom(this.byService, service, oldest.traceId);
    for (const span of oldest.spans) {
      for (const tag of span.attributes) {
        if (this.options.indexedTags.includes(tag.key)) {
          removeFrom(this.byTag, tagKey(tag.key, tagText(tag)), oldest.traceId);
        }
      }
    }
  }

  get(traceId: string): StoredTrace | undefined {
    return this.traces.get(traceId.toLowerCase());
  }

  services(): string[] {
    return [...this.seenServices].sort();
  }

  /** Traces matching the query, newest (latest start) first, at most `limit`; `total` counts every match. */
  search(query: TraceQuery): { traces: StoredTrace[]; total: number } {
    const tags = Object.entries(query.tags ?? {});
    // The smallest index set that must contain every match, or every trace when nothing indexed applies.
    let candidates: Iterable<string> = this.traces.keys();
    let smallest = Number.POSITIVE_INFINITY;
    const narrow = (set: Set<string> | undefined) => {
      const found = set ?? new Set<string>();
      if (found.size < smallest) {
        smallest = found.size;
        candidates = found;
      }
    };
    if (query.service !== undefined) narrow(this.byService.get(query.service));
    for (const [key, value] of tags) {
      if (this.options.indexedTags.includes(key)) narrow(this.byTag.get(tagKey(key, value)));
    }
    const matches: StoredTrace[] = [];
    for (const id of candidates) {
      const trace = this.traces.get(id);
      if (trace && this.matches(trace, query.service, tags, query)) matches.push(trace);
    }
    matches.sort((a, b) => b.startUs - a.startUs);
    return { traces: matches.slice(0, query.limit), total: matches.length };
  }

  private matches(trace: StoredTrace, service: string | undefined, tags: [string, string][], query: TraceQuery) {
    if (query.sinceUs !== undefined && trace.endUs < query.sinceUs) return false;
    if (query.untilUs !== undefined && trace.startUs > query.untilUs) return false;
    if (service === undefined && tags.length === 0) return true;
    return trace.spans.some((span) => {
      if (service !== undefined && span.process.serviceName !== service) return false;
      return tags.every(([key, value]) =>
        [...span.attributes, ...span.process.tags].some((tag) => tag.key === key && tagText(tag) === value),
      );
    });
  }

  stats(): StoreStats {
    return {
      kept: this.traces.size,
      capacity: this.options.maxTraces,
      dropped: this.droppedTraces,
      droppedSpans: this.droppedSpans,
      maxSpansPerTrace: this.options.maxSpansPerTrace,
      spans: this.spanCount,
    };
  }
}

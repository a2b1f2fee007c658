/** Where an upstream's endpoints (the inbound listeners of its sidecars) come from. */
export interface EndpointSource {
  /** Calls onChange with the upstream's current `host:port` list now and after every change; returns a stop function. */
  watch(upstream: string, onChange: (addresses: readonly string[]) => void): () => void;
}

/** Endpoints listed in the configuration; they never change. */
export class StaticEndpoints implements EndpointSource {
  constructor(private readonly byUpstream: Readonly<Record<string, readonly string[]>>) {}

  watch(upstream: string, onChange: (addresses: readonly string[]) => void): () => void {
    onChange(this.byUpstream[upstream] ?? []);
    return () => {};
  }
}

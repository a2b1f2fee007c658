export type CheckStatus = "passing" | "warning" | "critical";
export type CheckType = "ttl" | "http" | "tcp" | "grpc" | "";

export interface HttpProbe {
  url: string;
  method: string;
  headers: Record<string, string[]>;
  body: string;
}

/** How a check gets its status: pushed (TTL) or probed by the agent at an interval. */
export type CheckDefinition =
  | { type: "ttl"; ttlMs: number }
  | { type: "http"; intervalMs: number; timeoutMs: number; http: HttpProbe }
  | { type: "tcp"; intervalMs: number; timeoutMs: number; tcp: string }
  | { type: "grpc"; intervalMs: number; timeoutMs: number; grpc: string }
  | { type: "" };

export interface Check {
  checkId: string;
  name: string;
  status: CheckStatus;
  notes: string;
  output: string;
  serviceId: string;
  serviceName: string;
  serviceTags: string[];
  definition: CheckDefinition;
  deregisterAfterMs: number | undefined;
  /** When the check last became critical; undefined while it is not critical. */
  criticalSince: number | undefined;
  createIndex: number;
  modifyIndex: number;
}

export interface ServiceInstance {
  id: string;
  service: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: { Passing: number; Warning: number };
  enableTagOverride: boolean;
  createIndex: number;
  modifyIndex: number;
}

export interface KvEntry {
  key: string;
  value: Buffer;
  flags: string;
  createIndex: number;
  modifyIndex: number;
}

export interface NodeInfo {
  id: string;
  name: string;
  address: string;
  datacenter: string;
}

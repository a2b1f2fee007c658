// A small client for the Consul calls the sidecar makes. The npm `consul` client does not fit: it drops the
// X-Consul-Index header from results (so blocking queries cannot be driven), cannot send ?replace-existing-checks,
// and its watch re-polls at once on an unchanged index.

/** One entry of /v1/health/service/<name>, as far as the sidecar reads it. */
export interface HealthEntry {
  Node: { Address: string };
  Service: { ID: string; Address: string; Port: number; Meta: Record<string, string> | null };
}

export class ConsulError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The agent's base URL from an address with or without scheme (`127.0.0.1:8500`, `https://consul:8501`). */
export function consulBaseUrl(address: string): string {
  return /^https?:\/\//.test(address) ? address.replace(/\/+$/, "") : `http://${address}`;
}

export class ConsulClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  private async call(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set("X-Consul-Token", this.token);
    const timeout = AbortSignal.timeout(init.timeoutMs ?? 5000);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers, signal });
    if (!response.ok) {
      throw new ConsulError(
        response.status,
        `consul ${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`,
      );
    }
    return response;
  }

  /** Registers (or re-registers) a local service; its check list replaces the old one. */
  async register(registration: unknown): Promise<void> {
    await this.call("/v1/agent/service/register?replace-existing-checks", {
      method: "PUT",
      body: JSON.stringify(registration),
    });
  }

  async deregister(serviceId: string): Promise<void> {
    await this.call(`/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`, { method: "PUT" });
  }

  /** Whether the agent still knows a service ID (it forgets them when it restarts without state). */
  async hasService(serviceId: string): Promise<boolean> {
    try {
      await this.call(`/v1/agent/service/${encodeURIComponent(serviceId)}`);
      return true;
    } catch (error) {
      if (error instanceof ConsulError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * A blocking query (consul-api-subset §2): with index > 0 the agent answers once the result's index passes it or
   * after `waitMs`. Resolves with the parsed body, the new index and the response headers.
   */
  async blockingGet<T>(path: string, index: number, waitMs: number, signal: AbortSignal) {
    const separator = path.includes("?") ? "&" : "?";
    const response = await this.call(`${path}${separator}index=${index}&wait=${Math.ceil(waitMs / 1000)}s`, {
      signal,
      // Consul may hold the request for wait + wait/16.
      timeoutMs: waitMs + waitMs / 16 + 5000,
    });
    const next = Number(response.headers.get("X-Consul-Index"));
    return { value: (await response.json()) as T, index: Number.isFinite(next) ? next : 0, headers: response.headers };
  }

  /** The passing instances of a service, as a blocking query. */
  passingInstances(service: string, index: number, waitMs: number, signal: AbortSignal) {
    return this.blockingGet<HealthEntry[]>(
      `/v1/health/service/${encodeURIComponent(service)}?passing`,
      index,
      waitMs,
      signal,
    );
  }
}

import { decide, type Intention } from "@mesh/sidecar";
import { consulFetch, consulGet } from "./consul.ts";
import { table } from "./table.ts";

type Action = "allow" | "deny";

interface StoredIntention extends Intention {
  Description?: string;
}

const exact = (source: string, destination: string) =>
  `/v1/connect/intentions/exact?source=${encodeURIComponent(source)}&destination=${encodeURIComponent(destination)}`;

async function existing(source: string, destination: string): Promise<StoredIntention | undefined> {
  try {
    return await consulGet<StoredIntention>(exact(source, destination));
  } catch (error) {
    if (/answered 404/.test((error as Error).message)) return undefined;
    throw error;
  }
}

function rule(intention: Intention): string {
  if (intention.Action) return intention.Action;
  return (intention.Permissions ?? [])
    .map((permission) => {
      const http = permission.HTTP ?? {};
      const path = http.PathExact ?? (http.PathPrefix ? `${http.PathPrefix}*` : (http.PathRegex ?? "*"));
      return `${permission.Action} ${path}`;
    })
    .join("; ");
}

/** `mesh intentions`: every intention, highest precedence first (the order the sidecars decide in). */
export async function listIntentions(): Promise<string> {
  const intentions = await consulGet<StoredIntention[]>("/v1/connect/intentions");
  if (intentions.length === 0) return "no intentions (every call falls to Consul's default ACL policy)";
  return table(
    ["source", "destination", "rule", "precedence", "description"],
    intentions.map((each) => [
      each.SourceName,
      each.DestinationName,
      rule(each),
      String(each.Precedence),
      each.Description ?? "",
    ]),
  );
}

/**
 * `mesh intentions allow|deny <source> <destination> [--method /pkg.Service/Method]`. Without a method the whole
 * service is allowed or denied (L4). With one, that method's rule goes first and the rest of the service keeps what
 * the intention said before (L7 permissions, evaluated top to bottom).
 */
export async function setIntention(action: Action, source: string, destination: string, method?: string) {
  if (!method) {
    await consulFetch(exact(source, destination), { method: "PUT", body: { Action: action } });
    return `${source} -> ${destination}: ${action}`;
  }
  if (!/^\/[\w.]+\/\w+$/.test(method))
    throw new Error(`--method must be a gRPC path such as /pkg.Service/Method, got "${method}"`);
  const before = await existing(source, destination);
  const rest = before?.Action
    ? [{ Action: before.Action, HTTP: { PathPrefix: "/" } }]
    : (before?.Permissions ?? []).filter((permission) => permission.HTTP?.PathExact !== method);
  const Permissions = [{ Action: action, HTTP: { PathExact: method } }, ...rest];
  await consulFetch(exact(source, destination), { method: "PUT", body: { Permissions } });
  return `${source} -> ${destination}: ${rule({ SourceName: source, DestinationName: destination, Permissions, Precedence: 0 })}`;
}

export async function deleteIntention(source: string, destination: string): Promise<string> {
  await consulFetch(exact(source, destination), { method: "DELETE" });
  return `${source} -> ${destination}: deleted`;
}

/** `mesh intentions check <source> <destination> [--method path]`: what the destination's sidecars would decide. */
export async function checkIntention(source: string, destination: string, method = "/"): Promise<string> {
  const response = await consulFetch(
    `/v1/connect/intentions/match?by=destination&name=${encodeURIComponent(destination)}`,
  );
  const matches = (await response.json()) as Record<string, Intention[] | null>;
  const defaultAllow = response.headers.get("X-Consul-Default-Acl-Policy") !== "deny";
  const decision = decide(
    matches[destination] ?? [],
    { source, path: method, method: "POST", header: () => undefined },
    defaultAllow,
  );
  return `${decision.allowed ? "allowed" : "denied"}: ${decision.reason}`;
}

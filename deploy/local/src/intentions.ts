import { type ServicePlan, SHOP } from "./topology.ts";

export interface IntentionSpec {
  source: string;
  destination: string;
  action: "allow" | "deny";
  description: string;
}

/** The identity `mesh call` uses; the local mesh lets it call every service, as an operator's tool. */
export const CLI_IDENTITY = "mesh-cli";

/** The identity the dashboard calls the order service as (its stuck sagas), and nothing else. */
export const DASHBOARD_IDENTITY = "mesh-dashboard";

/**
 * The local mesh's intentions: deny by default (`*` -> `*`), then exactly the shop's call graph, plus the CLI and
 * the dashboard.
 * Each edge a service calls through its sidecar is one allow; nothing else may call anything.
 */
export function meshIntentions(plans: readonly ServicePlan[] = SHOP): IntentionSpec[] {
  return [
    { source: "*", destination: "*", action: "deny", description: "deny by default" },
    ...plans.flatMap((plan) =>
      plan.calls.map((callee) => ({
        source: plan.service,
        destination: callee,
        action: "allow" as const,
        description: `${plan.service} calls ${callee}`,
      })),
    ),
    { source: CLI_IDENTITY, destination: "*", action: "allow", description: "the mesh CLI (mesh call)" },
    {
      source: DASHBOARD_IDENTITY,
      destination: "order",
      action: "allow",
      description: "the mesh dashboard (stuck sagas)",
    },
  ];
}

/** Writes the intentions through Consul's API (the same on consul-dev and a real agent). */
export async function applyIntentions(consulUrl: string, intentions: readonly IntentionSpec[]): Promise<void> {
  for (const { source, destination, action, description } of intentions) {
    const path = `/v1/connect/intentions/exact?source=${encodeURIComponent(source)}&destination=${encodeURIComponent(destination)}`;
    const response = await fetch(`${consulUrl}${path}`, {
      method: "PUT",
      body: JSON.stringify({ Action: action, Description: description }),
      headers: process.env.CONSUL_HTTP_TOKEN ? { "X-Consul-Token": process.env.CONSUL_HTTP_TOKEN } : {},
    });
    if (!response.ok) {
      throw new Error(
        `cannot write intention ${source} -> ${destination}: ${response.status} ${await response.text()}`,
      );
    }
  }
}

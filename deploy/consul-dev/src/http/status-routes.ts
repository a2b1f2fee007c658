import type { ConnectCA } from "../connect/ca.ts";
import { goTime } from "../connect/views.ts";
import type { AgentState } from "../state/agent-state.ts";
import { type BlockingOptions, blockingQuery, type ConsulRequest } from "./query.ts";

/**
 * consul-dev's own data for its /ui page (not Consul API): the CA's trust domain and active root, and each service's
 * current leaf without its key. It blocks on the agent's single index, so the page wakes on any change at all.
 */
export function statusRoutes(state: AgentState, ca: ConnectCA, blocking: BlockingOptions) {
  const connect = (request: ConsulRequest) =>
    blockingQuery(
      request,
      state,
      () => state.currentIndex,
      () => ({
        json: {
          TrustDomain: ca.trustDomain,
          ActiveRoot: { ID: ca.activeRoot.id, NotAfter: goTime(ca.activeRoot.notAfter) },
          Roots: ca.roots.length,
          Leaves: ca.allLeaves().map((leaf) => ({
            Service: leaf.service,
            SerialNumber: leaf.serialNumber,
            ValidBefore: goTime(leaf.validBefore),
            RenewAt: goTime(leaf.renewAt),
          })),
        },
      }),
      blocking,
    );
  return [{ method: "GET", path: "/ui/connect.json", handler: connect }];
}

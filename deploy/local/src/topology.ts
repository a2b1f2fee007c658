// What the local mesh runs: every service of the shop once, inventory twice (to show load balancing and
// failover), each instance behind its own sidecar.

export interface ServicePlan {
  /** The mesh service name (registered in Consul). */
  service: string;
  instances: number;
  /** The protobuf services the app serves (advertised in Consul for routing by contract). */
  serves: string[];
  /** The mesh services it calls through its sidecar. */
  calls: string[];
  /** Its own database, if it has one. */
  database?: string;
}

export const SHOP: ServicePlan[] = [
  { service: "provider", instances: 1, serves: ["shop.payment.v1.PaymentProviderService"], calls: [] },
  {
    service: "inventory",
    instances: 2,
    serves: ["shop.inventory.v1.InventoryService"],
    calls: [],
    database: "inventory",
  },
  {
    service: "payment",
    instances: 1,
    serves: ["shop.payment.v1.PaymentService"],
    calls: ["provider"],
    database: "payment",
  },
  { service: "order", instances: 1, serves: ["shop.order.v1.OrderService"], calls: ["inventory"], database: "order" },
  {
    service: "gateway",
    instances: 1,
    serves: ["shop.gateway.v1.GatewayService"],
    calls: ["order", "inventory", "payment"],
  },
];

/** The protobuf services each mesh service serves, for upstream routing. */
export function servesOf(service: string): string[] {
  return SHOP.find((plan) => plan.service === service)?.serves ?? [];
}

import type { ServiceContext } from "@mesh/kit";
import { Gauge } from "prom-client";
import { countStuckOrders } from "../db/deadlines.ts";

/**
 * mesh_sagas_stuck: how many sagas ListStuckOrders would report, counted by the database when metrics are scraped
 * (no work between scrapes). A failed count keeps the last value, so that the other metrics are still served.
 */
export function registerStuckSagaGauge(context: ServiceContext, graceMs: number): void {
  new Gauge({
    name: "mesh_sagas_stuck",
    help: "Orders neither CONFIRMED nor CANCELLED past their saga deadline plus the grace period (ListStuckOrders)",
    registers: [context.metrics],
    async collect() {
      try {
        this.set(await countStuckOrders(context.orm.em.fork(), graceMs));
      } catch (error) {
        context.log.warn({ err: (error as Error).message }, "cannot count stuck sagas");
      }
    },
  });
}

import type { EntityManager } from "@mikro-orm/postgresql";
import { Product } from "./entities.ts";

/** The demo catalogue. Seeding inserts what is missing and never touches existing rows, so it is safe at every start. */
export const DEMO_PRODUCTS = [
  {
    productId: "sku-espresso",
    name: "Espresso beans, 1 kg",
    description: "Dark roast, for espresso machines",
    priceMinor: 1999,
    available: 100,
  },
  {
    productId: "sku-filter",
    name: "Filter papers, 100",
    description: "Size 4 paper filters",
    priceMinor: 499,
    available: 500,
  },
  {
    productId: "sku-grinder",
    name: "Burr grinder",
    description: "Conical burrs, 40 settings",
    priceMinor: 8999,
    available: 20,
  },
  {
    productId: "sku-kettle",
    name: "Gooseneck kettle",
    description: "0.9 l, for pour-over",
    priceMinor: 4999,
    available: 10,
  },
  { productId: "sku-mug", name: "Stoneware mug", description: "350 ml", priceMinor: 899, available: 200 },
].map((product) => ({ ...product, currency: "USD", reserved: 0, sold: 0 }));

export async function seedProducts(em: EntityManager): Promise<void> {
  await em.createQueryBuilder(Product).insert(DEMO_PRODUCTS).onConflict(["product_id"]).ignore().execute("run");
}

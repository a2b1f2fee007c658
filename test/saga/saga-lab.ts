import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { DEMO_PRODUCTS } from "@mesh/inventory";
import {
  applyOnceWithEvents,
  type EventHandler,
  type IncomingEvent,
  type OutboxEvent,
  openDatabase,
  RetryLaterError,
  type ServiceContext,
} from "@mesh/kit";
import { createTestDatabase } from "@mesh/kit/testing";
import {
  ChargeResponseSchema,
  RefundChargeResponseSchema,
  SettleChargeResponseSchema,
} from "@mesh/proto/shop/payment/v1/provider_pb";
import type { MikroORM } from "@mikro-orm/postgresql";
import { pino } from "pino";
import { Registry } from "prom-client";
import * as inventoryDb from "../../services/inventory/src/db/entities.ts";
import { inventoryConsumers } from "../../services/inventory/src/events/consumers.ts";
import { orderService } from "../../services/order/src/api/order-service.ts";
import * as orderDb from "../../services/order/src/db/entities.ts";
import { applySagaInput, sagaConsumers } from "../../services/order/src/events/saga-steps.ts";
import { paymentService } from "../../services/payment/src/api/payment-service.ts";
import * as paymentDb from "../../services/payment/src/db/entities.ts";
import { type ProviderClient, paymentConsumers } from "../../services/payment/src/events/payment-steps.ts";
import { providerService } from "../../services/provider/src/api/provider-service.ts";

// The saga's three services as they run, minus the transport: their real API handlers and event consumers on real
// PostgreSQL databases, and the simulated gateway's real handlers. What JetStream would do is left to the test, which
// decides when each delivery happens (a fast-check scheduler), delivers some twice, and delivers again whatever a
// consumer failed to apply, as a must-complete consumer does.

const log = pino({ level: "silent" });
/** Long enough that only the test's own "deadline" steps cancel an order for its deadline. */
const SAGA_TIMEOUT_MS = 60_000;

/** What a test can do to the gateway's next call. */
export type GatewayFault =
  | "ok"
  /** Refused before the gateway saw it (UNAVAILABLE): nothing happened. */
  | "unavailable"
  /** The gateway did the work, but its answer came after the caller's deadline (DEADLINE_EXCEEDED). */
  | "late"
  /** The call waits for the scheduler before it reaches the gateway. */
  | "slow";

/** Runs a step when the test's scheduler says so. */
export type Gate = (label: string) => Promise<void>;

interface Subscription {
  consumer: string;
  subject: string;
  handler: EventHandler;
  orm: MikroORM;
}

interface Service {
  orm: MikroORM;
  context: ServiceContext;
  drop(): Promise<void>;
}

/** Where every delivery goes through: the test's scheduler, a duplicate now and then, and redelivery on failure. */
export interface Delivery {
  gate: Gate;
  /** Whether this delivery happens twice (a redelivery after a lost ack). */
  duplicate(): boolean;
}

/** Deliveries of one event to one consumer before the lab calls it a livelock. */
const MAX_DELIVERIES = 60;

export class SagaLab {
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private delivery: Delivery = { gate: async () => {}, duplicate: () => false };
  private faults: GatewayFault[] = [];
  readonly problems: string[] = [];
  /** The gateway: a new one (no charges) for every run. */
  provider = newGateway();
  readonly cardKey = Buffer.alloc(32, 7);

  private constructor(
    readonly order: Service,
    readonly inventory: Service,
    readonly payment: Service,
  ) {}

  static async start(serverUrl: string): Promise<SagaLab> {
    const [order, inventory, payment] = await Promise.all([
      service(serverUrl, "lab_order", orderDb),
      service(serverUrl, "lab_inventory", inventoryDb),
      service(serverUrl, "lab_payment", paymentDb),
    ]);
    const lab = new SagaLab(order, inventory, payment);
    for (const each of [order, inventory, payment]) {
      (each.context as { relay: unknown }).relay = { publishCommitted: (rows: OutboxEvent[]) => lab.publish(rows) };
    }
    const subscribe = (orm: MikroORM, consumers: { name: string; subject: string; handler: EventHandler }[]) => {
      for (const { name, subject, handler } of consumers)
        lab.subscriptions.push({ consumer: name, subject, handler, orm });
    };
    subscribe(order.orm, sagaConsumers(SAGA_TIMEOUT_MS));
    subscribe(inventory.orm, inventoryConsumers);
    subscribe(payment.orm, paymentConsumers(lab.gateway(), lab.cardKey));
    return lab;
  }

  readonly api = {
    order: () =>
      orderService(this.order.context, catalogue, {
        sagaTimeoutMs: SAGA_TIMEOUT_MS,
        sagaStuckGraceMs: 60_000,
        priceListMaxAgeMs: 60_000,
      }),
    payment: () => paymentService(this.payment.context, this.gateway(), this.cardKey),
  };

  /** Runs the saga deadline's effect on one order, as the order service's sweeper does once it is past. */
  async deadlinePassed(orderId: string): Promise<void> {
    const { transaction } = await import("@mesh/kit");
    await transaction(this.order.context, (em) =>
      applySagaInput(
        em,
        orderId,
        { kind: "deadline_passed" },
        { trigger: "saga deadline", correlationId: orderId },
        SAGA_TIMEOUT_MS,
      ),
    );
  }

  /**
   * Resolves once the order is no longer PENDING: a step that waits for this then races the deliveries that the
   * decision set off (a cancel against OrderConfirmed at inventory, a refund against PaymentCompleted at order).
   */
  async decided(orderId: string): Promise<void> {
    const em = this.order.orm.em.fork();
    while ((await em.findOneOrFail(orderDb.Order, { orderId }, { refresh: true })).status === "PENDING") await sleep(2);
  }

  /** Empties every table and restocks the catalogue, for the next run. */
  async reset(delivery: Delivery, faults: GatewayFault[]): Promise<void> {
    await this.settled();
    this.delivery = delivery;
    this.faults = [...faults];
    this.problems.length = 0;
    this.provider = newGateway();
    for (const { orm } of [this.order, this.inventory, this.payment]) {
      const tables = await orm.em
        .fork()
        .getConnection()
        .execute<{ name: string }[]>(
          "select tablename as name from pg_tables where schemaname = 'public' and tablename <> 'mikro_orm_migrations'",
        );
      await orm.em
        .fork()
        .getConnection()
        .execute(`truncate ${tables.map((table) => `"${table.name}"`).join(", ")}`);
    }
    const em = this.inventory.orm.em.fork();
    await em.createQueryBuilder(inventoryDb.Product).insert(DEMO_PRODUCTS).execute("run");
  }

  /** Resolves once no delivery is in flight or waiting (the scheduler must keep releasing meanwhile). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /** A step the test runs (an API call); its failure is the test's to judge, so it is returned, not thrown. */
  track<T>(work: Promise<T>): Promise<T | Error> {
    const settled = work.then(
      (value) => value,
      (error: unknown) => error as Error,
    );
    const done = settled.then(() => {});
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return settled;
  }

  async stop(): Promise<void> {
    await this.settled();
    await Promise.all([this.order, this.inventory, this.payment].map((each) => each.drop()));
  }

  private publish(rows: readonly OutboxEvent[]): void {
    for (const row of rows) {
      const event: IncomingEvent = {
        id: row.id,
        subject: row.subject,
        type: row.type,
        correlationId: row.correlationId,
        traceparent: undefined,
        deliveryCount: 1,
        payload: new Uint8Array(row.payload),
      };
      for (const subscription of this.subscriptions.filter((each) => each.subject === row.subject)) {
        this.deliver(subscription, event);
        if (this.delivery.duplicate()) this.deliver(subscription, event);
      }
    }
  }

  /** One delivery of an event to a consumer; another follows if it fails, as JetStream redelivers a nak'ed one. */
  private deliver(subscription: Subscription, event: IncomingEvent): void {
    const label = `${subscription.consumer} ← ${event.subject} #${event.deliveryCount} (${event.correlationId.slice(0, 8)})`;
    const work = (async () => {
      await this.delivery.gate(label);
      try {
        const { events } = await applyOnceWithEvents(
          subscription.orm,
          subscription.consumer,
          event,
          subscription.handler,
        );
        this.publish(events);
      } catch (error) {
        if (event.deliveryCount >= MAX_DELIVERIES) {
          this.problems.push(`${label}: still failing after ${MAX_DELIVERIES} deliveries: ${(error as Error).message}`);
          return;
        }
        if (!(error instanceof RetryLaterError) && !isTransient(error))
          this.problems.push(`${label}: ${(error as Error).message}`);
        this.deliver(subscription, { ...event, deliveryCount: event.deliveryCount + 1 });
      }
    })();
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Payment's client of the gateway: the gateway's own handlers, behind the test's faults. */
  private gateway(): ProviderClient {
    const call = async <T>(name: string, request: unknown, answer: (value: unknown) => T): Promise<T> => {
      const fault = this.faults.shift() ?? "ok";
      if (fault === "unavailable") throw new ConnectError("gateway unreachable (test)", Code.Unavailable);
      if (fault === "slow") await this.delivery.gate(`gateway ${name} slow`);
      const handler = this.provider.service.handlers[name] as (request: unknown, context: unknown) => Promise<unknown>;
      const result = answer(await handler(request, { signal: new AbortController().signal }));
      if (fault === "late") throw new ConnectError("the answer came too late (test)", Code.DeadlineExceeded);
      return result;
    };
    return {
      charge: (request: unknown) => call("charge", request, (value) => create(ChargeResponseSchema, value as never)),
      refundCharge: (request: unknown) =>
        call("refundCharge", request, (value) => create(RefundChargeResponseSchema, value as never)),
      settleCharge: (request: unknown) =>
        call("settleCharge", request, (value) => create(SettleChargeResponseSchema, value as never)),
    } as unknown as ProviderClient;
  }
}

const newGateway = () => providerService({ latencyMs: 0, failureRate: 0, answerLateMs: 0 });

/** Failures a must-complete consumer retries: the gateway's transient answers and lost races on a row. */
function isTransient(error: unknown): boolean {
  if (error instanceof ConnectError) return true;
  return /could not serialize|deadlock|duplicate key|unique constraint/i.test((error as Error).message);
}

/** The catalogue order prices from, as inventory's ListProducts gives it. */
const catalogue = {
  listProducts: async () => ({
    products: DEMO_PRODUCTS.map((product) => ({
      productId: product.productId,
      unitPrice: { amountMinor: BigInt(product.priceMinor), currency: product.currency },
    })),
    nextPageToken: "",
  }),
} as never;

async function service(
  serverUrl: string,
  prefix: string,
  schema: { entities: unknown[]; migrations: unknown[] },
): Promise<Service> {
  const database = await createTestDatabase(serverUrl, prefix);
  const orm = await openDatabase({
    url: database.url,
    entities: schema.entities as never,
    migrations: schema.migrations as never,
    log,
  });
  const context = { orm, log, metrics: new Registry() } as unknown as ServiceContext;
  return {
    orm,
    context,
    drop: async () => {
      await orm.close();
      await database.drop();
    },
  };
}

// The order service's stuck sagas (ListStuckOrders), reached as the CLI reaches it: a given plaintext address, or a
// healthy instance from Consul over mutual TLS as the dashboard's mesh identity. The transport is kept while calls
// succeed and made afresh after a failure (a new instance, a renewed leaf).
import { randomBytes } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { grpcTransport, type Target } from "@mesh/cli/transport";
import { OrderService, OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { type ConsulClient, consulGetter, discoverInstances } from "../mesh/consul.ts";

const ORDER_SERVICE = OrderService.typeName;
/** As many as the page lists. */
const PAGE_SIZE = 50;

/**
 * A poll is no saga: a parent that is not sampled keeps it out of the traces the page lists (the mesh samples
 * parent-based), which would otherwise fill with one ListStuckOrders trace every few seconds.
 */
const unsampled = () => `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-00`;

export interface StuckOrderRow {
  orderId: string;
  /** PENDING or CANCELLING. */
  status: string;
  sagaDeadline: string | null;
  /** What the saga waits for, for people ("payment: refund", ...). */
  waitingFor: string;
  stuckForSeconds: number;
}

export interface StuckOrdersOptions {
  /** A plaintext address; none: discovery through Consul. */
  address: string | undefined;
  identity: string;
  consul: ConsulClient;
  timeoutMs: number;
}

export class StuckOrdersReader {
  private kept: { key: string; transport: Transport } | undefined;

  constructor(private readonly options: StuckOrdersOptions) {}

  /** How the order service is reached, for the page. */
  describe(): string {
    return this.options.address
      ? `${ORDER_SERVICE} at ${this.options.address}`
      : `${ORDER_SERVICE} from Consul, as ${this.options.identity}`;
  }

  async read(): Promise<StuckOrderRow[]> {
    const transport = await this.transport();
    try {
      const client = createClient(OrderService, transport);
      const answer = await client.listStuckOrders(
        { pageSize: PAGE_SIZE },
        { timeoutMs: this.options.timeoutMs, headers: { traceparent: unsampled() } },
      );
      return answer.orders.map((order) => ({
        orderId: order.orderId,
        status: OrderStatus[order.status] ?? String(order.status),
        sagaDeadline: order.sagaDeadline ? timestampDate(order.sagaDeadline).toISOString() : null,
        waitingFor: order.waitingFor,
        stuckForSeconds: Number(order.stuckForSeconds),
      }));
    } catch (error) {
      this.kept = undefined;
      throw error;
    }
  }

  private async transport(): Promise<Transport> {
    const target = await this.target();
    const key = JSON.stringify(target);
    if (this.kept?.key !== key)
      this.kept = { key, transport: await grpcTransport(target, consulGetter(this.options.consul)) };
    return this.kept.transport;
  }

  private async target(): Promise<Target> {
    if (this.options.address) return { kind: "plaintext", address: this.options.address };
    const instances = await discoverInstances(this.options.consul).catch((error: unknown) => {
      throw new Error(`cannot read the catalog from Consul at ${this.options.consul.url}: ${(error as Error).message}`);
    });
    const instance = instances.find((each) => each.status === "passing" && each.grpcServices.includes(ORDER_SERVICE));
    if (!instance) throw new Error(`no healthy instance serves ${ORDER_SERVICE} in Consul`);
    const address = `${instance.address}:${instance.port}`;
    return instance.meshTls
      ? { kind: "mesh", address, service: instance.service, identity: this.options.identity }
      : { kind: "plaintext", address };
  }
}

// An order service for the tools' tests: ListStuckOrders answers the given orders, every other method UNIMPLEMENTED;
// health and reflection as the real one serves them (the kit's server), plaintext on a free loopback port.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { type RunningGrpcServer, ServiceError, startGrpcServer } from "@mesh/kit";
import { OrderService, type StuckOrderSchema } from "@mesh/proto/shop/order/v1/order_pb";

export type FakeStuckOrder = MessageInitShape<typeof StuckOrderSchema>;

export function startFakeOrderService(orders: FakeStuckOrder[]): Promise<RunningGrpcServer> {
  const unimplemented = () => {
    throw new ServiceError(status.UNIMPLEMENTED, "the fake order service answers ListStuckOrders only");
  };
  const handlers = Object.fromEntries(OrderService.methods.map((method) => [method.localName, unimplemented]));
  return startGrpcServer({
    port: 0,
    services: [{ service: OrderService, handlers: { ...handlers, listStuckOrders: () => ({ orders }) } }],
  });
}

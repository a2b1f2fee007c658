import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type RunningNatsServer, startNatsServer } from "@mesh/embedded";
import { deadLetterSubject, ensureStreams, Header, type RunningGrpcServer, SHOP_STREAMS } from "@mesh/kit";
import { OrderCancelledSchema } from "@mesh/proto/shop/events/v1/events_pb";
import { OrderStatus } from "@mesh/proto/shop/order/v1/order_pb";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { formatStuckOrders } from "./commands.ts";
import { dlqDrop, dlqList, dlqReplay, dlqReplayAll, dlqShow, formatDeadLetters, payloadText } from "./dlq.ts";
import { startFakeOrderService } from "./fake-order-service.ts";

const CLI = resolve(import.meta.dirname, "../bin/mesh.js");
const SUBJECT = "shop.order.cancelled";
const cancelled = (orderId: string) =>
  toBinary(OrderCancelledSchema, create(OrderCancelledSchema, { orderId, reason: "customer", refundRequired: true }));

const letter = (seq: number, overrides: Partial<Parameters<typeof formatDeadLetters>[0][number]> = {}) => ({
  seq,
  eventId: `e-${seq}`,
  consumer: "payment-order-cancelled",
  subject: SUBJECT,
  type: "shop.events.v1.OrderCancelled",
  reason: "boom",
  deliveries: 5,
  deadLetteredAt: new Date("2024-05-01T10:00:00Z"),
  correlationId: `o-${seq}`,
  traceparent: undefined,
  ...overrides,
});

describe("mesh dlq and saga --stuck, pure parts", () => {
  it("lists dead letters as a table with their age and a reason cut to one short line", () => {
    const now = new Date("2024-05-01T10:03:30Z");
    const text = formatDeadLetters(
      [letter(3), letter(9, { consumer: "inventory-order-cancelled", reason: `line one\n${"x".repeat(80)}` })],
      now,
    );
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^seq\s+consumer\s+subject\s+order\s+deliveries\s+age\s+reason$/);
    expect(lines[1]).toMatch(/^3\s+payment-order-cancelled\s+shop\.order\.cancelled\s+o-3\s+5\s+3m\s+boom$/);
    expect(lines[2]).toMatch(/^9\s+inventory-order-cancelled\s+.*\s+3m\s+line one x+…$/);
    expect(lines[2]?.split(/\s{2,}/).at(-1)).toHaveLength(60);
    expect(formatDeadLetters([], now)).toBe("no dead letters");
    expect(formatDeadLetters([], now, "payment-order-cancelled")).toBe("no dead letters of payment-order-cancelled");
  });

  it("shows a shop event's payload as JSON, and anything else as hex", () => {
    expect(JSON.parse(payloadText("shop.events.v1.OrderCancelled", cancelled("o-1")))).toEqual({
      orderId: "o-1",
      reason: "customer",
      refundRequired: true,
    });
    expect(payloadText("other.v1.Thing", new Uint8Array([1, 255]))).toBe(
      "(other.v1.Thing: not a message of shop.events.v1) 2 bytes, hex: 01ff",
    );
    expect(payloadText("shop.events.v1.OrderCancelled", new Uint8Array([0x0a, 0xff]))).toMatch(
      /^\(does not decode as shop\.events\.v1\.OrderCancelled: .+\) 2 bytes, hex: 0aff$/,
    );
  });

  it("lists stuck sagas with what each waits for and for how long", () => {
    expect(
      formatStuckOrders([
        {
          orderId: "o-1",
          status: "ORDER_STATUS_CANCELLING",
          waitingFor: "payment: refund",
          stuckForSeconds: "7260",
        },
        { orderId: "o-2", status: "ORDER_STATUS_PENDING", waitingFor: "payment: charge", stuckForSeconds: 90 },
      ]).split("\n"),
    ).toEqual([
      "order  status      waiting for      stuck for",
      "o-1    CANCELLING  payment: refund  2h",
      "o-2    PENDING     payment: charge  1m",
    ]);
    expect(formatStuckOrders([])).toBe("no stuck sagas");
  });
});

describe("mesh dlq against a nats-server", () => {
  let dataDir: string;
  let nats: RunningNatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;

  const saved = process.env.NATS_URL;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "mesh-cli-dlq-"));
    nats = await startNatsServer({ dataDir });
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    await ensureStreams(await jetstreamManager(nc), SHOP_STREAMS);
  });
  beforeEach(() => {
    process.env.NATS_URL = nats.url;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.NATS_URL;
    else process.env.NATS_URL = saved;
    await nc?.close();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const mesh = (...args: string[]) =>
    promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, NATS_URL: nats.url } }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  /** A dead letter as a consumer publishes it; resolves to its sequence. */
  async function deadLetter(eventId: string, consumer: string, orderId: string): Promise<number> {
    const headers = natsHeaders();
    headers.set(Header.eventId, eventId);
    headers.set(Header.type, "shop.events.v1.OrderCancelled");
    headers.set(Header.correlationId, orderId);
    headers.set(Header.deadLetterConsumer, consumer);
    headers.set(Header.deadLetterReason, "refund refused: card expired");
    headers.set(Header.deadLetterDeliveries, "5");
    headers.set(Header.originalSubject, SUBJECT);
    headers.set(Header.deadLetteredAt, new Date().toISOString());
    const ack = await js.publish(deadLetterSubject(SUBJECT), cancelled(orderId), {
      headers,
      msgID: `${eventId}:${consumer}`,
    });
    return ack.seq;
  }

  it("lists, shows, replays and drops dead letters", async () => {
    const first = await deadLetter("e-1", "payment-order-cancelled", "o-1");
    const second = await deadLetter("e-1", "inventory-order-cancelled", "o-1");
    const third = await deadLetter("e-2", "payment-order-cancelled", "o-2");

    const listed = await mesh("dlq", "list");
    expect(listed.stdout.trimEnd().split("\n")).toHaveLength(4);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^${second}\\s+inventory-order-cancelled\\s+shop\\.order\\.cancelled\\s+o-1\\s+5\\s+\\d+s\\s+refund`,
        "m",
      ),
    );
    const payment = await dlqList("payment-order-cancelled");
    expect(payment.match(/^\d+/gm)).toEqual([String(first), String(third)]);

    const shown = await dlqShow(first);
    expect(shown).toContain(`dead letter ${first} in SHOP_DEAD_LETTERS`);
    expect(shown).toMatch(/^ {2}reason\s+refund refused: card expired$/m);
    expect(shown).toContain(`  ${Header.msgId}: e-1:payment-order-cancelled`);
    expect(shown).toContain('"orderId": "o-1"');

    expect(await dlqReplay(first)).toContain(
      `replayed dead letter ${first}: event e-1 on ${SUBJECT} (msgID e-1:replay:${first}`,
    );
    await expect(dlqReplay(first)).rejects.toThrow(
      `dead letter ${first} is not in SHOP_DEAD_LETTERS (replayed or dropped already?)`,
    );

    const refused = await mesh("dlq", "drop", String(second));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`mesh: dlq drop deletes dead letter ${second} for good and is refused without --yes\n`);
    expect(await dlqDrop(second)).toBe(`dropped dead letter ${second}`);

    const all = await dlqReplayAll("payment-order-cancelled");
    expect(all.split("\n")).toEqual([
      expect.stringContaining(`replayed dead letter ${third}: event e-2`),
      "replayed 1 of payment-order-cancelled",
    ]);
    expect(await dlqList(undefined)).toBe("no dead letters");
  }, 60_000);

  it("checks its arguments, and names NATS and the variable when it cannot reach it", async () => {
    const usage = await mesh("dlq", "replay", "--all");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^mesh: dlq replay --all needs --consumer <name>\n\nusage: /);
    process.env.NATS_URL = "nats://127.0.0.1:1";
    await expect(dlqList(undefined)).rejects.toThrow(
      "cannot reach NATS at nats://127.0.0.1:1 (set NATS_URL): connection refused",
    );
  }, 60_000);
});

describe("mesh saga --stuck", () => {
  let order: RunningGrpcServer;
  beforeAll(async () => {
    order = await startFakeOrderService([
      {
        orderId: "o-stuck",
        status: OrderStatus.CANCELLING,
        sagaDeadline: timestampFromDate(new Date(Date.now() - 600_000)),
        waitingFor: "payment: refund",
        stuckForSeconds: 600n,
      },
    ]);
  });
  afterAll(() => order?.shutdown(0));

  it("lists the order service's stuck sagas", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, "saga", "--stuck", "--to", order.address]);
    expect(stdout.split("\n")).toEqual([
      "order    status      waiting for      stuck for",
      "o-stuck  CANCELLING  payment: refund  10m",
      "",
    ]);
  }, 60_000);
});

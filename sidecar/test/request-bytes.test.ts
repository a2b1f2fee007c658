import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

// A call that waits for its first attempt (in the app's concurrency queue, an upstream's bulkhead queue, or an
// injected delay) reads its request meanwhile: every byte must reach the attempt, however much more than the retry
// buffer (64 KiB) arrived, with the caller held back by flow control rather than its bytes dropped.

let app: EchoServer;
/** The app behind an inbound listener that lets one call in at a time. */
let inbound: TestSidecar;
/** An outbound sidecar whose upstream bulkhead lets one call through at a time. */
let bulkhead: TestSidecar;
/** An outbound sidecar that delays every Echo by an injected fault. */
let delayed: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  inbound = await mesh.sidecar({
    inbound: { listen: "127.0.0.1:0", app: app.address, maxConcurrent: 1, maxQueue: 8 },
  });
  bulkhead = await mesh.sidecar({
    upstreams: echoUpstream([app], { bulkhead: { maxConcurrent: 1, maxQueue: 8 } }),
  });
  delayed = await mesh.sidecar({
    upstreams: echoUpstream([app], { methods: { Echo: { faults: { delay: { percent: 100, ms: 400 } } } } }),
  });
});

async function calledAtApp(method: string, count: number): Promise<void> {
  while ((app.received.get(method) ?? 0) < count) await sleep(5);
}

/** Runs `whileHeld` while a slow call (holdMs at the app) holds the only slot on the way to the app at `address`. */
async function whileSlotHeld<T>(address: string, holdMs: number, whileHeld: () => Promise<T>): Promise<T> {
  const before = app.received.get("Echo") ?? 0;
  const slow = echoClient(address).echo({ message: "hold", delayMs: holdMs });
  await calledAtApp("Echo", before + 1);
  const result = await whileHeld();
  expect((await slow).message).toBe("hold");
  return result;
}

describe("request bytes read while a call waits for its attempt", () => {
  for (const size of [100_000, 1_000_000]) {
    it(`reach the app in full behind the app's concurrency limit (${size} bytes)`, async () => {
      const payload = randomBytes(size);
      const answer = await whileSlotHeld(inbound.inbound, 600, () =>
        echoClient(inbound.inbound).echo({ message: "big", payload }),
      );
      expect(answer.message).toBe("big");
      expect(Buffer.from(answer.payload).equals(payload)).toBe(true);
    });

    it(`reach the upstream in full behind its bulkhead (${size} bytes)`, async () => {
      const payload = randomBytes(size);
      const answer = await whileSlotHeld(bulkhead.outbound, 600, () =>
        echoClient(bulkhead.outbound).echo({ message: "big", payload }),
      );
      expect(answer.message).toBe("big");
      expect(Buffer.from(answer.payload).equals(payload)).toBe(true);
    });

    it(`reach the upstream in full after an injected delay (${size} bytes)`, async () => {
      const payload = randomBytes(size);
      const before = app.received.get("Echo") ?? 0;
      const answer = await echoClient(delayed.outbound).echo({ message: "big", payload });
      expect(answer.message).toBe("big");
      expect(Buffer.from(answer.payload).equals(payload)).toBe(true);
      // Too large to keep for a retry, it is sent once.
      expect((app.received.get("Echo") ?? 0) - before).toBe(1);
    });
  }

  it("keeps every byte of client-streamed messages of any sizes, whatever the wait (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 300 }),
        fc.boolean(),
        async (sizes, holdMs, throughBulkhead) => {
          const address = throughBulkhead ? bulkhead.outbound : inbound.inbound;
          const messages = sizes.map((size, index) => String.fromCharCode(97 + index).repeat(size));
          async function* requests() {
            for (const message of messages) yield { message };
          }
          const answer = await whileSlotHeld(address, holdMs, () => echoClient(address).collect(requests()));
          expect(answer.message.length).toBe(messages.join(" ").length);
          expect(answer.message === messages.join(" ")).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });
});

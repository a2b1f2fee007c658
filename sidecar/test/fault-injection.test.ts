import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EchoServer,
  echoClient,
  echoUpstream,
  startEchoServers,
  startTestSidecar,
  type TestSidecar,
} from "./harness.ts";

let app: EchoServer;
let sidecar: TestSidecar;

beforeAll(async () => {
  [app] = (await startEchoServers(1)) as [EchoServer];
  sidecar = await startTestSidecar({
    upstreams: echoUpstream([app], {
      methods: {
        Write: { faults: { abort: { percent: 100, code: "UNAVAILABLE", message: "drill" } } },
        Echo: { faults: { delay: { percent: 100, ms: 150 } } },
      },
    }),
  });
});

afterAll(async () => {
  await sidecar.close();
  await app.shutdown(100);
});

describe("fault injection", () => {
  it("aborts a method with the configured status without reaching the upstream", async () => {
    const error = await echoClient(sidecar.outbound)
      .write({})
      .then(
        () => undefined,
        (reason: unknown) => ConnectError.from(reason),
      );
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("drill (fault injected for upstream echo)");
    expect(app.received.get("Write")).toBeUndefined();
  });

  it("delays a method by the configured time", async () => {
    const started = performance.now();
    expect((await echoClient(sidecar.outbound).echo({ message: "late" })).message).toBe("late");
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });
});

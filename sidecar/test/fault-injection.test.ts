import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type EchoServer, echoClient, echoUpstream, type TestSidecar, useEchoMesh } from "./harness.ts";

let app: EchoServer;
let sidecar: TestSidecar;

useEchoMesh(async (mesh) => {
  [app] = (await mesh.apps(1)) as [EchoServer];
  sidecar = await mesh.sidecar({
    upstreams: echoUpstream([app], {
      methods: {
        Write: { faults: { abort: { percent: 100, code: "UNAVAILABLE", message: "drill" } } },
        Echo: { faults: { delay: { percent: 100, ms: 150 } } },
      },
    }),
  });
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

import { once } from "node:events";
import { createServer as createHttp2Server } from "node:http2";
import { connect as netConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { Code, ConnectError } from "@connectrpc/connect";
import type { RunningConsulDev } from "@mesh/consul-dev";
import { beforeAll, describe, expect, it } from "vitest";
import { grpcioMtlsEcho } from "../../test/interop/grpcio.ts";
import { adminJson, ECHO_SERVICE, type EchoServer, echoClient, startTestSidecar, type TestSidecar } from "./harness.ts";
import {
  agentLeaf,
  consulJson,
  eventually,
  putIntention,
  type TestAuthority,
  tlsEchoClient,
  useTlsEchoMesh,
} from "./mesh-tls.ts";

// The echo service behind a sidecar with mesh TLS, and a caller "web" behind its own sidecar, both taking their
// identities from consul-dev's Connect CA; the mesh denies by default (* -> *) and allows web -> echo.
const mesh = useTlsEchoMesh({ echoTls: { handshakeTimeoutMs: 500 } });
let consul: RunningConsulDev;
let authority: TestAuthority;
let trustDomain: string;
let app: EchoServer;
let echo: TestSidecar;
let web: TestSidecar;
beforeAll(() => {
  ({ consul, authority, trustDomain, app, echo, web } = mesh);
});

const spiffe = (service: string, domain = trustDomain) => `spiffe://${domain}/ns/default/dc/dc1/svc/${service}`;
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("the call succeeded");
    },
    (error: unknown) => ConnectError.from(error),
  );

describe("mutual TLS between sidecars", () => {
  it("carries an allowed call, and Consul's check passes over the plaintext health listener", async () => {
    expect(await echoClient(web.outbound).echo({ message: "hi" })).toMatchObject({ message: "hi", servedBy: "a" });
    const certs = await adminJson<{ tls: string; serviceUri: string }>(echo, "/certs");
    expect(certs).toMatchObject({ tls: "mutual", serviceUri: spiffe("echo") });
    const [entry] = await consulJson<{ Service: { Meta: Record<string, string> }; Checks: { Status: string }[] }[]>(
      consul,
      "/v1/health/service/echo?passing",
    );
    expect(entry?.Service.Meta["mesh-tls"]).toBe("mutual");
  });

  it("serves Prometheus metrics on the plaintext health listener, and nothing of the admin API but health", async () => {
    const health = `http://127.0.0.1:${echo.sidecar.ports.health}`;
    const metrics = await fetch(`${health}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("mesh_requests_total{");
    expect((await fetch(`${health}/clusters`)).status).toBe(404);
    expect((await fetch(`${health}/certs`)).status).toBe(404);
  });

  it("refuses a server certificate that names another service", async () => {
    const impostor = await authority.issueLeaf({ spiffeId: spiffe("impostor") });
    const server = createHttp2Server();
    const tlsServer = (await import("node:tls")).createServer({
      cert: impostor.certPem,
      key: impostor.keyPem,
      ALPNProtocols: ["h2"],
    });
    tlsServer.on("secureConnection", (socket) => server.emit("connection", socket));
    tlsServer.listen(0, "127.0.0.1");
    await once(tlsServer, "listening");
    const port = (tlsServer.address() as { port: number }).port;
    const caller = await startTestSidecar({
      service: "web",
      consul: { ...mesh.consulConfig, register: false },
      upstreams: { echo: { services: [ECHO_SERVICE], endpoints: [`127.0.0.1:${port}`], retry: { maxAttempts: 1 } } },
    });
    try {
      const error = await errorOf(echoClient(caller.outbound).echo({ message: "x" }));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toContain(`server certificate is for ${spiffe("impostor")}, not the service echo`);
    } finally {
      await caller.close();
      tlsServer.close();
    }
  });
});

describe("authorization by intentions", () => {
  it("denies a call the intentions deny, naming caller, method and intention, and counts it", async () => {
    await putIntention(consul, "web", "echo", { Action: "deny" });
    try {
      const error = await eventually(async () => {
        const denied = await errorOf(echoClient(web.outbound).echo({ message: "x" }));
        expect(denied.code).toBe(Code.PermissionDenied);
        return denied;
      });
      expect(error.rawMessage).toBe(`web may not call /${ECHO_SERVICE}/Echo on echo: intention web -> echo denies it`);
      const metrics = await (await fetch(`${echo.admin}/metrics`)).text();
      expect(metrics).toContain(
        `mesh_authorization_denied_total{source="web",destination="echo",method="/${ECHO_SERVICE}/Echo"}`,
      );
    } finally {
      await putIntention(consul, "web", "echo", { Action: "allow" });
      await eventually(() => echoClient(web.outbound).echo({ message: "again" }));
    }
  });

  it("denies one method by an L7 permission and allows the rest of the service", async () => {
    await putIntention(consul, "web", "echo", {
      Permissions: [
        { Action: "deny", HTTP: { PathExact: `/${ECHO_SERVICE}/Write` } },
        { Action: "allow", HTTP: { PathPrefix: `/${ECHO_SERVICE}/` } },
      ],
    });
    try {
      const error = await eventually(async () => {
        const denied = await errorOf(echoClient(web.outbound).write({ message: "x" }));
        expect(denied.code).toBe(Code.PermissionDenied);
        return denied;
      });
      expect(error.rawMessage).toContain("permission 1 of intention web -> echo denies it");
      expect(await echoClient(web.outbound).echo({ message: "read" })).toMatchObject({ message: "read" });
    } finally {
      await putIntention(consul, "web", "echo", { Action: "allow" });
    }
  });

  it("denies a valid mesh identity the default intention does not let in", async () => {
    const leaf = await agentLeaf(consul, "intruder");
    const error = await errorOf(tlsEchoClient(echo.inbound, authority.rootPem, leaf).echo({ message: "x" }));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.rawMessage).toBe(`intruder may not call /${ECHO_SERVICE}/Echo on echo: intention * -> * denies it`);
  });
});

describe("callers that are not trusted mesh services", () => {
  const expectUnauthenticated = async (promise: Promise<unknown>, reason: string) => {
    const error = await errorOf(promise);
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toContain(reason);
    expect(app.received.get("Echo") ?? 0).toBe(receivedBefore);
  };
  let receivedBefore = 0;
  beforeAll(() => {
    receivedBefore = app.received.get("Echo") ?? 0;
  });

  it("plaintext HTTP/2", () =>
    expectUnauthenticated(echoClient(echo.inbound).echo({ message: "x" }), "plaintext HTTP/2 on a mutual-TLS port"));

  it("TLS without a client certificate", () =>
    expectUnauthenticated(
      tlsEchoClient(echo.inbound, authority.rootPem).echo({ message: "x" }),
      "no client certificate: this port accepts only mutual TLS",
    ));

  it("a certificate from another CA", async () => {
    const { createTestAuthority } = await import("@mesh/consul-dev");
    const foreign = await createTestAuthority({ trustDomain });
    const leaf = await foreign.issueLeaf({ spiffeId: spiffe("web") });
    await expectUnauthenticated(
      tlsEchoClient(echo.inbound, authority.rootPem, leaf).echo({ message: "x" }),
      "client certificate rejected: not issued by a root this mesh trusts",
    );
  });

  it("an expired certificate", async () => {
    const leaf = await authority.issueLeaf({
      spiffeId: spiffe("web"),
      notBefore: new Date(Date.now() - 7200_000),
      notAfter: new Date(Date.now() - 3600_000),
    });
    await expectUnauthenticated(
      tlsEchoClient(echo.inbound, authority.rootPem, leaf).echo({ message: "x" }),
      "client certificate rejected: certificate has expired (CERT_HAS_EXPIRED)",
    );
  });

  it("a SPIFFE ID of another trust domain, even signed by this mesh's CA", async () => {
    const leaf = await authority.issueLeaf({ spiffeId: spiffe("web", "other.consul") });
    await expectUnauthenticated(
      tlsEchoClient(echo.inbound, authority.rootPem, leaf).echo({ message: "x" }),
      `client identity ${spiffe("web", "other.consul")} is of another trust domain`,
    );
  });

  it("HTTP/1.1 gets one plain line", async () => {
    const response = await fetch(`http://${echo.inbound}/`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("gRPC over HTTP/2 with mutual TLS only");
  });

  it("TLS 1.2 is refused at the handshake", async () => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: Number(echo.inbound.split(":")[1]),
      maxVersion: "TLSv1.2",
      rejectUnauthorized: false,
    });
    const [error] = (await once(socket, "error")) as [Error & { code?: string }];
    expect(error.code).toMatch(/ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION|ERR_SSL_UNSUPPORTED_PROTOCOL/);
  });

  it("garbage after a TLS record header, a handshake that never finishes and an idle untrusted peer are closed; others still served", async () => {
    const port = Number(echo.inbound.split(":")[1]);
    const idle = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: authority.rootPem,
      ALPNProtocols: ["h2"],
      checkServerIdentity: () => undefined,
    });
    const garbage = netConnect(port, "127.0.0.1", () =>
      garbage.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])),
    );
    const silent = netConnect(port, "127.0.0.1");
    const stalled = netConnect(port, "127.0.0.1", () => stalled.write(Buffer.from([0x16, 0x03, 0x01])));
    // idle: a TLS client without a certificate that never sends a request, told nothing more and dropped as soon.
    for (const socket of [garbage, stalled, idle, silent]) socket.on("error", () => {}).resume();
    const started = Date.now();
    await Promise.all([once(garbage, "close"), once(stalled, "close"), once(idle, "close"), once(silent, "close")]);
    // handshakeTimeoutMs is 500 in this mesh; Node's default would hold the stalled one for 120 s.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await echoClient(web.outbound).echo({ message: "still" })).toMatchObject({ message: "still" });
    const metrics = await (await fetch(`${echo.admin}/metrics`)).text();
    expect(metrics).toMatch(/mesh_tls_connections_refused_total\{reason="handshake_failed"\} [1-9]/);
    expect(metrics).toMatch(/mesh_tls_connections_refused_total\{reason="silent"\} [1-9]/);
  });
});

describe("an independent TLS stack: Python grpcio with a leaf from consul-dev", () => {
  const serverName = () => `echo.svc.default.${trustDomain.slice(0, 8)}.consul`;

  it("succeeds when allowed", async () => {
    const leaf = await agentLeaf(consul, "web");
    const result = await grpcioMtlsEcho(echo.inbound, {
      rootsPem: authority.rootPem,
      ...leaf,
      serverName: serverName(),
    });
    expect(result).toMatchObject({ code: "OK" });
    expect(result.reply).toContain("from grpcio");
  }, 40_000);

  it("gets PERMISSION_DENIED when denied", async () => {
    const leaf = await agentLeaf(consul, "intruder");
    const result = await grpcioMtlsEcho(echo.inbound, {
      rootsPem: authority.rootPem,
      ...leaf,
      serverName: serverName(),
    });
    expect(result).toEqual({
      code: "PERMISSION_DENIED",
      details: `intruder may not call /${ECHO_SERVICE}/Echo on echo: intention * -> * denies it`,
      reply: "",
    });
  }, 40_000);
});

describe("when Consul goes away", () => {
  it("keeps the last known certificates and intentions in force", async () => {
    const intruder = await agentLeaf(consul, "intruder");
    await consul.stop();
    await sleep(500);
    expect(await echoClient(web.outbound).echo({ message: "on" })).toMatchObject({ message: "on" });
    const error = await errorOf(tlsEchoClient(echo.inbound, authority.rootPem, intruder).echo({ message: "x" }));
    expect(error.code).toBe(Code.PermissionDenied);
  });
});

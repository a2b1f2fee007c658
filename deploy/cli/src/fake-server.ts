// A throwaway HTTP server for the CLI's tests: answers by path (query included), 404 otherwise.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Route = (url: URL) => { status?: number; body: unknown } | undefined;

export async function fakeServer(
  route: Route,
): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://fake");
    requests.push(`${url.pathname}${url.search}`);
    const answer = route(url);
    const body = answer?.body ?? { errors: [{ code: 404, msg: "not found" }] };
    response.writeHead(answer?.status ?? (answer ? 200 : 404), {
      "content-type": typeof body === "string" ? "text/plain" : "application/json",
    });
    response.end(typeof body === "string" ? body : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export { type EchoServer, type ForcedBehaviour, startEchoServer } from "./echo-server.ts";

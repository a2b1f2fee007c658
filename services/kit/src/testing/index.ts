export { type EchoServer, type ForcedBehaviour, startEchoServer } from "./echo-server.ts";
export { createTestDatabase } from "./test-database.ts";

export { type EchoServer, type ForcedBehaviour, startEchoServer } from "./echo-server.ts";
export { type SteadyLoad, steadyLoad } from "./steady-load.ts";
export { createTestDatabase } from "./test-database.ts";

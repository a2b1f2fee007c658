export { call, saga, services, stats } from "./commands.ts";

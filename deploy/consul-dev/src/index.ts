export { type ConsulDevOptions, type RunningConsulDev, startConsulDev } from "./agent.ts";
export { formatDuration, parseDuration } from "./duration.ts";

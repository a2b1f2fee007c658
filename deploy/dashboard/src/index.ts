export type { JaegerSpan, JaegerTrace } from "./api/jaeger.ts";
export { type RunningDashboard, startDashboard } from "./dashboard.ts";
export { type DashboardOptions, DEFAULT_OPTIONS, OptionsError, parseOptions } from "./options.ts";
export { checkDashboardPage, type PageCheckOptions, type PageCheckResult } from "./page-check.ts";

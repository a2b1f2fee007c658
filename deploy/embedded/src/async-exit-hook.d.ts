// The part of async-exit-hook (no published types) that releaseExitHooks uses.
declare module "async-exit-hook" {
  const asyncExitHook: { unhookEvent(event: string): void };
  export default asyncExitHook;
}

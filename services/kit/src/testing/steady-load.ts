/** Calls in flight all the time, counted: for failover tests that must lose no call. */
export interface SteadyLoad {
  /** Stops sending and resolves, once the last calls are back, how many succeeded and failed. */
  stop(): Promise<{ calls: number; failures: number; errors: string[] }>;
}

/** Keeps `parallel` calls of `send` in flight until stopped. */
export function steadyLoad(send: () => Promise<unknown>, parallel = 4): SteadyLoad {
  let running = true;
  let calls = 0;
  let failures = 0;
  const errors: string[] = [];
  const loop = (async () => {
    while (running) {
      await Promise.all(
        Array.from({ length: parallel }, () =>
          send().then(
            () => calls++,
            (error: unknown) => {
              failures++;
              if (errors.length < 5) errors.push((error as Error).message);
            },
          ),
        ),
      );
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { calls, failures, errors };
    },
  };
}

import type { FaultPolicy } from "../config/schema.ts";
import { Status } from "../grpc/status.ts";

export interface InjectedFault {
  delayMs: number;
  abort?: { code: number; message: string };
}

/** Decides, per call, which configured faults apply (each by its percentage); undefined when none does. */
export function chooseFault(policy: FaultPolicy, random: () => number = Math.random): InjectedFault | undefined {
  const delayMs = policy.delay && random() * 100 < policy.delay.percent ? policy.delay.ms : 0;
  const abort =
    policy.abort && random() * 100 < policy.abort.percent
      ? { code: Status[policy.abort.code], message: policy.abort.message }
      : undefined;
  return delayMs > 0 || abort ? { delayMs, abort } : undefined;
}

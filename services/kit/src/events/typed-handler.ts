import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { type EventHandler, type IncomingEvent, PoisonEventError } from "./consumer-runner.ts";

/** A handler of one event type: decodes the payload, and sends an undecodable one to the dead letters. */
export function handleEvent<Desc extends DescMessage>(
  schema: Desc,
  apply: (em: EntityManager, message: MessageShape<Desc>, event: IncomingEvent) => Promise<void>,
): EventHandler {
  return async (em, event) => {
    let message: MessageShape<Desc>;
    try {
      message = fromBinary(schema, event.payload);
    } catch (error) {
      throw new PoisonEventError(`cannot decode ${schema.typeName}: ${(error as Error).message}`);
    }
    await apply(em, message, event);
  };
}

export { transactionWithEvents } from "./committed-events.ts";
export {
  applyOnce,
  applyOnceWithEvents,
  type ConsumerOptions,
  type EventHandler,
  type IncomingEvent,
  PoisonEventError,
  RetryLaterError,
  startConsumer,
} from "./consumer-runner.ts";
export { envelopeHeaders, Header, newEventId, type OutgoingEvent } from "./envelope.ts";
export { enqueueEvent, enqueueFollowUp } from "./outbox.ts";
export { OutboxRelay, type OutboxRelayOptions } from "./outbox-relay.ts";
export {
  deadLetterSubject,
  type EventStreams,
  ensureStreams,
  inCluster,
  SHOP_STREAMS,
  type StreamReplicas,
} from "./streams.ts";
export { handleEvent } from "./typed-handler.ts";

/**
 * The producer SDK's EventProducer interface over the in-process log: what the embedded demo hands the
 * simulator and the serving node instead of `createEventProducer` (Kafka). Events are appended keyed by
 * user id, at once; "acknowledged" means appended.
 */
import { DeepChainError, type UserEvent } from '../common/index.js';
import { createInMemoryProducer, type EventProducer } from '../sdk/index.js';
import type { MemoryTopic } from './memory-log.js';

export function memoryLogProducer(topic: MemoryTopic<UserEvent>): EventProducer {
  return createInMemoryProducer((events) => {
    for (const e of events) {
      if (!e.userId || !e.sessionId || !e.eventId) throw new DeepChainError('SCHEMA_INVALID', `event ${e.eventId}: empty user, session or event id`);
    }
    for (const e of events) topic.append(e.userId, e);
  });
}

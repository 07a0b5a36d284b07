/**
 * The producer SDK's public entry: what a Node frontend imports to send events (README.md beside this).
 *
 *   const events = createEventProducer({ brokers, schemaRegistryUrl });
 *   await events.send(click({ userId, sessionId, scenario: 'entrance', requestId, itemId, position: 2 }));
 *   await events.close(); // on shutdown: flushes what is held
 */
export { createEventProducer, type EventProducer, type EventProducerOptions } from './producer.js';
export { Batcher, type BatcherOptions, type OnFull } from './batcher.js';
export { createInMemoryProducer, createMemoryEventProducer, type MemoryEventProducer } from './memory.js';
export { addToCart, click, leave, pageChange, purchase, recommendation, skip, type EventDraft } from './events.js';

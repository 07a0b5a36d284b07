/**
 * EventProducers that keep events in the process instead of sending them to Kafka: `createInMemoryProducer`
 * hands each accepted batch to a function (the embedded demo appends it to its in-process log), and
 * `createMemoryEventProducer` is the test double for code that sends events (the gateway, the simulator):
 * it keeps what was sent, in order, and can be told to fail like an unavailable Kafka.
 */
import { DeepChainError, type UserEvent } from '../common/index.js';
import type { EventProducer } from './producer.js';

/**
 * An EventProducer whose `send`/`sendAll` call `deliver` at once ("acknowledged" means delivered); an
 * error `deliver` throws is the send's error. After `close` nothing more is accepted.
 */
export function createInMemoryProducer(deliver: (events: readonly UserEvent[]) => void): EventProducer {
  let closed = false;
  const sendAll = async (events: readonly UserEvent[]): Promise<void> => {
    if (closed) throw new DeepChainError('PRODUCER_CLOSED', 'close() was called; nothing more is accepted');
    deliver(events);
  };
  return {
    connect: async () => undefined,
    send: (event) => sendAll([event]),
    sendAll,
    flush: async () => undefined,
    close: async () => { closed = true; },
    buffered: 0,
    get connected() { return !closed; },
  };
}

export interface MemoryEventProducer extends EventProducer {
  readonly sent: UserEvent[];
  /** Every later send fails with this error (undefined: sends succeed again). */
  failWith(error: Error | undefined): void;
}

export function createMemoryEventProducer(): MemoryEventProducer {
  const sent: UserEvent[] = [];
  let failure: Error | undefined;
  const producer = createInMemoryProducer((events) => {
    if (failure) throw failure;
    sent.push(...events);
  });
  // Object.assign keeps the producer's `connected` getter (a spread would freeze its current value).
  return Object.assign(producer, { sent, failWith: (error: Error | undefined) => { failure = error; } });
}

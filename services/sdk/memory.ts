/**
 * An in-memory EventProducer for tests of code that sends events (the gateway, the simulator): it keeps
 * what was sent, in order, and can be told to fail like an unavailable Kafka.
 */
import { DeepChainError, type UserEvent } from '../common/index.js';
import type { EventProducer } from './producer.js';

export interface MemoryEventProducer extends EventProducer {
  readonly sent: UserEvent[];
  /** Every later send fails with this error (undefined: sends succeed again). */
  failWith(error: Error | undefined): void;
}

export function createMemoryEventProducer(): MemoryEventProducer {
  const sent: UserEvent[] = [];
  let failure: Error | undefined;
  let closed = false;
  const sendAll = async (events: readonly UserEvent[]): Promise<void> => {
    if (closed) throw new DeepChainError('PRODUCER_CLOSED', 'close() was called; nothing more is accepted');
    if (failure) throw failure;
    sent.push(...events);
  };
  return {
    sent,
    failWith: (error) => { failure = error; },
    connect: async () => undefined,
    send: (event) => sendAll([event]),
    sendAll,
    flush: async () => undefined,
    close: async () => { closed = true; },
    buffered: 0,
    get connected() { return !closed; },
  };
}

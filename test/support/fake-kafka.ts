/**
 * A stand-in for a kafkajs client in unit tests of what a service does with its consumers (no broker: tests
 * that claim to test Kafka use the real one): consumers record what is done to them, and can be made to crash
 * (as kafkajs reports it, with or without its own restart) and to rejoin their group. Its admin answers that
 * every topic has `partitions` empty partitions; its producers accept and drop what they are sent.
 */
import type { Kafka } from 'kafkajs';

export function fakeKafka(partitions = 1) {
  const made: {
    groupId: string; connected: boolean; subscribed: { topic: string; fromBeginning?: boolean } | null; running: boolean; disconnected: boolean;
    seeks: { topic: string; partition: number; offset: string }[]; crash(restart: boolean): void; join(): void;
  }[] = [];
  const kafka = {
    consumer: ({ groupId }: { groupId: string }) => {
      const listeners: ((e: { payload: { error: Error; groupId: string; restart: boolean } }) => void)[] = [];
      const joined: (() => void)[] = [];
      const c = {
        groupId, connected: false, subscribed: null as { topic: string; fromBeginning?: boolean } | null, running: false, disconnected: false,
        seeks: [] as { topic: string; partition: number; offset: string }[],
        crash: (restart: boolean) => { for (const l of listeners) l({ payload: { error: new Error('Failed to find group coordinator'), groupId, restart } }); },
        join: () => { for (const j of joined) j(); },
      };
      made.push(c);
      return {
        events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
        on: (name: string, fn: (typeof listeners)[number] & (() => void)) => {
          if (name === 'consumer.crash') listeners.push(fn);
          if (name === 'consumer.group_join') joined.push(fn);
        },
        seek: (p: { topic: string; partition: number; offset: string }) => { c.seeks.push(p); },
        connect: async () => { c.connected = true; },
        subscribe: async (sub: { topic: string; fromBeginning?: boolean }) => { c.subscribed = sub; },
        run: async () => { c.running = true; },
        disconnect: async () => { c.disconnected = true; c.running = false; },
      };
    },
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      fetchTopicOffsets: async () => Array.from({ length: partitions }, (_, partition) => ({ partition, offset: '0', low: '0', high: '0' })),
    }),
    producer: () => ({ connect: async () => undefined, disconnect: async () => undefined, send: async () => [] }),
  };
  return { made, kafka: kafka as unknown as Kafka };
}


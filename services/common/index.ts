/** The shared library's public entry point: services import from here, never from each other's files. */
export * from './domain.js';
export * from './errors.js';
export * from './retry.js';
export * from './config.js';
export * from './infra-config.js';
export * from './log.js';
export * from './metrics.js';
export * from './http.js';
export * from './kafka.js';
export * from './topics.js';
export * from './avro.js';
export * from './codecs.js';
export * from './dead-letters.js';
export * from './db.js';
export * from './migrate.js';
export * from './random.js';
export * from './processes.js';

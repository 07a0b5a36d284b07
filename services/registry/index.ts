/** The model registry's public entry point: queries (store.ts) and announcements on `models` (announce.ts). */
export * from './store.js';
export * from './announce.js';
export * from './retention.js';
export * from './changes.js';

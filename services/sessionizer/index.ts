/** The sessionizer's public entry: the pure fold of events into transitions, for in-process use. */
export { dueAt, expiredAt, flush, step, timerStep, type DeadLetterNote, type FoldResult } from './fold.js';
export { DEFAULT_SETTINGS, emptyUserState, type SessionizerSettings, type UserState } from './state.js';

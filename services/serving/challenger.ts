/**
 * Challenger traffic (DESIGN.md §4, the champion/challenger pattern of MLflow's registry aliases): beside the
 * live version, a node may hold the challenger the learner is measuring (learner/publisher.ts), and serves it to
 * a share of users. Which users is a pure function of the user id and the challenger's version: the same
 * user gets the same version on every page and every node while that challenger lasts (a session is never
 * split between two policies), and each new challenger draws another set of users. Its pages are logged
 * with the challenger's version, so its traffic is told apart in the events, transitions and registry.
 */
import type { LoadedVersion } from './model-slot.js';

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit integer. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Where `userId` falls in [0, 1) for the challenger `version`: uniform over users, fixed per (user, version). */
export function challengerDraw(userId: string, version: number): number {
  // A final avalanche (murmur3's), so that user ids differing in their last characters spread evenly.
  let h = fnv1a(`${version}:${userId}`);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * The challenger gets traffic when it is newer than the live version (a promoted candidate ends it), has a
 * share, and the live version is not pinned by an operator (a pin holds every user on the pinned version).
 */
export function challengerActive(live: LoadedVersion, challenger: LoadedVersion | null): challenger is LoadedVersion {
  return challenger !== null && !live.pinned && challenger.version > live.version && challenger.share > 0;
}

/** The version that answers `userId`: the active challenger when the user's draw falls within its share, else the live version. */
export function versionFor(userId: string, live: LoadedVersion, challenger: LoadedVersion | null): LoadedVersion {
  if (!challengerActive(live, challenger)) return live;
  return challengerDraw(userId, challenger.version) < challenger.share ? challenger : live;
}

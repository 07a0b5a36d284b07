/**
 * Producer API keys. A presented key is compared with every configured key in constant time: both sides
 * are hashed to SHA-256 first, so `timingSafeEqual` always compares equal-length digests and the time
 * taken says nothing about a key's length or content, nor about which key matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface Keyring<P> {
  /** The producer whose key was presented, undefined for a missing or wrong key. */
  authenticate(presented: string | undefined): P | undefined;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

export function createKeyring<P extends { readonly key: string }>(producers: readonly P[]): Keyring<P> {
  const entries = producers.map((producer) => ({ producer, digest: digest(producer.key) }));
  if (entries.length === 0) throw new RangeError('a keyring needs at least one key');
  return {
    authenticate(presented) {
      if (presented === undefined || presented === '') return undefined;
      const candidate = digest(presented);
      let match: P | undefined;
      for (const entry of entries) {
        // No early exit: every key is compared whichever matches.
        if (timingSafeEqual(candidate, entry.digest) && match === undefined) match = entry.producer;
      }
      return match;
    },
  };
}

/** The key from `x-api-key`, or from `authorization: Bearer <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers['x-api-key'];
  if (typeof header === 'string') return header;
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^bearer /i.test(auth)) return auth.slice(7).trim();
  return undefined;
}

import { describe, expect, it } from 'vitest';
import { announcementCodec } from '../../core/discovery/announcement.ts';
import { syncCodec } from '../../core/discovery/catalog-exchange.ts';
import { pingCodec } from '../../core/discovery/rtt-probe.ts';
import { nobleVerifier, type SignatureVerifier } from '../../core/identity/verifier.ts';
import { memoByObject } from '../../core/util/memo.ts';

describe('memoByObject', () => {
  it('makes one value per key object, by identity', () => {
    let made = 0;
    const tagOf = memoByObject((key: { readonly name: string }) => ({ tag: `${key.name}#${++made}` }));
    const a = { name: 'a' };
    const sameNameOtherObject = { name: 'a' };
    expect(tagOf(a)).toBe(tagOf(a));
    expect(tagOf(a).tag).toBe('a#1');
    expect(tagOf(sameNameOtherObject).tag).toBe('a#2');
    expect(made).toBe(2);
  });

  it('gives the discovery codecs once per verifier, so a node restart does not compile them again', () => {
    const other: SignatureVerifier = { verify: (peer, message, signature) => nobleVerifier.verify(peer, message, signature) };
    for (const codec of [announcementCodec, syncCodec, pingCodec] as ((v: SignatureVerifier) => unknown)[]) {
      expect(codec(nobleVerifier)).toBe(codec(nobleVerifier));
      expect(codec(other)).not.toBe(codec(nobleVerifier));
    }
  });
});

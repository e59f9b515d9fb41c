import { Digest } from 'mosaik';
import { describe, expect, it } from 'vitest';

describe('Digest', () => {
  it('hashes a non-hex string with blake3', () => {
    expect(Digest.from('abc').hex).toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  });
});

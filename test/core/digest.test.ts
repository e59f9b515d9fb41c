import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Digest } from 'mosaik';
import { describe, expect, it } from 'vitest';

const ABC = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85';
const EMPTY = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('Digest', () => {
  it('hashes a non-hex string with blake3', () => {
    expect(Digest.from('abc').hex).toBe(ABC);
  });

  it('hashes the empty string to blake3 of no bytes', () => {
    expect(Digest.from('').hex).toBe(EMPTY);
    expect(Digest.from(new Uint8Array(0)).hex).toBe(EMPTY);
  });

  it('takes a 64-hex string as the bytes it spells, in either case', () => {
    expect(Digest.from(ABC).bytes).toEqual(hexToBytes(ABC));
    expect(Digest.from(ABC.toUpperCase()).bytes).toEqual(hexToBytes(ABC));
    expect(Digest.from(ABC.toUpperCase()).hex).toBe(ABC);
    const mixed = 'AbCdEf0123456789'.repeat(4);
    expect(Digest.from(mixed).hex).toBe(mixed.toLowerCase());
  });

  it('hashes strings that are almost 64 hex characters', () => {
    for (const text of [ABC.slice(0, 63), `${ABC}0`, `${ABC.slice(0, 63)}g`, `${ABC.slice(0, 62)} 0`, `0x${ABC.slice(2)}`]) {
      expect(Digest.from(text).hex, text).toBe(bytesToHex(blake3(utf8(text))));
      expect(Digest.from(text).hex, text).not.toBe(text.toLowerCase());
    }
  });

  it('hashes bytes, even 32 of them', () => {
    const bytes = hexToBytes(ABC);
    expect(Digest.from(bytes).hex).toBe(bytesToHex(blake3(bytes)));
    expect(Digest.from(utf8('abc')).hex).toBe(ABC);
  });

  it('wraps exactly 32 bytes and copies them', () => {
    const bytes = hexToBytes(ABC);
    const d = Digest.wrap(bytes);
    expect(d.hex).toBe(ABC);
    bytes[0] = 0;
    expect(d.hex).toBe(ABC);
    for (const n of [0, 1, 31, 33, 64]) {
      expect(() => Digest.wrap(new Uint8Array(n)), `${n} bytes`).toThrow(TypeError);
    }
    expect(() => Digest.wrap('x'.repeat(32) as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('parseHex accepts only 64 hex characters', () => {
    expect(Digest.parseHex(ABC)?.hex).toBe(ABC);
    expect(Digest.parseHex(ABC.toUpperCase())?.hex).toBe(ABC);
    expect(Digest.parseHex(ABC.slice(1))).toBeUndefined();
    expect(Digest.parseHex(`${ABC}a`)).toBeUndefined();
    expect(Digest.parseHex('abc')).toBeUndefined();
  });

  it('derive(info) is blake3(self ‖ info)', () => {
    const base = Digest.from('network');
    const info = utf8('stream/orders');
    const expected = blake3(new Uint8Array([...base.bytes, ...info]));
    expect(base.derive('stream/orders').bytes).toEqual(expected);
    expect(base.derive(info).bytes).toEqual(expected);
    const other = Digest.from('other');
    expect(base.derive(other).bytes).toEqual(blake3(new Uint8Array([...base.bytes, ...other.bytes])));
    expect(base.derive('').bytes).toEqual(blake3(base.bytes));
    expect(base.derive('').equals(base.hashed())).toBe(true);
  });

  it('fromParts is blake3 of the concatenation', () => {
    const a = Digest.from('a');
    expect(Digest.fromParts(a, 'bc', new Uint8Array([1, 2])).bytes).toEqual(blake3(new Uint8Array([...a.bytes, ...utf8('bc'), 1, 2])));
    expect(Digest.fromParts().hex).toBe(EMPTY);
  });

  it('short is the first 10 hex characters', () => {
    const d = Digest.from('abc');
    expect(d.short).toBe(ABC.slice(0, 10));
    expect(d.short).toHaveLength(10);
    expect(d.toString()).toBe(ABC);
    expect(JSON.stringify({ d })).toBe(`{"d":"${ABC}"}`);
  });

  it('equals and compare follow the bytes', () => {
    const a = Digest.from('abc');
    const b = Digest.from(ABC);
    const zero = Digest.zero();
    const ff = Digest.wrap(new Uint8Array(32).fill(0xff));
    expect(a.equals(b)).toBe(true);
    expect(a.compare(b)).toBe(0);
    expect(a.equals(zero)).toBe(false);
    expect(zero.compare(a)).toBeLessThan(0);
    expect(a.compare(zero)).toBeGreaterThan(0);
    expect(ff.compare(a)).toBeGreaterThan(0);
    // Differs only in the last byte.
    const almost = Digest.wrap(Uint8Array.from([...a.bytes.subarray(0, 31), (a.bytes[31] as number) ^ 1]));
    expect(a.equals(almost)).toBe(false);
    expect(Math.sign(a.compare(almost))).toBe(-Math.sign(almost.compare(a)));
    const sorted = [ff, a, zero].sort((x, y) => x.compare(y)).map((d) => d.hex);
    expect(sorted).toEqual([zero.hex, a.hex, ff.hex]);
  });
});

/**
 * A small, strict DER reader and writer: enough ASN.1 for X.509 certificates (the PCK chain
 * of a TDX quote) and for building the simulated Intel CA's certificates. The reader is
 * total: any input that is not canonical DER (indefinite or non-minimal lengths, high tag
 * numbers, content past its parent) is a `DerError`, which callers turn into a rejection.
 */

/** Thrown by the reader on input that is not DER; callers catch it at their entry point. */
export class DerError extends Error {
  override readonly name = 'DerError';
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** `[n]` context-specific, constructed (EXPLICIT tagging). */
export function contextTag(n: number): number {
  return 0xa0 | n;
}

/** One TLV: `tag` is the identifier byte; the content is `buf[start..end)`; the whole TLV is `buf[headerStart..end)`. */
export interface DerNode {
  readonly tag: number;
  readonly buf: Uint8Array;
  readonly headerStart: number;
  readonly start: number;
  readonly end: number;
}

export function content(n: DerNode): Uint8Array {
  return n.buf.subarray(n.start, n.end);
}

/** The whole TLV's bytes (e.g. a Name, for comparison, or the TBSCertificate, for its signature). */
export function raw(n: DerNode): Uint8Array {
  return n.buf.subarray(n.headerStart, n.end);
}

/** Reads one TLV at `offset`, which must end at or before `limit`. */
export function readNode(buf: Uint8Array, offset: number, limit: number = buf.length): DerNode {
  if (offset + 2 > limit) throw new DerError(`truncated TLV at ${offset}`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag numbers are not supported (at ${offset})`);
  const first = buf[offset + 1] as number;
  let pos = offset + 2;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerError(`indefinite length at ${offset}`);
    if (count > 4) throw new DerError(`length of ${count} bytes at ${offset}`);
    if (pos + count > limit) throw new DerError(`truncated length at ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[pos + i] as number);
    if ((buf[pos] as number) === 0 || length < 0x80) throw new DerError(`non-minimal length at ${offset}`);
    pos += count;
  }
  if (pos + length > limit) throw new DerError(`content past its end at ${offset}: ${length} bytes`);
  return { tag, buf, headerStart: offset, start: pos, end: pos + length };
}

/** Parses `bytes` as exactly one TLV. */
export function readDer(bytes: Uint8Array): DerNode {
  const n = readNode(bytes, 0);
  if (n.end !== bytes.length) throw new DerError(`${bytes.length - n.end} trailing bytes`);
  return n;
}

/** The children of a constructed node, which must exactly fill it. */
export function children(n: DerNode): DerNode[] {
  if ((n.tag & 0x20) === 0) throw new DerError(`tag 0x${n.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  let pos = n.start;
  while (pos < n.end) {
    const c = readNode(n.buf, pos, n.end);
    out.push(c);
    pos = c.end;
  }
  return out;
}

/** `n` with tag `tag`, or a DerError naming `what`. */
export function expect(n: DerNode | undefined, tag: number, what: string): DerNode {
  if (n === undefined) throw new DerError(`${what}: missing`);
  if (n.tag !== tag) throw new DerError(`${what}: tag 0x${n.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return n;
}

/** Dotted text of an OBJECT IDENTIFIER node. */
export function readOid(n: DerNode): string {
  expect(n, TAG.OID, 'oid');
  const c = content(n);
  if (c.length === 0) throw new DerError('empty oid');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    const b = c[i] as number;
    if (v === 0 && b === 0x80) throw new DerError('non-minimal oid arc');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError('oid arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    } else if (i === c.length - 1) {
      throw new DerError('truncated oid');
    }
  }
  return arcs.join('.');
}

/** The bytes of a BIT STRING with no unused bits. */
export function readBitString(n: DerNode): Uint8Array {
  const c = content(expect(n, TAG.BIT_STRING, 'bit string'));
  if (c.length === 0 || c[0] !== 0) throw new DerError('bit string with unused bits');
  return c.subarray(1);
}

/** A non-negative INTEGER's magnitude, big-endian without leading zeros (DER-minimal). */
export function readUnsignedInteger(n: DerNode): Uint8Array {
  const c = content(expect(n, TAG.INTEGER, 'integer'));
  if (c.length === 0) throw new DerError('empty integer');
  if (c.length > 1 && ((c[0] === 0 && ((c[1] as number) & 0x80) === 0) || (c[0] === 0xff && ((c[1] as number) & 0x80) !== 0))) {
    throw new DerError('non-minimal integer');
  }
  if (((c[0] as number) & 0x80) !== 0) throw new DerError('negative integer');
  let i = 0;
  while (i < c.length - 1 && c[i] === 0) i++;
  return c.subarray(i);
}

/** A small non-negative INTEGER as a number. */
export function readSmallInteger(n: DerNode): number {
  const m = readUnsignedInteger(n);
  if (m.length > 6) throw new DerError('integer too large');
  let v = 0;
  for (const b of m) v = v * 256 + b;
  return v;
}

export function readBoolean(n: DerNode): boolean {
  const c = content(expect(n, TAG.BOOLEAN, 'boolean'));
  if (c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) throw new DerError('boolean must be 0x00 or 0xff');
  return c[0] === 0xff;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The inverse of daysFromCivil: [year, month 1-12, day 1-31]. */
function civilFromDays(z: number): [number, number, number] {
  const zz = z + 719468;
  const era = Math.floor(zz / 146097);
  const doe = zz - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [era * 400 + yoe + (m <= 2 ? 1 : 0), m, d];
}

const DAY_MS = 86_400_000;

/** A UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as wall-clock ms. */
export function readTime(n: DerNode): number {
  const text = String.fromCharCode(...content(n));
  let year: number;
  let rest: string;
  if (n.tag === TAG.UTC_TIME && /^\d{12}Z$/.test(text)) {
    const yy = Number(text.slice(0, 2));
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = text.slice(2);
  } else if (n.tag === TAG.GENERALIZED_TIME && /^\d{14}Z$/.test(text)) {
    year = Number(text.slice(0, 4));
    rest = text.slice(4);
  } else {
    throw new DerError(`bad time ${JSON.stringify(text)}`);
  }
  const [mo, d, h, mi, s] = [0, 2, 4, 6, 8].map((i) => Number(rest.slice(i, i + 2))) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) throw new DerError(`bad time ${JSON.stringify(text)}`);
  const days = daysFromCivil(year, mo, d);
  const [cy, cm, cd] = civilFromDays(days);
  if (cy !== year || cm !== mo || cd !== d) throw new DerError(`no such date ${JSON.stringify(text)}`);
  return days * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000;
}

// ---- the writer -------------------------------------------------------------------------------

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** One TLV. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const head = [tag, ...lengthBytes(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function seq(...parts: readonly Uint8Array[]): Uint8Array {
  return tlv(TAG.SEQUENCE, ...parts);
}

export function set(...parts: readonly Uint8Array[]): Uint8Array {
  return tlv(TAG.SET, ...parts);
}

/** A non-negative INTEGER from big-endian magnitude bytes (minimal form is produced). */
export function uintBytes(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  const body = m.length === 0 ? Uint8Array.of(0) : ((m[0] as number) & 0x80) !== 0 ? Uint8Array.of(0, ...m) : m;
  return tlv(TAG.INTEGER, body);
}

export function smallUint(v: number): Uint8Array {
  const bytes: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return uintBytes(Uint8Array.from(bytes));
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (v: number) => {
    const groups: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) groups.unshift(0x80 | (x & 0x7f));
    out.push(...groups);
  };
  push((arcs[0] as number) * 40 + (arcs[1] as number));
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, Uint8Array.from(out));
}

export function bitString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.BIT_STRING, Uint8Array.of(0), bytes);
}

export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(TAG.OCTET_STRING, bytes);
}

export function boolean(v: boolean): Uint8Array {
  return tlv(TAG.BOOLEAN, Uint8Array.of(v ? 0xff : 0));
}

export function utf8String(s: string): Uint8Array {
  return tlv(TAG.UTF8_STRING, new TextEncoder().encode(s));
}

export function explicit(n: number, inner: Uint8Array): Uint8Array {
  return tlv(contextTag(n), inner);
}

/** UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). Whole seconds. */
export function time(ms: number): Uint8Array {
  const days = Math.floor(ms / DAY_MS);
  const [y, mo, d] = civilFromDays(days);
  const secs = Math.floor((ms - days * DAY_MS) / 1000);
  const p2 = (v: number) => String(v).padStart(2, '0');
  const hms = `${p2(Math.floor(secs / 3600))}${p2(Math.floor(secs / 60) % 60)}${p2(secs % 60)}Z`;
  const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, ascii(`${p2(y % 100)}${p2(mo)}${p2(d)}${hms}`));
  return tlv(TAG.GENERALIZED_TIME, ascii(`${String(y).padStart(4, '0')}${p2(mo)}${p2(d)}${hms}`));
}

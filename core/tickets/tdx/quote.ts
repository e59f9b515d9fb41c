/**
 * The Intel TDX quote format (DCAP, `sgx_quote_4_t`/`sgx_quote_5_t`), parsed totally:
 * every offset is checked, and anything short, long or of an unknown kind is a `QuoteError`
 * with a reason, never an exception. All integers are little-endian.
 *
 * ```
 * v4: header (48) ‖ TD report body (584) ‖ u32 sigDataLen ‖ signature data
 * v5: header (48) ‖ u16 bodyType ‖ u32 bodySize ‖ body (584 TDX 1.0 | 648 TDX 1.5) ‖ u32 sigDataLen ‖ signature data
 *
 * header: u16 version (4|5), u16 attestation key type (2 = ECDSA P-256), u32 TEE type (0x81 = TDX),
 *         u16 reserved, u16 reserved, 16 QE vendor id, 20 user data
 * TD report body (offsets): 0 teeTcbSvn 16, 16 mrSeam 48, 64 mrSignerSeam 48, 112 seamAttributes 8,
 *         120 tdAttributes 8, 128 xfam 8, 136 mrTd 48, 184 mrConfigId 48, 232 mrOwner 48,
 *         280 mrOwnerConfig 48, 328 rtmr0..3 4×48, 520 reportData 64 [, 584 teeTcbSvn2 16, 600 mrServiceTd 48]
 * signature data: 64 ECDSA signature (r‖s) over the signed part, 64 attestation public key (x‖y),
 *         u16 certification data type (6), u32 size, then:
 *         QE report (384, an SGX report body: reportData at 320), 64 QE report signature,
 *         u16 QE auth data size, auth data, u16 certification data type (5 = PCK chain PEM), u32 size, PEM
 * ```
 *
 * The signed part is everything before `sigDataLen`: header and body (and, in v5, the body's type and size).
 */

export const QUOTE_HEADER_BYTES = 48;
export const TD_REPORT_BODY_BYTES = 584;
export const TD_REPORT_BODY_V15_BYTES = 648;
export const SGX_REPORT_BODY_BYTES = 384;
export const MEASUREMENT_BYTES = 48;
export const REPORT_DATA_BYTES = 64;
/** Largest quote parsed (bytes); real quotes are 5-8 KiB with their PEM chain. */
export const MAX_QUOTE_BYTES = 16 * 1024;

export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
export const TEE_TYPE_TDX = 0x81;
export const CERT_DATA_QE_REPORT = 6;
export const CERT_DATA_PCK_CHAIN = 5;
/** Intel's QE vendor id, 939a7233-f79c-4ca9-940a-0db3957f0607. */
export const INTEL_QE_VENDOR_ID = Uint8Array.of(0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07);

/** The measurement registers a validator checks. */
export interface Measurements {
  readonly mrtd: Uint8Array;
  /** RTMR0..3. */
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
}

export interface TdReportBody {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly measurements: Measurements;
  readonly reportData: Uint8Array;
}

export interface Quote {
  readonly version: 4 | 5;
  readonly header: Uint8Array;
  readonly body: TdReportBody;
  /** The bytes the attestation key signs: header ‖ [v5 type, size] ‖ body. */
  readonly signedPart: Uint8Array;
  /** ECDSA P-256, r‖s. */
  readonly signature: Uint8Array;
  /** The attestation public key, x‖y (64 bytes, no SEC1 prefix). */
  readonly attestationKey: Uint8Array;
  /** The quoting enclave's SGX report body (384 bytes). */
  readonly qeReport: Uint8Array;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** The PCK certificate chain as PEM text (leaf first). */
  readonly pckChainPem: string;
}

export type QuoteParse = { readonly ok: true; readonly quote: Quote } | { readonly ok: false; readonly detail: string };

class QuoteError {
  constructor(readonly detail: string) {}
}

/** A bounds-checked little-endian reader over one byte array. */
class Reader {
  #pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  get pos(): number {
    return this.#pos;
  }
  get left(): number {
    return this.bytes.length - this.#pos;
  }
  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.#pos + n > this.bytes.length) throw new QuoteError(`${what}: needs ${n} bytes at ${this.#pos}, has ${this.left}`);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  u16(what: string): number {
    const b = this.take(2, what);
    return (b[0] as number) | ((b[1] as number) << 8);
  }
  u32(what: string): number {
    const b = this.take(4, what);
    return ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16)) + (b[3] as number) * 0x1000000;
  }
}

function parseBody(body: Uint8Array): TdReportBody {
  const at = (o: number, n: number) => body.slice(o, o + n);
  return Object.freeze({
    teeTcbSvn: at(0, 16),
    mrSeam: at(16, 48),
    mrSignerSeam: at(64, 48),
    seamAttributes: at(112, 8),
    tdAttributes: at(120, 8),
    xfam: at(128, 8),
    mrConfigId: at(184, 48),
    mrOwner: at(232, 48),
    mrOwnerConfig: at(280, 48),
    measurements: Object.freeze({ mrtd: at(136, 48), rtmr: Object.freeze([at(328, 48), at(376, 48), at(424, 48), at(472, 48)] as const) }),
    reportData: at(520, 64),
  });
}

/** Parses a TDX quote (v4 or v5); never throws. No signature is checked here. */
export function parseQuote(bytes: Uint8Array): QuoteParse {
  if (bytes.length > MAX_QUOTE_BYTES) return { ok: false, detail: `quote of ${bytes.length} bytes exceeds ${MAX_QUOTE_BYTES}` };
  try {
    return { ok: true, quote: parse(Uint8Array.from(bytes)) };
  } catch (e) {
    if (e instanceof QuoteError) return { ok: false, detail: e.detail };
    throw e;
  }
}

function parse(bytes: Uint8Array): Quote {
  const r = new Reader(bytes);
  const header = r.take(QUOTE_HEADER_BYTES, 'header');
  const h = new Reader(header);
  const version = h.u16('version');
  const keyType = h.u16('attestation key type');
  const teeType = h.u32('tee type');
  if (version !== 4 && version !== 5) throw new QuoteError(`quote version ${version}, expected 4 or 5`);
  if (keyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) throw new QuoteError(`attestation key type ${keyType}, expected 2 (ECDSA P-256)`);
  if (teeType !== TEE_TYPE_TDX) throw new QuoteError(`TEE type 0x${teeType.toString(16)}, expected 0x81 (TDX)`);
  let body: Uint8Array;
  if (version === 4) {
    body = r.take(TD_REPORT_BODY_BYTES, 'TD report body');
  } else {
    const type = r.u16('body type');
    const size = r.u32('body size');
    const expected = type === 2 ? TD_REPORT_BODY_BYTES : type === 3 ? TD_REPORT_BODY_V15_BYTES : undefined;
    if (expected === undefined) throw new QuoteError(`v5 body type ${type}, expected 2 (TDX 1.0) or 3 (TDX 1.5)`);
    if (size !== expected) throw new QuoteError(`v5 body size ${size}, expected ${expected}`);
    body = r.take(size, 'TD report body');
  }
  const signedPart = bytes.slice(0, r.pos);
  const sigDataLen = r.u32('signature data length');
  if (sigDataLen !== r.left) throw new QuoteError(`signature data length ${sigDataLen}, but ${r.left} bytes follow`);
  const signature = r.take(64, 'quote signature');
  const attestationKey = r.take(64, 'attestation key');
  const certType = r.u16('certification data type');
  if (certType !== CERT_DATA_QE_REPORT) throw new QuoteError(`certification data type ${certType}, expected 6 (QE report)`);
  const certSize = r.u32('certification data size');
  if (certSize !== r.left) throw new QuoteError(`certification data size ${certSize}, but ${r.left} bytes follow`);
  const qeReport = r.take(SGX_REPORT_BODY_BYTES, 'QE report');
  const qeReportSignature = r.take(64, 'QE report signature');
  const authSize = r.u16('QE auth data size');
  const qeAuthData = r.take(authSize, 'QE auth data');
  const innerType = r.u16('inner certification data type');
  if (innerType !== CERT_DATA_PCK_CHAIN) throw new QuoteError(`inner certification data type ${innerType}, expected 5 (PCK chain)`);
  const innerSize = r.u32('inner certification data size');
  if (innerSize !== r.left) throw new QuoteError(`PCK chain size ${innerSize}, but ${r.left} bytes follow`);
  const pem = r.take(innerSize, 'PCK chain');
  let pckChainPem = '';
  for (const b of pem) {
    if (b > 0x7f) throw new QuoteError('PCK chain is not ASCII');
    pckChainPem += String.fromCharCode(b);
  }
  return Object.freeze({
    version,
    header: header.slice(),
    body: parseBody(body),
    signedPart,
    signature: signature.slice(),
    attestationKey: attestationKey.slice(),
    qeReport: qeReport.slice(),
    qeReportSignature: qeReportSignature.slice(),
    qeAuthData: qeAuthData.slice(),
    pckChainPem,
  });
}

// ---- building (for the simulated provider and tests) -----------------------------------------------

function le16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}
function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
}

/** A v4 header: ECDSA P-256, TDX, Intel's QE vendor id, zero user data. */
export function quoteHeaderV4(): Uint8Array {
  const h = new Uint8Array(QUOTE_HEADER_BYTES);
  h.set(le16(4), 0);
  h.set(le16(ATTESTATION_KEY_TYPE_ECDSA_P256), 2);
  h.set(le32(TEE_TYPE_TDX), 4);
  h.set(INTEL_QE_VENDOR_ID, 12);
  return h;
}

/** A TD report body with the given measurements and report data; other fields zero. */
export function tdReportBody(measurements: Measurements, reportData: Uint8Array): Uint8Array {
  const b = new Uint8Array(TD_REPORT_BODY_BYTES);
  b.set(measurements.mrtd.subarray(0, 48), 136);
  for (const [i, m] of measurements.rtmr.entries()) b.set(m.subarray(0, 48), 328 + 48 * i);
  b.set(reportData.subarray(0, 64), 520);
  return b;
}

/** The signature data of a v4 quote, from its parts (see the layout above). */
export function quoteSignatureData(parts: {
  readonly signature: Uint8Array;
  readonly attestationKey: Uint8Array;
  readonly qeReport: Uint8Array;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  readonly pckChainPem: Uint8Array;
}): Uint8Array {
  const inner = [le16(CERT_DATA_PCK_CHAIN), le32(parts.pckChainPem.length), parts.pckChainPem];
  const cert = [parts.qeReport, parts.qeReportSignature, le16(parts.qeAuthData.length), parts.qeAuthData, ...inner];
  const certLen = cert.reduce((n, p) => n + p.length, 0);
  const all = [parts.signature, parts.attestationKey, le16(CERT_DATA_QE_REPORT), le32(certLen), ...cert];
  const len = all.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(4 + len);
  out.set(le32(len), 0);
  let o = 4;
  for (const p of all) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { PeerEntry } from '../../discovery/peer-entry.ts';
import { MAX_TICKET_DATA_BYTES } from '../../discovery/peer-entry.ts';
import { InvalidArgumentError } from '../../errors.ts';
import { Digest } from '../../identity/digest.ts';
import { bytesToHex, concatBytes, equalBytes, tryHexToBytes } from '../../util/bytes.ts';
import { u64le } from '../encoding.ts';
import { accept, expiresAt, MAX_TIME_MS, reject, type TicketValidator, type ValidationResult } from '../ticket.ts';
import { MEASUREMENT_BYTES, type Measurements, parseQuote, type Quote } from './quote.ts';
import { decodeTdxTicketData, TDX_TICKET_CLASS, tdxReportData } from './ticket-data.ts';
import { type Certificate, parseCertificate, parsePemCertificates, verifyChain } from './x509.ts';

/** A 48-byte register value: bytes, or 96 hex characters. */
export type MeasurementInput = Uint8Array | string;

/** Required register values; unset registers match anything. */
export interface TdxMeasurementCriteria {
  readonly mrtd?: MeasurementInput;
  /** RTMR0..3; `undefined` entries (or a shorter array) leave those registers free. */
  readonly rtmr?: readonly (MeasurementInput | undefined)[];
}

export interface TdxValidatorOptions extends TdxMeasurementCriteria {
  /** Certificates the PCK chain must lead to: DER bytes or PEM text (e.g. Intel's SGX Root CA). At least one. */
  readonly trustedRoots: readonly (Uint8Array | string)[];
  /** Alternative criteria on top of the baseline (`mrtd`/`rtmr`): a quote must also match one of them, if any are given. */
  readonly variants?: readonly TdxMeasurementCriteria[];
  /** Oldest accepted quote, seconds: `now − quotedAt`. */
  readonly maxAgeS?: number;
  /** Quotes made before this wall-clock time (ms) are refused (`too-old`). */
  readonly notBeforeMs?: number;
  /** Longest ticket lifetime, seconds: `expiration − quotedAt`; a ticket that never expires fails it. */
  readonly maxLifetimeS?: number;
}

interface Criteria {
  readonly mrtd: Uint8Array | undefined;
  readonly rtmr: readonly (Uint8Array | undefined)[];
}

function measurement(v: MeasurementInput, what: string): Uint8Array {
  const bytes = typeof v === 'string' ? tryHexToBytes(v) : Uint8Array.from(v);
  if (bytes?.length !== MEASUREMENT_BYTES) throw new InvalidArgumentError(`TdxValidator: ${what} must be ${MEASUREMENT_BYTES} bytes (or 96 hex characters)`);
  return bytes;
}

function criteria(c: TdxMeasurementCriteria, what: string): Criteria {
  if (typeof c !== 'object' || c === null) throw new InvalidArgumentError(`TdxValidator: ${what} must be an object`);
  const rtmr = c.rtmr ?? [];
  if (!Array.isArray(rtmr)) throw new InvalidArgumentError(`TdxValidator: ${what}.rtmr must be an array`);
  if (rtmr.length > 4) throw new InvalidArgumentError(`TdxValidator: ${what}.rtmr has ${rtmr.length} entries, at most 4`);
  return {
    mrtd: c.mrtd === undefined ? undefined : measurement(c.mrtd, `${what}.mrtd`),
    rtmr: [0, 1, 2, 3].map((i) => {
      const m = rtmr[i];
      return m === undefined ? undefined : measurement(m, `${what}.rtmr[${i}]`);
    }),
  };
}

/** Which register of `m` differs from `c`, or undefined when all set registers match. */
function mismatch(c: Criteria, m: Measurements): string | undefined {
  if (c.mrtd !== undefined && !equalBytes(c.mrtd, m.mrtd)) return `mrtd is ${bytesToHex(m.mrtd)}`;
  for (let i = 0; i < 4; i++) {
    const want = c.rtmr[i];
    if (want !== undefined && !equalBytes(want, m.rtmr[i] as Uint8Array)) return `rtmr${i} is ${bytesToHex(m.rtmr[i] as Uint8Array)}`;
  }
  return undefined;
}

/** mosaik's criteria signature, with the same placeholders for unset registers. */
function criteriaSignature(c: Criteria): Digest {
  let d = Digest.from('mosaik.tee.tdx.measurements-criteria.v1').derive(c.mrtd ?? new Uint8Array(48).fill(9));
  for (let i = 0; i < 4; i++) d = d.derive(c.rtmr[i] ?? new Uint8Array(48).fill(i + 1));
  return d;
}

/** A duration option, seconds: absent, or a number in [0, MAX_TIME_MS / 1000]. */
function nonNegative(name: string, v: number | undefined): number | undefined {
  if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= MAX_TIME_MS / 1000)) {
    throw new InvalidArgumentError(`TdxValidator: ${name} must be a number of seconds in [0, ${MAX_TIME_MS / 1000}], got ${String(v)}`);
  }
  return v;
}

/** A time option, ms: absent, or an integer in [0, MAX_TIME_MS]. */
function timeMs(name: string, v: number | undefined): number | undefined {
  if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= MAX_TIME_MS)) {
    throw new InvalidArgumentError(`TdxValidator: ${name} must be an integer of ms in [0, ${MAX_TIME_MS}], got ${String(v)}`);
  }
  return v;
}

function rootCertificate(r: Uint8Array | string, i: number): Certificate {
  if (typeof r !== 'string' && !(r instanceof Uint8Array)) throw new InvalidArgumentError(`TdxValidator: trustedRoots[${i}] must be DER bytes or PEM text`);
  const ders = typeof r === 'string' ? parsePemCertificates(r) : [r];
  if (ders?.length !== 1) throw new InvalidArgumentError(`TdxValidator: trustedRoots[${i}] must be one certificate (DER or PEM)`);
  const cert = parseCertificate(ders[0] as Uint8Array);
  if (cert === undefined) throw new InvalidArgumentError(`TdxValidator: trustedRoots[${i}] does not parse as an X.509 certificate`);
  if (cert.publicKey === undefined) throw new InvalidArgumentError(`TdxValidator: trustedRoots[${i}] does not have a P-256 key`);
  return cert;
}

/** The attestation key's ECDSA P-256 signature over the quote's signed part. */
function quoteSignatureValid(q: Quote): boolean {
  try {
    return p256.verify(q.signature, q.signedPart, concatBytes(Uint8Array.of(4), q.attestationKey), { prehash: true, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}

/** QE report data = sha256(attestation key ‖ QE auth data) ‖ 32 zero bytes. */
function qeReportBindsKey(q: Quote): boolean {
  const rd = q.qeReport.subarray(320, 384);
  return equalBytes(rd.subarray(0, 32), sha256(concatBytes(q.attestationKey, q.qeAuthData))) && rd.subarray(32).every((b) => b === 0);
}

function qeReportSignedBy(q: Quote, leaf: Certificate): boolean {
  if (leaf.publicKey === undefined) return false;
  try {
    return p256.verify(q.qeReportSignature, q.qeReport, leaf.publicKey, { prehash: true, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}

/**
 * Validates TDX tickets (class `TDX_TICKET_CLASS`). The checks, in order, each with its code:
 *
 * 1. the envelope and the quote parse (`malformed`).
 * 2. the attestation key's signature over header and body (`bad-signature`).
 * 3. the QE report binds the attestation key, and the PCK leaf signed the QE report (`bad-qe-report`).
 * 4. the PCK chain leads to a trusted root (`untrusted-chain`), every certificate valid now (`certificate-expired`).
 *    mosaik skips this step, so it accepts a self-made quote; this validator does not.
 * 5. report data = `tdxReportData(ticket)`, and the ticket names this entry's peer and network (`wrong-binding`).
 * 6. the baseline registers, then one of the variants if any (`measurement-mismatch`).
 * 7. quotedAt not in the future (`not-yet-valid`); `maxAgeS`, `notBeforeMs` (`too-old`);
 *    `maxLifetimeS` (`lifetime-too-long`); the ticket's own expiration (`expired`).
 *
 * Accepts with the ticket's expiration.
 */
export class TdxValidator implements TicketValidator {
  readonly class: Digest = TDX_TICKET_CLASS;
  readonly signature: Digest;
  readonly #roots: readonly Certificate[];
  readonly #baseline: Criteria;
  readonly #variants: readonly Criteria[];
  readonly #maxAgeS: number | undefined;
  readonly #notBeforeMs: number | undefined;
  readonly #maxLifetimeS: number | undefined;

  /**
   * Throws an InvalidArgumentError naming the option for a bad configuration: no roots, a bad
   * root, register value or variant, `maxAgeS`/`maxLifetimeS` outside [0, MAX_TIME_MS / 1000] s,
   * `notBeforeMs` not an integer in [0, MAX_TIME_MS].
   */
  constructor(options: TdxValidatorOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('TdxValidator: options must be an object');
    if (!Array.isArray(options.trustedRoots) || options.trustedRoots.length === 0) {
      throw new InvalidArgumentError('TdxValidator: trustedRoots must be an array of at least one root');
    }
    this.#roots = options.trustedRoots.map(rootCertificate);
    this.#baseline = criteria(options, 'options');
    if (options.variants !== undefined && !Array.isArray(options.variants)) throw new InvalidArgumentError('TdxValidator: variants must be an array');
    this.#variants = (options.variants ?? []).map((v, i) => criteria(v, `variants[${i}]`));
    this.#maxAgeS = nonNegative('maxAgeS', options.maxAgeS);
    this.#notBeforeMs = timeMs('notBeforeMs', options.notBeforeMs);
    this.#maxLifetimeS = nonNegative('maxLifetimeS', options.maxLifetimeS);
    let d = this.class;
    const roots = this.#roots.map((r) => Digest.from(r.der)).sort((a, b) => a.compare(b));
    for (const r of roots) d = d.derive('root').derive(r);
    d = d.derive(criteriaSignature(this.#baseline));
    for (const v of this.#variants) d = d.derive('variant').derive(criteriaSignature(v));
    d = d.derive(u64le(Math.round((this.#maxAgeS ?? 0) * 1000)));
    d = d.derive(u64le(this.#notBeforeMs ?? 0));
    d = d.derive(u64le(Math.round((this.#maxLifetimeS ?? 0) * 1000)));
    this.signature = d;
  }

  validate(data: Uint8Array, entry: PeerEntry, nowMs: number): ValidationResult {
    if (data.length > MAX_TICKET_DATA_BYTES) return reject('oversized', `TDX ticket of ${data.length} bytes exceeds ${MAX_TICKET_DATA_BYTES}`);
    const decoded = decodeTdxTicketData(data);
    if (!decoded.ok) return reject('malformed', `TDX ticket: ${decoded.detail}`);
    const ticket = decoded.value;
    const parsed = parseQuote(ticket.quote);
    if (!parsed.ok) return reject('malformed', `TDX quote: ${parsed.detail}`);
    const q = parsed.quote;

    if (!quoteSignatureValid(q)) return reject('bad-signature', 'the attestation key signature over the quote does not verify');
    if (!qeReportBindsKey(q)) return reject('bad-qe-report', 'the QE report data is not sha256(attestation key ‖ QE auth data)');
    const chain = parsePemCertificates(q.pckChainPem);
    if (chain === undefined) return reject('malformed', 'the PCK certificate chain is not PEM');
    const verified = verifyChain(chain, this.#roots, nowMs);
    if (!verified.ok) return reject(verified.code, `PCK chain: ${verified.detail}`);
    if (!qeReportSignedBy(q, verified.leaf)) return reject('bad-qe-report', 'the QE report signature does not verify with the PCK key');

    if (!equalBytes(q.body.reportData, tdxReportData(ticket)))
      return reject('wrong-binding', 'the report data does not bind this ticket’s peer, network and times');
    if (!ticket.peerId.equals(entry.peerId)) return reject('wrong-binding', `ticket is for peer ${ticket.peerId.short}, not ${entry.peerId.short}`);
    if (!ticket.network.equals(entry.network)) return reject('wrong-binding', `ticket is for network ${ticket.network.short}, not ${entry.network.short}`);

    const m = q.body.measurements;
    const baseline = mismatch(this.#baseline, m);
    if (baseline !== undefined) return reject('measurement-mismatch', baseline);
    if (this.#variants.length > 0 && this.#variants.every((v) => mismatch(v, m) !== undefined)) {
      return reject('measurement-mismatch', `measurements match none of the ${this.#variants.length} variants`);
    }

    if (ticket.quotedAtMs > nowMs) return reject('not-yet-valid', `quoted at ${ticket.quotedAtMs}, after now ${nowMs}`);
    if (this.#maxAgeS !== undefined && nowMs - ticket.quotedAtMs > this.#maxAgeS * 1000) {
      return reject('too-old', `quoted ${(nowMs - ticket.quotedAtMs) / 1000} s ago, more than maxAgeS ${this.#maxAgeS}`);
    }
    if (this.#notBeforeMs !== undefined && ticket.quotedAtMs < this.#notBeforeMs) {
      return reject('too-old', `quoted at ${ticket.quotedAtMs}, before notBeforeMs ${this.#notBeforeMs}`);
    }
    const exp = ticket.expiration;
    if (this.#maxLifetimeS !== undefined) {
      if (exp.kind === 'never') return reject('lifetime-too-long', `a ticket that never expires exceeds maxLifetimeS ${this.#maxLifetimeS}`);
      if (exp.atMs - ticket.quotedAtMs > this.#maxLifetimeS * 1000) {
        return reject('lifetime-too-long', `lives ${(exp.atMs - ticket.quotedAtMs) / 1000} s from its quote, more than ${this.#maxLifetimeS}`);
      }
    }
    if (exp.kind === 'at' && exp.atMs <= nowMs) return reject('expired', `expired at ${exp.atMs}, now ${nowMs}`);
    // The acceptance lasts until the first of: the ticket's expiration, the quote passing
    // maxAgeS, a certificate of the chain passing its notAfter. A check after that refuses
    // (`expired`, `too-old`, `certificate-expired`), so nothing should trust it longer.
    let until = verified.validUntilMs;
    if (this.#maxAgeS !== undefined) until = Math.min(until, ticket.quotedAtMs + this.#maxAgeS * 1000);
    if (exp.kind === 'at') until = Math.min(until, exp.atMs);
    return accept(expiresAt(until));
  }
}

import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Ticket } from '../../discovery/peer-entry.ts';
import { concatBytes, utf8 } from '../../util/bytes.ts';
import { base64Encode } from '../encoding.ts';
import { bitString, boolean, explicit, octetString, oid, seq, set, smallUint, time, uintBytes, utf8String } from './der.ts';
import { type Measurements, quoteHeaderV4, quoteSignatureData, SGX_REPORT_BODY_BYTES, tdReportBody } from './quote.ts';
import { type TdxBinding, tdxReportData, tdxTicket } from './ticket-data.ts';
import { OID } from './x509.ts';

/**
 * A simulated Intel attestation hierarchy that produces genuine-looking TDX quotes, so tests
 * and the simulator run the validator's full verification path: a root CA (self-signed), an
 * intermediate "platform CA", and per platform a PCK leaf certificate, a quoting-enclave
 * report signed by the PCK key, and an attestation key that signs each quote. Everything is
 * derived from seeds (P-256 keys via sha256, RFC 6979 signatures), so it is deterministic:
 * the same seeds always give byte-identical certificates and quotes.
 *
 * A validator trusts it by listing `intel.rootCertificate` in `trustedRoots`; a hierarchy
 * from another seed is a forger whose quotes fail with `untrusted-chain`.
 */

/** Certificate validity: from the epoch to the end of 2049, so both simulated and real clocks fall inside. */
export const SIM_CERT_NOT_BEFORE_MS = 0;
export const SIM_CERT_NOT_AFTER_MS = 2_524_607_999_000;

export interface SimulatedCertOptions {
  readonly notBeforeMs?: number;
  readonly notAfterMs?: number;
}

/** A P-256 secret key from a seed and label (retrying the rare invalid scalar). */
function secretKeyFrom(seed: string, label: string): Uint8Array {
  for (let i = 0; ; i++) {
    const sk = sha256(utf8(`mosaik.sim.tdx/${seed}/${label}/${i}`));
    if (p256.utils.isValidSecretKey(sk)) return sk;
  }
}

function name(commonName: string): Uint8Array {
  return seq(set(seq(oid(OID.organizationName), utf8String('Intel Corporation (simulated)'))), set(seq(oid(OID.commonName), utf8String(commonName))));
}

interface CertSpec {
  readonly serialSeed: string;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly ca: boolean;
  readonly pathLen?: number;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly signingKey: Uint8Array;
}

/** Builds and signs an X.509 v3 certificate (ecdsa-with-SHA256, P-256 key). */
function certificate(spec: CertSpec): Uint8Array {
  const serial = sha256(utf8(spec.serialSeed)).slice(0, 16);
  serial[0] = (serial[0] as number) & 0x7f;
  const sigAlg = seq(oid(OID.ecdsaWithSha256));
  const basic = spec.ca ? seq(boolean(true), ...(spec.pathLen !== undefined ? [smallUint(spec.pathLen)] : [])) : seq();
  // keyUsage: CAs keyCertSign + cRLSign (bits 5, 6); the leaf digitalSignature + nonRepudiation (bits 0, 1).
  const usage = spec.ca ? bitStringWithUnused(1, 0x06) : bitStringWithUnused(6, 0xc0);
  const extensions = seq(seq(oid(OID.basicConstraints), boolean(true), octetString(basic)), seq(oid(OID.keyUsage), boolean(true), octetString(usage)));
  const tbs = seq(
    explicit(0, smallUint(2)),
    uintBytes(serial),
    sigAlg,
    spec.issuer,
    seq(time(spec.notBeforeMs), time(spec.notAfterMs)),
    spec.subject,
    seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), bitString(spec.publicKey)),
    explicit(3, extensions),
  );
  const signature = p256.sign(tbs, spec.signingKey, { prehash: true, format: 'der' });
  return seq(tbs, sigAlg, bitString(signature));
}

function bitStringWithUnused(unused: number, byte: number): Uint8Array {
  return Uint8Array.of(0x03, 0x02, unused, byte);
}

/** PEM text of one DER certificate. */
export function certificatePem(der: Uint8Array): string {
  const b64 = base64Encode(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** The simulated Intel root and intermediate CA. */
export class SimulatedIntel {
  readonly seed: string;
  /** The root certificate (DER): what validators list in `trustedRoots`. */
  readonly rootCertificate: Uint8Array;
  readonly intermediateCertificate: Uint8Array;
  readonly #intermediateKey: Uint8Array;
  readonly #intermediateName: Uint8Array;
  readonly #certOptions: Required<SimulatedCertOptions>;

  private constructor(seed: string, options: SimulatedCertOptions) {
    this.seed = seed;
    this.#certOptions = { notBeforeMs: options.notBeforeMs ?? SIM_CERT_NOT_BEFORE_MS, notAfterMs: options.notAfterMs ?? SIM_CERT_NOT_AFTER_MS };
    const rootKey = secretKeyFrom(seed, 'root');
    const rootName = name(`Simulated Intel SGX Root CA (${seed})`);
    this.rootCertificate = certificate({
      serialSeed: `${seed}/root`,
      issuer: rootName,
      subject: rootName,
      publicKey: p256.getPublicKey(rootKey, false),
      ca: true,
      pathLen: 1,
      signingKey: rootKey,
      ...this.#certOptions,
    });
    this.#intermediateKey = secretKeyFrom(seed, 'platform-ca');
    this.#intermediateName = name(`Simulated Intel SGX PCK Platform CA (${seed})`);
    this.intermediateCertificate = certificate({
      serialSeed: `${seed}/platform-ca`,
      issuer: rootName,
      subject: this.#intermediateName,
      publicKey: p256.getPublicKey(this.#intermediateKey, false),
      ca: true,
      pathLen: 0,
      signingKey: rootKey,
      ...this.#certOptions,
    });
  }

  /** A deterministic hierarchy; two calls with the same seed and options are byte-identical. */
  static fromSeed(seed: string, options: SimulatedCertOptions = {}): SimulatedIntel {
    return new SimulatedIntel(seed, options);
  }

  get rootPem(): string {
    return certificatePem(this.rootCertificate);
  }

  /** A TDX machine with its own PCK certificate (validity defaults to the CA's). */
  platform(platformSeed: string, pck: SimulatedCertOptions = {}): SimulatedTdxPlatform {
    const pckKey = secretKeyFrom(`${this.seed}/${platformSeed}`, 'pck');
    const leaf = certificate({
      serialSeed: `${this.seed}/${platformSeed}/pck`,
      issuer: this.#intermediateName,
      subject: name(`Simulated Intel SGX PCK Certificate (${platformSeed})`),
      publicKey: p256.getPublicKey(pckKey, false),
      ca: false,
      signingKey: this.#intermediateKey,
      notBeforeMs: pck.notBeforeMs ?? this.#certOptions.notBeforeMs,
      notAfterMs: pck.notAfterMs ?? this.#certOptions.notAfterMs,
    });
    const chainPem = certificatePem(leaf) + certificatePem(this.intermediateCertificate) + certificatePem(this.rootCertificate);
    return new SimulatedTdxPlatform(`${this.seed}/${platformSeed}`, pckKey, chainPem);
  }
}

/** One simulated TDX machine: its quoting enclave signs quotes for any report data and measurements. */
export class SimulatedTdxPlatform {
  /** The PCK chain as it appears in quotes: leaf, intermediate, root, then a NUL (as Intel's). */
  readonly pckChainPem: string;
  readonly #attestationKey: Uint8Array;
  readonly #attestationPublic: Uint8Array;
  readonly #qeAuthData: Uint8Array;
  readonly #qeReport: Uint8Array;
  readonly #qeReportSignature: Uint8Array;

  constructor(seed: string, pckKey: Uint8Array, chainPem: string) {
    this.pckChainPem = `${chainPem}\0`;
    this.#attestationKey = secretKeyFrom(seed, 'attestation-key');
    this.#attestationPublic = p256.getPublicKey(this.#attestationKey, false).subarray(1);
    this.#qeAuthData = Uint8Array.from({ length: 32 }, (_, i) => i);
    const qeReport = new Uint8Array(SGX_REPORT_BODY_BYTES);
    qeReport.set(sha256(concatBytes(this.#attestationPublic, this.#qeAuthData)), 320);
    this.#qeReport = qeReport;
    this.#qeReportSignature = p256.sign(qeReport, pckKey, { prehash: true, format: 'compact' });
  }

  /** A v4 quote over `reportData` (64 bytes) for a TD with `measurements`. */
  quote(reportData: Uint8Array, measurements: Measurements): Uint8Array {
    const signedPart = concatBytes(quoteHeaderV4(), tdReportBody(measurements, reportData));
    const signature = p256.sign(signedPart, this.#attestationKey, { prehash: true, format: 'compact' });
    return concatBytes(
      signedPart,
      quoteSignatureData({
        signature,
        attestationKey: this.#attestationPublic,
        qeReport: this.#qeReport,
        qeReportSignature: this.#qeReportSignature,
        qeAuthData: this.#qeAuthData,
        pckChainPem: Uint8Array.from(this.pckChainPem, (c) => c.charCodeAt(0)),
      }),
    );
  }

  /** A ticket whose quote binds `binding` (see `tdxReportData`). */
  ticket(binding: TdxBinding, measurements: Measurements): Ticket {
    return tdxTicket({ ...binding, quote: this.quote(tdxReportData(binding), measurements) });
  }
}

/** Deterministic measurements from a label: each register is sha256-derived, 48 bytes. */
export function simulatedMeasurements(label: string): Measurements {
  const reg = (r: string) => concatBytes(sha256(utf8(`${label}/${r}/a`)), sha256(utf8(`${label}/${r}/b`)).subarray(0, 16));
  return Object.freeze({ mrtd: reg('mrtd'), rtmr: Object.freeze([reg('rtmr0'), reg('rtmr1'), reg('rtmr2'), reg('rtmr3')] as const) });
}

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.ts';
import { readDer } from '../../core/tickets/tdx/der.ts';
import { parseQuote, QUOTE_HEADER_BYTES, TD_REPORT_BODY_BYTES } from '../../core/tickets/tdx/quote.ts';
import { certificatePem, SIM_CERT_NOT_AFTER_MS, SimulatedIntel, simulatedMeasurements } from '../../core/tickets/tdx/sim-provider.ts';
import { decodeTdxTicketData, encodeTdxTicketData, TDX_TICKET_CLASS, type TdxBinding, tdxReportData, tdxTicket } from '../../core/tickets/tdx/ticket-data.ts';
import { TdxValidator, type TdxValidatorOptions } from '../../core/tickets/tdx/validator.ts';
import { parseCertificate, parsePemCertificates, verifyChain } from '../../core/tickets/tdx/x509.ts';
import { expiresAt, MAX_TIME_MS, NEVER, type Ticket } from '../../core/tickets/ticket.ts';
import { faultyTdxTicket, TDX_FAULT_REJECTIONS, TDX_FAULTS } from '../../net-sim/attestation.ts';
import { ALICE, BOB, codeOf, entryOf, NETWORK, NOW_MS } from './fixtures.ts';

const intel = SimulatedIntel.fromSeed('intel');
const machine = intel.platform('machine-1');
const good = simulatedMeasurements('good-td');

const binding = (over: Partial<TdxBinding> = {}): TdxBinding => ({
  peerId: ALICE,
  network: NETWORK,
  startedAtMs: NOW_MS - 60_000,
  quotedAtMs: NOW_MS - 1_000,
  expiration: expiresAt(NOW_MS + 3_600_000),
  ...over,
});
const genuine = machine.ticket(binding(), good);

function validator(options: Partial<TdxValidatorOptions> = {}): TdxValidator {
  return new TdxValidator({ trustedRoots: [intel.rootCertificate], mrtd: good.mrtd, rtmr: [good.rtmr[0], undefined, good.rtmr[2]], ...options });
}

function codeFor(ticket: Ticket | Uint8Array, options: Partial<TdxValidatorOptions> = {}, peer = ALICE, nowMs = NOW_MS, network = NETWORK) {
  const data = ticket instanceof Uint8Array ? ticket : ticket.data;
  return codeOf(validator(options).validate(data, entryOf(peer, [], network), nowMs));
}

/** Decodes a ticket, lets `edit` change its parts, and re-encodes it without a new quote. */
function edited(ticket: Ticket, edit: (d: ReturnType<typeof unwrap>) => ReturnType<typeof unwrap>): Ticket {
  return tdxTicket(edit(unwrap(ticket)));
}
function unwrap(ticket: Ticket) {
  const d = decodeTdxTicketData(ticket.data);
  if (!d.ok) throw new Error(d.detail);
  return d.value;
}
/** An edit that flips the low bit of the quote byte at `offset`. */
function flip(offset: number): (q: Uint8Array) => void {
  return (q) => {
    q[offset] = (q[offset] as number) ^ 1;
  };
}
function editQuote(ticket: Ticket, edit: (q: Uint8Array) => void): Ticket {
  return edited(ticket, (d) => {
    const quote = Uint8Array.from(d.quote);
    edit(quote);
    return { ...d, quote };
  });
}

describe('TdxValidator: the genuine path', () => {
  it('accepts a quote from the simulated hierarchy, until the first of its expiration, its max age and its certificates', () => {
    expect(genuine.class.equals(TDX_TICKET_CLASS)).toBe(true);
    const v = (options: Parameters<typeof validator>[0]) => validator(options).validate(genuine.data, entryOf(ALICE), NOW_MS);
    // The ticket's own expiration (an hour) comes first.
    expect(v({ notBeforeMs: NOW_MS - 10_000, maxLifetimeS: 7200 })).toEqual({ ok: true, expiration: { kind: 'at', atMs: NOW_MS + 3_600_000 } });
    // maxAgeS ends it earlier: quoted 1 s before now, 60 s of age allowed.
    expect(v({ maxAgeS: 60 })).toEqual({ ok: true, expiration: { kind: 'at', atMs: NOW_MS - 1_000 + 60_000 } });
  });

  it('a ticket that never expires (no maxLifetimeS) is accepted until its certificates expire', () => {
    const t = machine.ticket(binding({ expiration: NEVER }), good);
    expect(validator().validate(t.data, entryOf(ALICE), NOW_MS)).toEqual({ ok: true, expiration: { kind: 'at', atMs: SIM_CERT_NOT_AFTER_MS } });
  });

  it('accepts when one of the variants matches, and trusts a root given as PEM', () => {
    const other = simulatedMeasurements('other-build');
    const options = { mrtd: undefined, rtmr: [], variants: [{ mrtd: other.mrtd }, { mrtd: good.mrtd, rtmr: [undefined, good.rtmr[1]] }] };
    expect(codeFor(genuine, options)).toBe('ok');
    expect(codeFor(genuine, { trustedRoots: [intel.rootPem] })).toBe('ok');
    const hex = Buffer.from(good.mrtd).toString('hex');
    expect(codeFor(genuine, { mrtd: hex, rtmr: [] })).toBe('ok');
  });

  it('parses the quote layout: v4 header, body registers, report data, signature data', () => {
    const q = parseQuote(unwrap(genuine).quote);
    if (!q.ok) throw new Error(q.detail);
    expect(q.quote.version).toBe(4);
    expect(q.quote.body.measurements.mrtd).toEqual(good.mrtd);
    expect(q.quote.body.measurements.rtmr).toEqual(good.rtmr);
    expect(q.quote.body.reportData).toEqual(tdxReportData(binding()));
    expect(q.quote.signedPart.length).toBe(QUOTE_HEADER_BYTES + TD_REPORT_BODY_BYTES);
    expect(q.quote.qeAuthData.length).toBe(32);
    expect(parsePemCertificates(q.quote.pckChainPem)?.length).toBe(3);
  });

  it('parses a v5 quote (body type 2) to the same registers', () => {
    const v4 = unwrap(genuine).quote;
    const header = Uint8Array.from(v4.subarray(0, 48));
    header[0] = 5;
    const typeSize = Uint8Array.of(2, 0, 0x48, 0x02, 0, 0); // type 2, size 584
    const v5 = Uint8Array.from([...header, ...typeSize, ...v4.subarray(48)]);
    const q = parseQuote(v5);
    if (!q.ok) throw new Error(q.detail);
    expect(q.quote.version).toBe(5);
    expect(q.quote.body.measurements.mrtd).toEqual(good.mrtd);
    expect(q.quote.signedPart.length).toBe(48 + 6 + 584);
  });

  it('is deterministic: the same seeds give byte-identical certificates and tickets', () => {
    const again = SimulatedIntel.fromSeed('intel');
    expect(again.rootCertificate).toEqual(intel.rootCertificate);
    expect(again.platform('machine-1').ticket(binding(), good).data).toEqual(genuine.data);
    expect(SimulatedIntel.fromSeed('other').rootCertificate).not.toEqual(intel.rootCertificate);
  });
});

describe('TdxValidator: rejections, each by its code', () => {
  it('oversized and malformed envelopes', () => {
    expect(codeFor(new Uint8Array(17 * 1024))).toBe('oversized');
    expect(codeFor(Uint8Array.of(1, 2, 3))).toBe('malformed');
    expect(codeFor(new Uint8Array(0))).toBe('malformed');
    const d = unwrap(genuine);
    const wrongVersion = encodeTdxTicketData(d);
    wrongVersion[1] = 2; // [1, ...] → [2, ...]
    expect(codeFor(wrongVersion)).toBe('malformed');
  });

  it('malformed: every truncation of the quote, without a throw', () => {
    const quote = unwrap(genuine).quote;
    for (let n = 0; n < quote.length; n++) {
      const r = parseQuote(quote.subarray(0, n));
      if (r.ok) throw new Error(`a ${n}-byte prefix parsed`);
    }
    for (const n of [0, 47, 48, 631, 636, 700, 1100, quote.length - 1]) {
      expect(codeFor(edited(genuine, (x) => ({ ...x, quote: quote.slice(0, n) }))), `${n} bytes`).toBe('malformed');
    }
  });

  it('malformed: wrong version, key type, TEE type, certification data types', () => {
    const cases: [number, number][] = [
      [0, 3], // version 3 (SGX)
      [2, 3], // attestation key type
      [4, 0x00], // TEE type 0x00 (SGX)
      [QUOTE_HEADER_BYTES + TD_REPORT_BODY_BYTES + 4 + 128, 5], // certification data type 5 instead of 6
    ];
    for (const [offset, value] of cases) {
      expect(codeFor(editQuote(genuine, (q) => (q[offset] = value))), `offset ${offset}`).toBe('malformed');
    }
  });

  it('never throws on any single-byte corruption of the ticket', () => {
    const data = genuine.data;
    const codes = new Map<string, number>();
    const v = validator();
    for (let i = 0; i < data.length; i += 29) {
      const copy = Uint8Array.from(data);
      copy[i] = (copy[i] as number) ^ 0x5a;
      const code = codeOf(v.validate(copy, entryOf(ALICE), NOW_MS));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes.get('ok') ?? 0).toBe(0);
    expect([...codes.keys()].sort()).toEqual(expect.arrayContaining(['bad-signature', 'malformed']));
  });

  it('bad-signature: the body edited after signing (a tampered measurement)', () => {
    expect(codeFor(editQuote(genuine, flip(QUOTE_HEADER_BYTES + 136)))).toBe('bad-signature');
    // Header bytes are signed too.
    expect(codeFor(editQuote(genuine, flip(30)))).toBe('bad-signature');
  });

  it('bad-qe-report: the QE report does not bind the attestation key, or its PCK signature fails', () => {
    const sigData = QUOTE_HEADER_BYTES + TD_REPORT_BODY_BYTES + 4;
    const qeReport = sigData + 128 + 6;
    const authData = qeReport + 384 + 64 + 2;
    expect(codeFor(editQuote(genuine, flip(authData)))).toBe('bad-qe-report');
    expect(codeFor(editQuote(genuine, flip(qeReport)))).toBe('bad-qe-report');
    expect(codeFor(editQuote(genuine, flip(qeReport + 384)))).toBe('bad-qe-report');
  });

  it('untrusted-chain: a forged quote from a self-made hierarchy (which mosaik would accept)', () => {
    const forger = SimulatedIntel.fromSeed('forger').platform('evil');
    const forged = forger.ticket(binding(), good);
    expect(codeFor(forged)).toBe('untrusted-chain');
    // The forgery is internally consistent: it passes when its own root is trusted.
    expect(codeFor(forged, { trustedRoots: [SimulatedIntel.fromSeed('forger').rootCertificate] })).toBe('ok');
  });

  it('untrusted-chain: a genuine quote checked against another root', () => {
    expect(codeFor(genuine, { trustedRoots: [SimulatedIntel.fromSeed('not-intel').rootCertificate] })).toBe('untrusted-chain');
  });

  it('untrusted-chain: a PCK chain whose intermediate was swapped for another hierarchy’s', () => {
    const other = SimulatedIntel.fromSeed('other');
    const chain = parsePemCertificates(machine.pckChainPem) as Uint8Array[];
    const swapped = [chain[0], other.intermediateCertificate, intel.rootCertificate] as Uint8Array[];
    const r = verifyChain(
      swapped,
      [parseCertificate(intel.rootCertificate)].filter((c) => c !== undefined),
      NOW_MS,
    );
    expect(r).toMatchObject({ ok: false, code: 'untrusted-chain' });
  });

  it('certificate-expired: the PCK certificate is outside its validity period', () => {
    const stale = intel.platform('machine-2', { notAfterMs: NOW_MS - 1 }).ticket(binding(), good);
    expect(codeFor(stale)).toBe('certificate-expired');
    const early = intel.platform('machine-3', { notBeforeMs: NOW_MS + 86_400_000 }).ticket(binding(), good);
    expect(codeFor(early)).toBe('certificate-expired');
  });

  it('wrong-binding: a ticket copied to another peer, rebound, for another network, or with edited times', () => {
    expect(codeFor(genuine, {}, BOB)).toBe('wrong-binding');
    expect(
      codeFor(
        edited(genuine, (d) => ({ ...d, peerId: BOB })),
        {},
        BOB,
      ),
    ).toBe('wrong-binding');
    expect(codeFor(genuine, {}, ALICE, NOW_MS, NETWORK.derive('x'))).toBe('wrong-binding');
    expect(codeFor(edited(genuine, (d) => ({ ...d, expiration: expiresAt(NOW_MS + 365 * 86_400_000) })))).toBe('wrong-binding');
    expect(codeFor(edited(genuine, (d) => ({ ...d, quotedAtMs: d.quotedAtMs + 1 })))).toBe('wrong-binding');
    expect(codeFor(edited(genuine, (d) => ({ ...d, startedAtMs: d.startedAtMs - 1 })))).toBe('wrong-binding');
  });

  it('measurement-mismatch: MRTD, an RTMR, or none of the variants', () => {
    const rogue = simulatedMeasurements('rogue');
    expect(codeFor(machine.ticket(binding(), { ...good, mrtd: rogue.mrtd }))).toBe('measurement-mismatch');
    expect(codeFor(machine.ticket(binding(), { ...good, rtmr: [good.rtmr[0], good.rtmr[1], rogue.rtmr[2], good.rtmr[3]] }))).toBe('measurement-mismatch');
    // rtmr1 is not required by the baseline, so a different rtmr1 passes.
    expect(codeFor(machine.ticket(binding(), { ...good, rtmr: [good.rtmr[0], rogue.rtmr[1], good.rtmr[2], good.rtmr[3]] }))).toBe('ok');
    expect(codeFor(genuine, { variants: [{ mrtd: rogue.mrtd }, { rtmr: [rogue.rtmr[0]] }] })).toBe('measurement-mismatch');
  });

  it('not-yet-valid: a quote dated in the future', () => {
    expect(codeFor(machine.ticket(binding({ quotedAtMs: NOW_MS + 5_000 }), good))).toBe('not-yet-valid');
  });

  it('too-old: older than maxAgeS, or quoted before notBeforeMs', () => {
    const old = machine.ticket(binding({ quotedAtMs: NOW_MS - 120_000, startedAtMs: NOW_MS - 200_000 }), good);
    expect(codeFor(old, { maxAgeS: 60 })).toBe('too-old');
    expect(codeFor(old, { maxAgeS: 120 })).toBe('ok');
    expect(codeFor(old, { notBeforeMs: NOW_MS - 100_000 })).toBe('too-old');
  });

  it('lifetime-too-long: past maxLifetimeS from the quote, or never expiring', () => {
    expect(codeFor(genuine, { maxLifetimeS: 3600 })).toBe('lifetime-too-long');
    expect(codeFor(genuine, { maxLifetimeS: 3601 })).toBe('ok');
    expect(codeFor(machine.ticket(binding({ expiration: NEVER }), good), { maxLifetimeS: 1e9 })).toBe('lifetime-too-long');
  });

  it('expired: the ticket’s own expiration has passed', () => {
    expect(codeFor(genuine, {}, ALICE, NOW_MS + 3_600_000)).toBe('expired');
    expect(codeFor(genuine, {}, ALICE, NOW_MS + 3_599_999)).toBe('ok');
  });
});

describe('simulated attestation faults (net-sim/attestation.ts)', () => {
  const bobsBinding = binding({ peerId: BOB });
  const alicesTicket = genuine;
  for (const fault of TDX_FAULTS) {
    it(`${fault} is refused with ${TDX_FAULT_REJECTIONS[fault]}`, () => {
      const t = faultyTdxTicket(fault, { platform: machine, measurements: good, binding: bobsBinding, victimTicket: alicesTicket });
      expect(codeFor(t, { maxAgeS: 3600 }, BOB)).toBe(TDX_FAULT_REJECTIONS[fault]);
    });
  }
  it('an honest ticket built the same way is accepted', () => {
    expect(codeFor(machine.ticket(bobsBinding, good), { maxAgeS: 3600 }, BOB)).toBe('ok');
  });
});

describe('X.509: the DER reader and the chain check', () => {
  it('simulated certificates are valid X.509 as OpenSSL (node:crypto) reads them', () => {
    const chain = (parsePemCertificates(machine.pckChainPem) as Uint8Array[]).map((d) => new X509Certificate(d));
    const [leaf, mid, root] = chain as [X509Certificate, X509Certificate, X509Certificate];
    expect(root.verify(root.publicKey)).toBe(true);
    expect(mid.verify(root.publicKey)).toBe(true);
    expect(leaf.verify(mid.publicKey)).toBe(true);
    expect(mid.checkIssued(root)).toBe(true);
    expect(leaf.checkIssued(mid)).toBe(true);
    expect(root.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(new X509Certificate(certificatePem(intel.rootCertificate)).subject).toContain('Simulated Intel SGX Root CA');
  });

  it('verifies a real Intel PCK chain (leaf → Platform CA → Intel SGX Root CA)', () => {
    const pem = readFileSync(new URL('./fixtures/intel-pck-chain.pem', import.meta.url), 'utf8');
    const ders = parsePemCertificates(pem) as Uint8Array[];
    expect(ders.length).toBe(3);
    const root = parseCertificate(ders[2] as Uint8Array);
    if (root === undefined) throw new Error('the Intel root does not parse');
    const at2025 = Date.UTC(2025, 0, 1);
    expect(verifyChain(ders, [root], at2025)).toMatchObject({ ok: true });
    expect(verifyChain(ders.slice(0, 2), [root], at2025)).toMatchObject({ ok: true });
    expect(verifyChain(ders, [root], Date.UTC(2031, 0, 1))).toMatchObject({ ok: false, code: 'certificate-expired' });
    expect(
      verifyChain(
        ders,
        [parseCertificate(intel.rootCertificate)].filter((c) => c !== undefined),
        at2025,
      ),
    ).toMatchObject({
      ok: false,
      code: 'untrusted-chain',
    });
    // Reading the times right: Intel's root is valid 2018-05-21T10:45:10Z .. 2049-12-31T23:59:59Z.
    expect(root.notBeforeMs).toBe(Date.UTC(2018, 4, 21, 10, 45, 10));
    expect(root.notAfterMs).toBe(Date.UTC(2049, 11, 31, 23, 59, 59));
    expect([root.isCa, root.pathLen]).toEqual([true, 1]);
  });

  it('refuses non-canonical DER without throwing', () => {
    expect(() => readDer(Uint8Array.of(0x30, 0x81, 0x01, 0x00))).toThrow(/non-minimal/); // long form for a short length
    expect(() => readDer(Uint8Array.of(0x30, 0x80, 0x00, 0x00))).toThrow(/indefinite/);
    expect(() => readDer(Uint8Array.of(0x30, 0x05, 0x00))).toThrow(/past its end/);
    expect(() => readDer(Uint8Array.of(0x05, 0x00, 0x00))).toThrow(/trailing/);
    expect(parseCertificate(Uint8Array.of(0x30, 0x00))).toBeUndefined();
    const root = intel.rootCertificate;
    for (let n = 0; n < root.length; n += 3) expect(parseCertificate(root.subarray(0, n))).toBeUndefined();
  });

  it('a chain with an issuer that is not a CA is untrusted', () => {
    // The PCK leaf (not a CA) presented as the issuer of another certificate.
    const chain = parsePemCertificates(machine.pckChainPem) as Uint8Array[];
    const roots = [parseCertificate(intel.rootCertificate)].filter((c) => c !== undefined);
    expect(verifyChain([chain[0], chain[0], chain[1]] as Uint8Array[], roots, NOW_MS)).toMatchObject({ ok: false, code: 'untrusted-chain' });
  });
});

describe('TdxValidator: configuration', () => {
  it('rejects bad configurations with InvalidArgumentError', () => {
    const bad: TdxValidatorOptions[] = [
      { trustedRoots: [] },
      { trustedRoots: [Uint8Array.of(1, 2, 3)] },
      { trustedRoots: ['not pem'] },
      { trustedRoots: [intel.rootCertificate], mrtd: new Uint8Array(47) },
      { trustedRoots: [intel.rootCertificate], mrtd: 'zz' },
      { trustedRoots: [intel.rootCertificate], rtmr: [undefined, undefined, undefined, undefined, good.mrtd] },
      { trustedRoots: [intel.rootCertificate], maxAgeS: -5 },
    ];
    for (const options of bad) expect(() => new TdxValidator(options)).toThrow(InvalidArgumentError);
  });

  it('rejects odd options with an InvalidArgumentError naming the option (was RangeError, TypeError)', () => {
    const root = intel.rootCertificate;
    const cases: [string, unknown][] = [
      ['maxAgeS', { trustedRoots: [root], maxAgeS: 1e306 }],
      ['maxLifetimeS', { trustedRoots: [root], maxLifetimeS: Number.NaN }],
      ['notBeforeMs', { trustedRoots: [root], notBeforeMs: 1.5 }],
      ['notBeforeMs', { trustedRoots: [root], notBeforeMs: 1e300 }],
      ['trustedRoots[0]', { trustedRoots: [null] }],
      ['trustedRoots', { trustedRoots: 'abc' }],
      ['variants[0]', { trustedRoots: [root], variants: [null] }],
      ['variants', { trustedRoots: [root], variants: 'abc' }],
      ['options.rtmr', { trustedRoots: [root], rtmr: 'abc' }],
      ['options', undefined],
    ];
    for (const [name, options] of cases) {
      const make = () => new TdxValidator(options as TdxValidatorOptions);
      expect(make, name).toThrow(InvalidArgumentError);
      expect(make, name).toThrow(name);
    }
    expect(() => new TdxValidator({ trustedRoots: [root], notBeforeMs: MAX_TIME_MS, maxAgeS: MAX_TIME_MS / 1000 })).not.toThrow();
  });

  it('signature: equal for equal configurations, different for roots, registers, variants and bounds', () => {
    const base: TdxValidatorOptions = { trustedRoots: [intel.rootCertificate], mrtd: good.mrtd };
    expect(new TdxValidator(base).signature.equals(new TdxValidator({ ...base, trustedRoots: [intel.rootPem] }).signature)).toBe(true);
    const variants: TdxValidatorOptions[] = [
      base,
      { ...base, trustedRoots: [SimulatedIntel.fromSeed('x').rootCertificate] },
      { ...base, mrtd: undefined },
      { ...base, rtmr: [good.rtmr[0]] },
      { ...base, variants: [{ mrtd: good.mrtd }] },
      { ...base, maxAgeS: 1 },
      { ...base, notBeforeMs: 1 },
      { ...base, maxLifetimeS: 1 },
    ];
    expect(new Set(variants.map((o) => new TdxValidator(o).signature.hex)).size).toBe(variants.length);
  });
});

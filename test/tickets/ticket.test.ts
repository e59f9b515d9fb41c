import { describe, expect, it } from 'vitest';
import { issueTdxTicket, QuoteGenerationError, TdxUnavailableError } from '../../api/tickets.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { Digest } from '../../core/identity/digest.ts';
import { JwtValidator } from '../../core/tickets/jwt.ts';
import { jwtTicket, signJwt } from '../../core/tickets/jwt-sign.ts';
import { SimulatedIntel, simulatedMeasurements } from '../../core/tickets/tdx/sim-provider.ts';
import { TdxValidator } from '../../core/tickets/tdx/validator.ts';
import {
  compareExpirations,
  earliestExpiration,
  expiresAt,
  isExpired,
  NEVER,
  remainingMs,
  type TicketValidator,
  ticketId,
  validateTicket,
  validateTickets,
} from '../../core/tickets/ticket.ts';
import { utf8 } from '../../core/util/bytes.ts';
import { ConfigfsTsmQuoteProvider } from '../../net-real/tdx-configfs.ts';
import { SimulatedQuoteProvider } from '../../net-sim/attestation.ts';
import { ALICE, entryOf, NETWORK, NOW_MS, NOW_S } from './fixtures.ts';

const alpha = { alg: 'HS256', secret: new Uint8Array(32).fill(1) } as const;
const beta = { alg: 'HS256', secret: new Uint8Array(32).fill(2) } as const;
const jwt = (key: typeof alpha | typeof beta, expS: number) => jwtTicket(signJwt(key, { iss: 'i', sub: ALICE.hex, exp: expS }));

describe('expirations', () => {
  it('orders never after every time, and answers expiry and remaining time', () => {
    const a = expiresAt(1000);
    const b = expiresAt(2000);
    expect(compareExpirations(a, b)).toBeLessThan(0);
    expect(compareExpirations(NEVER, b)).toBeGreaterThan(0);
    expect(compareExpirations(NEVER, NEVER)).toBe(0);
    expect(earliestExpiration(NEVER, a)).toBe(a);
    expect(isExpired(a, 999)).toBe(false);
    expect(isExpired(a, 1000)).toBe(true);
    expect(isExpired(NEVER, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(remainingMs(a, 400)).toBe(600);
    expect(remainingMs(a, 4000)).toBe(0);
    expect(remainingMs(NEVER, 0)).toBeUndefined();
  });
});

describe('validateTickets', () => {
  const vAlpha = new JwtValidator({ keys: [alpha] });
  // A second class, so two validators look at different tickets.
  const betaClass = Digest.from('tickets-test.beta');
  const vBeta: TicketValidator = {
    class: betaClass,
    signature: betaClass,
    validate: (data, entry, nowMs) => new JwtValidator({ keys: [beta] }).validate(data, entry, nowMs),
  };
  const asBeta = (t: ReturnType<typeof jwt>) => ({ class: betaClass, data: t.data });

  it('no validators: ok, never expires', () => {
    expect(validateTickets([], entryOf(ALICE), NOW_MS)).toEqual({ ok: true, expiration: NEVER });
  });

  it('missing-ticket when the peer carries none of the class', () => {
    expect(validateTicket(vAlpha, entryOf(ALICE), NOW_MS)).toMatchObject({ ok: false, reason: { code: 'missing-ticket' } });
  });

  it('one validator: the latest expiry among its valid tickets; an invalid one does not spoil a valid one', () => {
    const entry = entryOf(ALICE, [jwt(alpha, NOW_S + 100), jwt(alpha, NOW_S + 300), jwt(beta, NOW_S + 900)]);
    expect(validateTicket(vAlpha, entry, NOW_MS)).toEqual({ ok: true, expiration: expiresAt((NOW_S + 300) * 1000) });
  });

  it('when no ticket is valid, the first ticket’s reason', () => {
    const entry = entryOf(ALICE, [jwt(alpha, NOW_S - 100)]);
    expect(validateTicket(vAlpha, entry, NOW_MS)).toMatchObject({ ok: false, reason: { code: 'expired' } });
  });

  it('ANDs validators: both must pass, and the earliest expiry wins', () => {
    const both = entryOf(ALICE, [jwt(alpha, NOW_S + 500), asBeta(jwt(beta, NOW_S + 200))]);
    expect(validateTickets([vAlpha, vBeta], both, NOW_MS)).toEqual({ ok: true, expiration: expiresAt((NOW_S + 200) * 1000) });
    const onlyAlpha = entryOf(ALICE, [jwt(alpha, NOW_S + 500)]);
    const r = validateTickets([vAlpha, vBeta], onlyAlpha, NOW_MS);
    expect(r).toMatchObject({ ok: false, reason: { code: 'missing-ticket' } });
    expect(!r.ok && r.validator).toBe(vBeta);
  });

  it('ticket ids are class.derive(data)', () => {
    const t = jwt(alpha, NOW_S + 1);
    expect(ticketId(t).equals(t.class.derive(t.data))).toBe(true);
  });

  it('a JWT and a TDX validator together', () => {
    const intel = SimulatedIntel.fromSeed('intel');
    const m = simulatedMeasurements('td');
    const tdx = intel
      .platform('m')
      .ticket({ peerId: ALICE, network: NETWORK, startedAtMs: NOW_MS - 10, quotedAtMs: NOW_MS - 5, expiration: expiresAt(NOW_MS + 60_000) }, m);
    const entry = entryOf(ALICE, [jwt(alpha, NOW_S + 3600), tdx]);
    const vTdx = new TdxValidator({ trustedRoots: [intel.rootCertificate], mrtd: m.mrtd });
    expect(validateTickets([vAlpha, vTdx], entry, NOW_MS)).toEqual({ ok: true, expiration: expiresAt(NOW_MS + 60_000) });
  });
});

describe('issueTdxTicket and the quote providers', () => {
  const intel = SimulatedIntel.fromSeed('intel');
  const m = simulatedMeasurements('td');
  const provider = new SimulatedQuoteProvider(intel.platform('m'), m);

  it('issues a ticket through the simulated provider that the validator accepts', async () => {
    expect(await provider.available()).toBe(true);
    const t = await issueTdxTicket({
      provider,
      peerId: ALICE,
      network: NETWORK,
      startedAtMs: NOW_MS - 1000,
      expiration: expiresAt(NOW_MS + 60_000),
      nowMs: NOW_MS,
    });
    const v = new TdxValidator({ trustedRoots: [intel.rootPem], mrtd: m.mrtd, maxAgeS: 10 });
    // Until the first of the ticket's expiration (60 s) and the quote's max age (10 s).
    expect(v.validate(t.data, entryOf(ALICE), NOW_MS + 1000)).toEqual({ ok: true, expiration: expiresAt(NOW_MS + 10_000) });
  });

  it('refuses an expiration already in the past', async () => {
    await expect(
      issueTdxTicket({ provider, peerId: ALICE, network: NETWORK, startedAtMs: 0, expiration: expiresAt(NOW_MS - 1), nowMs: NOW_MS }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  const base = { provider, peerId: ALICE, network: NETWORK, startedAtMs: NOW_MS - 1000, expiration: expiresAt(NOW_MS + 60_000), nowMs: NOW_MS };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  it('rejects when the signal aborts, even if the provider never answers (it hung for ever)', async () => {
    const never = { available: async () => true, quote: () => new Promise<Uint8Array>(() => {}) };
    const ac = new AbortController();
    const pending = failure(issueTdxTicket({ ...base, provider: never, signal: ac.signal }));
    const reason = new Error('stop');
    ac.abort(reason);
    const thrown = await pending;
    expect(thrown).toBeInstanceOf(QuoteGenerationError);
    expect((thrown as Error).cause).toBe(reason);
    // Already aborted: the provider is not even asked.
    let asked = false;
    const spy = {
      available: async () => true,
      quote: async (rd: Uint8Array) => {
        asked = true;
        return provider.quote(rd);
      },
    };
    expect(await failure(issueTdxTicket({ ...base, provider: spy, signal: AbortSignal.abort(reason) }))).toBeInstanceOf(QuoteGenerationError);
    expect(asked).toBe(false);
  });

  it('gives a provider timeoutMs to answer (30 s by default), then aborts it and rejects', async () => {
    let seen: AbortSignal | undefined;
    const never = {
      available: async () => true,
      quote: (_rd: Uint8Array, o?: { signal?: AbortSignal }) => {
        seen = o?.signal;
        return new Promise<Uint8Array>(() => {});
      },
    };
    const thrown = await failure(issueTdxTicket({ ...base, provider: never, timeoutMs: 50 }));
    expect(thrown).toBeInstanceOf(QuoteGenerationError);
    expect((thrown as Error).message).toContain('did not answer within 50 ms');
    expect(((thrown as Error).cause as Error).name).toBe('TimeoutError');
    expect(seen?.aborted).toBe(true);
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, 2 ** 31, '10'])
      expect(await failure(issueTdxTicket({ ...base, timeoutMs: timeoutMs as number }))).toBeInstanceOf(InvalidArgumentError);
    // A prompt provider is untouched by the deadline.
    expect((await issueTdxTicket({ ...base, timeoutMs: 5_000 })).data.length).toBeGreaterThan(0);
  });

  it('refuses a provider answer that is not a quote for this report data with QuoteGenerationError', async () => {
    const other = await provider.quote(new Uint8Array(64));
    for (const answer of ['garbage', null, new Uint8Array(10), new Uint8Array(1 << 20), other]) {
      const p = { available: async () => true, quote: async () => answer as Uint8Array };
      expect(await failure(issueTdxTicket({ ...base, provider: p })), String(answer)).toBeInstanceOf(QuoteGenerationError);
    }
  });

  it('refuses bad arguments with an InvalidArgumentError naming the option (was RangeError, TypeError, or an undecodable ticket)', async () => {
    const cases: [string, unknown][] = [
      ['startedAtMs', { ...base, startedAtMs: Number.NaN }],
      ['startedAtMs', { ...base, startedAtMs: 1.5 }],
      ['startedAtMs', { ...base, startedAtMs: -1 }],
      ['nowMs', { ...base, nowMs: Number.NaN }],
      ['nowMs', { ...base, nowMs: -5 }],
      ['expiration.atMs', { ...base, expiration: { kind: 'at', atMs: Number.NaN } }],
      ['expiration.atMs', { ...base, expiration: { kind: 'at', atMs: NOW_MS + 1.5 } }],
      ['expiration.atMs', { ...base, expiration: { kind: 'at', atMs: 1e300 } }],
      ['expiration', { ...base, expiration: { kind: 'whenever' } }],
      ['expiration', { ...base, expiration: undefined }],
      ['peerId', { ...base, peerId: 'abc' }],
      ['network', { ...base, network: 'net' }],
      ['provider', { ...base, provider: null }],
      ['signal', { ...base, signal: 'x' }],
      ['options', undefined],
    ];
    for (const [name, options] of cases) {
      const thrown = await failure(issueTdxTicket(options as Parameters<typeof issueTdxTicket>[0]));
      expect(thrown, name).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as Error).message, name).toContain(name);
    }
  });

  it('configfs-tsm reports unavailable cleanly where there is no TDX', async () => {
    const real = new ConfigfsTsmQuoteProvider({ reportDir: '/nonexistent/tsm/report' });
    expect(await real.available()).toBe(false);
    await expect(real.quote(new Uint8Array(64))).rejects.toMatchObject({ code: 'TDX_UNAVAILABLE' });
    await expect(real.quote(new Uint8Array(64))).rejects.toBeInstanceOf(TdxUnavailableError);
    await expect(real.quote(new Uint8Array(3))).rejects.toBeInstanceOf(QuoteGenerationError);
    // The default location: absent on this machine (and on CI), present only inside a TDX guest.
    const local = new ConfigfsTsmQuoteProvider();
    if (!(await local.available())) await expect(local.quote(utf8('x'.repeat(64)))).rejects.toBeInstanceOf(TdxUnavailableError);
  });
});

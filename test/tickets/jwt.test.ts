import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { issueJwtTicket } from '../../api/tickets.ts';
import { InvalidArgumentError } from '../../core/errors.ts';
import { base64UrlDecode, base64UrlEncode } from '../../core/tickets/encoding.ts';
import {
  type EcdsaAlg,
  type EdAlg,
  JWT_TICKET_CLASS,
  type JwtAlg,
  JwtValidator,
  type JwtValidatorOptions,
  type JwtVerifyKey,
  MAX_JWT_BYTES,
  MAX_NUMERIC_DATE_S,
} from '../../core/tickets/jwt.ts';
import { type JwtSigningKey, jwtTicket, signJwt } from '../../core/tickets/jwt-sign.ts';
import { utf8 } from '../../core/util/bytes.ts';
import { ALICE, BOB, codeOf, entryOf, NOW_MS, NOW_S } from './fixtures.ts';

const SECRET = utf8('0123456789abcdef0123456789abcdef'); // 32 bytes
const OTHER_SECRET = utf8('fedcba9876543210fedcba9876543210');
const HS: JwtVerifyKey = { alg: 'HS256', secret: SECRET };
const HS_SIGNER: JwtSigningKey = { alg: 'HS256', secret: SECRET };

/** Claims a default validator accepts for ALICE. */
function good(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: 'issuer-a', sub: ALICE.hex, iat: NOW_S - 10, exp: NOW_S + 3600, ...extra };
}

function without(claims: Record<string, unknown>, name: string): Record<string, unknown> {
  const { [name]: _, ...rest } = claims;
  return rest;
}

function check(options: Partial<JwtValidatorOptions>, token: string | Uint8Array, peer = ALICE, nowMs = NOW_MS) {
  const v = new JwtValidator({ keys: [HS], issuers: ['issuer-a'], ...options });
  return v.validate(typeof token === 'string' ? utf8(token) : token, entryOf(peer), nowMs);
}

function codeFor(options: Partial<JwtValidatorOptions>, token: string | Uint8Array, peer = ALICE, nowMs = NOW_MS) {
  return codeOf(check(options, token, peer, nowMs));
}

/** A token with arbitrary header/claims text, HS256-signed with SECRET (for malformed-claims cases). */
function rawHs256(headerText: string, claimsText: string): string {
  const input = `${base64UrlEncode(utf8(headerText))}.${base64UrlEncode(utf8(claimsText))}`;
  return `${input}.${base64UrlEncode(hmacSha256(SECRET, utf8(input)))}`;
}

function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return hmac(sha256, key, msg);
}

describe('JwtValidator: tokens issued with jose', () => {
  const asymmetric: (EcdsaAlg | EdAlg)[] = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
  const keys: Partial<Record<JwtAlg, { privateKey: CryptoKey; jwk: JWK }>> = {};

  beforeAll(async () => {
    for (const alg of asymmetric) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      keys[alg] = { privateKey, jwk: await exportJWK(publicKey) };
    }
  });

  for (const [alg, bytes] of [
    ['HS256', 32],
    ['HS384', 48],
    ['HS512', 64],
  ] as const) {
    it(`accepts ${alg}`, async () => {
      const secret = Uint8Array.from({ length: bytes }, (_, i) => i + 1);
      const t = await issueJwtTicket({ key: secret, alg, issuer: 'issuer-a', subject: ALICE, expiresInS: 3600, nowMs: NOW_MS });
      expect(t.class.equals(JWT_TICKET_CLASS)).toBe(true);
      const v = new JwtValidator({ keys: [{ alg, secret }], issuers: ['issuer-a'] });
      expect(v.validate(t.data, entryOf(ALICE), NOW_MS + 1000)).toEqual({ ok: true, expiration: { kind: 'at', atMs: (Math.floor(NOW_S) + 3600) * 1000 } });
    });
  }

  for (const alg of asymmetric) {
    it(`accepts ${alg} with the public key as a JWK and as raw bytes`, async () => {
      const { privateKey, jwk } = keys[alg] as { privateKey: CryptoKey; jwk: JWK };
      const t = await issueJwtTicket({ key: privateKey, issuer: 'issuer-a', subject: ALICE, expiresInS: 60, nowMs: NOW_MS });
      expect(JSON.parse(new TextDecoder().decode(base64UrlDecode(new TextDecoder().decode(t.data).split('.')[0] as string))).alg).toBe(
        alg === 'Ed25519' ? 'EdDSA' : alg,
      );
      const headerAlg: EcdsaAlg | EdAlg = alg === 'Ed25519' ? 'EdDSA' : alg;
      const fromJwk = new JwtValidator({ keys: [{ alg: headerAlg, publicKey: jwk as { kty: string; crv: string; x: string } }] });
      expect(codeOf(fromJwk.validate(t.data, entryOf(ALICE), NOW_MS))).toBe('ok');
      const x = base64UrlDecode(jwk.x as string) as Uint8Array;
      const raw = jwk.kty === 'EC' ? Uint8Array.of(4, ...x, ...(base64UrlDecode(jwk.y as string) as Uint8Array)) : x;
      const fromRaw = new JwtValidator({ keys: [{ alg: headerAlg, publicKey: raw }] });
      expect(codeOf(fromRaw.validate(t.data, entryOf(ALICE), NOW_MS))).toBe('ok');
      // Same key, two spellings: the same validator signature.
      expect(fromRaw.signature.equals(fromJwk.signature)).toBe(true);
    });
  }

  it('accepts the fully-specified Ed25519 alg name when the key declares it', async () => {
    const { privateKey, jwk } = keys.Ed25519 as { privateKey: CryptoKey; jwk: JWK };
    const t = await issueJwtTicket({ key: privateKey, alg: 'Ed25519', issuer: 'i', subject: ALICE, expiresInS: 60, nowMs: NOW_MS });
    const v = new JwtValidator({ keys: [{ alg: 'Ed25519', publicKey: jwk as { kty: string; crv: string; x: string } }] });
    expect(codeOf(v.validate(t.data, entryOf(ALICE), NOW_MS))).toBe('ok');
    // ...but an EdDSA-only validator does not take an 'Ed25519' header: a key's alg is exact.
    const edOnly = new JwtValidator({ keys: [{ alg: 'EdDSA', publicKey: jwk as { kty: string; crv: string; x: string } }] });
    expect(codeOf(edOnly.validate(t.data, entryOf(ALICE), NOW_MS))).toBe('alg-not-allowed');
  });

  it('issues aud, nbf, kid and custom claims that the validator checks', async () => {
    const t = await issueJwtTicket({
      key: SECRET,
      kid: 'k2',
      issuer: 'issuer-a',
      subject: ALICE,
      audience: ['svc-a', 'svc-b'],
      expiresInS: 600,
      notBeforeS: 0,
      claims: { role: 'matcher', tier: 3 },
      nowMs: NOW_MS,
    });
    const v = new JwtValidator({
      keys: [
        { alg: 'HS256', secret: OTHER_SECRET, kid: 'k1' },
        { alg: 'HS256', secret: SECRET, kid: 'k2' },
      ],
      issuers: ['issuer-a'],
      audience: 'svc-b',
      claims: { role: 'matcher', tier: 3 },
      maxLifetimeS: 600,
      maxAgeS: 60,
    });
    expect(codeOf(v.validate(t.data, entryOf(ALICE), NOW_MS + 1000))).toBe('ok');
  });

  it('issues a token without exp when asked, which only allowNoExpiry accepts', async () => {
    const t = await issueJwtTicket({ key: SECRET, issuer: 'issuer-a', subject: ALICE.hex, expiresInS: null, nowMs: NOW_MS });
    expect(codeFor({}, t.data)).toBe('missing-claim');
    expect(check({ allowNoExpiry: true }, t.data)).toEqual({ ok: true, expiration: { kind: 'never' } });
  });

  it('refuses to infer an algorithm it cannot', async () => {
    await expect(issueJwtTicket({ key: { kty: 'RSA' } as JWK, issuer: 'i', subject: 's', expiresInS: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses times that are not finite numbers (jose threw a TypeError)', async () => {
    const key = new Uint8Array(32).fill(1);
    for (const bad of [{ expiresInS: Number.NaN }, { expiresInS: 60, notBeforeS: Number.POSITIVE_INFINITY }, { expiresInS: 60, nowMs: Number.NaN }])
      await expect(issueJwtTicket({ key, alg: 'HS256', issuer: 'i', subject: 's', ...bad })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses odd options with an InvalidArgumentError naming the option (jose threw TypeErrors, or issued useless tokens)', async () => {
    const ok = { key: SECRET, issuer: 'i', subject: 's', expiresInS: 60, nowMs: NOW_MS };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [string, unknown][] = [
      ['expiresInS', { ...ok, expiresInS: undefined }],
      ['expiresInS', { ...ok, expiresInS: -10 }],
      ['expiresInS', { ...ok, expiresInS: 0 }],
      ['expiresInS', { ...ok, expiresInS: '60' }],
      ['exp', { ...ok, expiresInS: 1e300 }],
      ['iat', { ...ok, nowMs: -1e20 }],
      ['subject', { ...ok, subject: undefined }],
      ['subject', { ...ok, subject: 5 }],
      ['issuer', { ...ok, issuer: undefined }],
      ['audience', { ...ok, audience: 5 }],
      ['audience', { ...ok, audience: [null] }],
      ['kid', { ...ok, kid: 5 }],
      ['claims', { ...ok, claims: { c: cyclic } }],
      ['claims', { ...ok, claims: { b: 1n } }],
      ['key', { ...ok, key: new Uint8Array(1) }],
      ['key', { ...ok, key: new Uint8Array(31) }],
      ['key', { ...ok, alg: 'HS512', key: new Uint8Array(32) }],
      ['key', { ...ok, key: null }],
      ['key', { ...ok, key: 'secret' }],
      ['options', undefined],
    ];
    for (const [name, options] of cases) {
      const thrown = await issueJwtTicket(options as Parameters<typeof issueJwtTicket>[0]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(thrown, name).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as Error).message, name).toContain(name);
    }
    // The shortest accepted secrets are exactly what validators accept.
    const t = await issueJwtTicket({ ...ok, subject: ALICE, key: new Uint8Array(64).fill(3), alg: 'HS512' });
    const v = new JwtValidator({ keys: [{ alg: 'HS512', secret: new Uint8Array(64).fill(3) }] });
    expect(codeOf(v.validate(t.data, entryOf(ALICE), NOW_MS))).toBe('ok');
  });
});

describe('JwtValidator: the synchronous signer', () => {
  it('makes tokens the validator accepts, deterministically, for every alg', async () => {
    const { p256, p384, p521 } = await import('@noble/curves/nist.js');
    const { ed25519 } = await import('@noble/curves/ed25519.js');
    const sk = (n: number, len: number) => Uint8Array.from({ length: len }, (_, i) => (i === 0 ? 1 : n));
    const cases: [JwtSigningKey, JwtVerifyKey][] = [
      [
        { alg: 'HS512', secret: new Uint8Array(64).fill(7) },
        { alg: 'HS512', secret: new Uint8Array(64).fill(7) },
      ],
      [
        { alg: 'ES256', secretKey: sk(2, 32) },
        { alg: 'ES256', publicKey: p256.getPublicKey(sk(2, 32)) },
      ],
      [
        { alg: 'ES384', secretKey: sk(3, 48) },
        { alg: 'ES384', publicKey: p384.getPublicKey(sk(3, 48)) },
      ],
      [
        { alg: 'ES512', secretKey: sk(4, 66) },
        { alg: 'ES512', publicKey: p521.getPublicKey(sk(4, 66)) },
      ],
      [
        { alg: 'EdDSA', secretKey: sk(5, 32) },
        { alg: 'EdDSA', publicKey: ed25519.getPublicKey(sk(5, 32)) },
      ],
    ];
    for (const [signer, key] of cases) {
      const token = signJwt(signer, good());
      expect(signJwt(signer, good())).toBe(token);
      expect(codeOf(new JwtValidator({ keys: [key] }).validate(jwtTicket(token).data, entryOf(ALICE), NOW_MS)), signer.alg).toBe('ok');
    }
  });
});

describe('JwtValidator: rejections, each by its code', () => {
  const token = (claims: Record<string, unknown> = good(), header: Record<string, unknown> = {}) => signJwt(HS_SIGNER, claims, header);

  it('accepts the baseline token (so every case below fails for its one reason)', () => {
    expect(check({}, token())).toEqual({ ok: true, expiration: { kind: 'at', atMs: (NOW_S + 3600) * 1000 } });
  });

  it('oversized', () => {
    expect(codeFor({}, token(good({ pad: 'x'.repeat(MAX_JWT_BYTES) })))).toBe('oversized');
  });

  it('malformed: not UTF-8, wrong part count, bad base64url, non-JSON parts, bad claim types, crit', () => {
    expect(codeFor({}, Uint8Array.of(0xff, 0xfe, 0x2e, 0x2e))).toBe('malformed');
    expect(codeFor({}, 'a.b')).toBe('malformed');
    expect(codeFor({}, `${token()}.extra`)).toBe('malformed');
    expect(codeFor({}, 'e30.e30.a+b')).toBe('malformed');
    expect(codeFor({}, 'e30=.e30.AA')).toBe('malformed'); // padding is not base64url-without-padding
    expect(codeFor({}, `${base64UrlEncode(utf8('not json'))}.e30.AA`)).toBe('malformed');
    expect(codeFor({}, `${base64UrlEncode(utf8('[1]'))}.e30.AA`)).toBe('malformed');
    expect(codeFor({}, rawHs256('{"alg":"HS256"}', 'not json'))).toBe('malformed');
    expect(codeFor({}, rawHs256('{"alg":"HS256"}', '"a string"'))).toBe('malformed');
    expect(codeFor({}, token(good({ exp: String(NOW_S + 60) })))).toBe('malformed');
    expect(codeFor({}, token(good({ sub: 42 })))).toBe('malformed');
    expect(codeFor({ audience: 'x' }, token(good({ aud: [1, 2] })))).toBe('malformed');
    expect(codeFor({}, token(good(), { crit: ['exp'] }))).toBe('malformed');
    expect(codeFor({}, token(good(), { alg: 7 }))).toBe('malformed');
    expect(codeFor({}, token(good(), { kid: 7 }))).toBe('malformed');
  });

  it('malformed: times outside the Date range (exp 1e306 threw an AssertionError), not thrown', () => {
    const far = MAX_NUMERIC_DATE_S;
    for (const claims of [
      good({ exp: 1e306 }),
      good({ exp: 1e20 }),
      good({ exp: -1e308 }),
      good({ nbf: -1e308 }),
      good({ iat: -1e308 }),
      good({ iat: 1e306 }),
      good({ exp: far + 1 }),
    ]) {
      expect(() => check({}, token(claims))).not.toThrow();
      expect(codeFor({}, token(claims))).toBe('malformed');
    }
    // The edge itself is a time: accepted, with a finite expiration.
    const r = check({}, token(good({ exp: far })));
    expect(r).toEqual({ ok: true, expiration: { kind: 'at', atMs: far * 1000 } });
    expect(codeFor({}, token(good({ nbf: -far, iat: -far })))).toBe('ok');
  });

  it('alg-not-allowed: alg none, unsupported algs, algs no key has', () => {
    const none = `${base64UrlEncode(utf8('{"alg":"none","typ":"JWT"}'))}.${base64UrlEncode(utf8(JSON.stringify(good())))}.`;
    expect(codeFor({}, none)).toBe('alg-not-allowed');
    expect(codeFor({}, token(good(), { alg: 'None' }))).toBe('alg-not-allowed');
    expect(codeFor({}, token(good(), { alg: 'RS256' }))).toBe('alg-not-allowed');
    expect(codeFor({}, signJwt({ alg: 'HS384', secret: new Uint8Array(48) }, good()))).toBe('alg-not-allowed');
  });

  it('alg-not-allowed: algorithm confusion, an HS token against an ES key (signed with the public key as the secret)', async () => {
    const { p256 } = await import('@noble/curves/nist.js');
    const sk = new Uint8Array(32).fill(9);
    const pub = p256.getPublicKey(sk);
    // The classic attack: the verifier's public key is public, so HMAC with it as the secret.
    const forged = signJwt({ alg: 'HS256', secret: pub }, good());
    expect(codeFor({ keys: [{ alg: 'ES256', publicKey: pub }] }, forged)).toBe('alg-not-allowed');
    // ... and the reverse: an ES token against an HS-only validator.
    const es = signJwt({ alg: 'ES256', secretKey: sk }, good());
    expect(codeFor({ keys: [HS] }, es)).toBe('alg-not-allowed');
    // An ES256 header on an HMAC signature, against a validator with both kinds of key.
    const swapped = `${base64UrlEncode(utf8('{"alg":"ES256"}'))}.${forged.split('.')[1]}.${forged.split('.')[2]}`;
    expect(codeFor({ keys: [HS, { alg: 'ES256', publicKey: pub }] }, swapped)).toBe('bad-signature');
  });

  it('unknown-key: a kid no key of that alg has', () => {
    const keys: JwtVerifyKey[] = [{ alg: 'HS256', secret: SECRET, kid: 'current' }];
    expect(codeFor({ keys }, token(good(), { kid: 'retired' }))).toBe('unknown-key');
    expect(codeFor({ keys }, token(good(), { kid: 'current' }))).toBe('ok');
    expect(codeFor({ keys }, token())).toBe('ok'); // no kid: every key of the alg is tried
  });

  it('bad-signature: another secret, edited claims, a truncated signature', () => {
    expect(codeFor({}, signJwt({ alg: 'HS256', secret: OTHER_SECRET }, good()))).toBe('bad-signature');
    const [h, , s] = token().split('.');
    const edited = base64UrlEncode(utf8(JSON.stringify(good({ sub: BOB.hex }))));
    expect(codeFor({}, `${h}.${edited}.${s}`, BOB)).toBe('bad-signature');
    expect(codeFor({}, `${h}.${token().split('.')[1]}.${(s as string).slice(0, 20)}`)).toBe('bad-signature');
  });

  it('key rotation: any configured key of the alg verifies', () => {
    const keys: JwtVerifyKey[] = [
      { alg: 'HS256', secret: OTHER_SECRET },
      { alg: 'HS256', secret: SECRET },
    ];
    expect(codeFor({ keys }, token())).toBe('ok');
    expect(codeFor({ keys }, signJwt({ alg: 'HS256', secret: OTHER_SECRET }, good()))).toBe('ok');
  });

  it('wrong-issuer and missing-claim (iss); no issuers list means any', () => {
    expect(codeFor({}, token(good({ iss: 'issuer-b' })))).toBe('wrong-issuer');
    expect(codeFor({}, token(without(good(), 'iss')))).toBe('missing-claim');
    expect(codeFor({ issuers: [] }, token(good({ iss: 'anyone' })))).toBe('ok');
    expect(codeFor({ issuers: ['issuer-b', 'issuer-a'] }, token())).toBe('ok');
  });

  it('wrong-subject: a token for another peer (bound to the peer id by default), or not the fixed subject', () => {
    expect(codeFor({}, token(), BOB)).toBe('wrong-subject');
    expect(codeFor({}, token(good({ sub: ALICE.hex.toUpperCase() })))).toBe('wrong-subject');
    expect(codeFor({}, token(without(good(), 'sub')))).toBe('missing-claim');
    expect(codeFor({ subject: 'service-x' }, token(good({ sub: 'service-x' })), BOB)).toBe('ok');
    expect(codeFor({ subject: 'service-x' }, token())).toBe('wrong-subject');
  });

  it('not-yet-valid: nbf or iat in the future', () => {
    expect(codeFor({}, token(good({ nbf: NOW_S + 30 })))).toBe('not-yet-valid');
    expect(codeFor({}, token(good({ iat: NOW_S + 30 })))).toBe('not-yet-valid');
    expect(codeFor({}, token(good({ nbf: NOW_S })))).toBe('ok');
  });

  it('expired, and missing-claim for a token without exp', () => {
    expect(codeFor({}, token(good({ exp: NOW_S - 1 })))).toBe('expired');
    expect(codeFor({}, token(good({ exp: NOW_S })))).toBe('expired'); // exp <= now
    expect(codeFor({}, token(without(good(), 'exp')))).toBe('missing-claim');
  });

  it('leeway tolerates small clock skew on exp and nbf, and is reflected in the expiration', () => {
    expect(codeFor({ leewayS: 5 }, token(good({ exp: NOW_S - 3 })))).toBe('ok');
    expect(codeFor({ leewayS: 5 }, token(good({ nbf: NOW_S + 3 })))).toBe('ok');
    expect(codeFor({ leewayS: 5 }, token(good({ exp: NOW_S - 6 })))).toBe('expired');
    expect(check({ leewayS: 5 }, token())).toEqual({ ok: true, expiration: { kind: 'at', atMs: (NOW_S + 3605) * 1000 } });
  });

  it('lifetime-too-long: exp − iat, exp − nbf, exp − now, or no exp at all', () => {
    expect(codeFor({ maxLifetimeS: 600 }, token(good({ iat: NOW_S, exp: NOW_S + 601 })))).toBe('lifetime-too-long');
    expect(codeFor({ maxLifetimeS: 600 }, token(good({ iat: NOW_S - 500, exp: NOW_S + 200 })))).toBe('lifetime-too-long');
    expect(codeFor({ maxLifetimeS: 600 }, token(without(good({ nbf: NOW_S - 500, exp: NOW_S + 200 }), 'iat')))).toBe('lifetime-too-long');
    expect(codeFor({ maxLifetimeS: 600 }, token(without(good({ exp: NOW_S + 601 }), 'iat')))).toBe('lifetime-too-long');
    expect(codeFor({ maxLifetimeS: 600, allowNoExpiry: true }, token(without(good(), 'exp')))).toBe('lifetime-too-long');
    expect(codeFor({ maxLifetimeS: 600 }, token(good({ iat: NOW_S - 100, exp: NOW_S + 500 })))).toBe('ok');
  });

  it('too-old: now − iat over maxAgeS; missing-claim without iat', () => {
    expect(codeFor({ maxAgeS: 60 }, token(good({ iat: NOW_S - 61 })))).toBe('too-old');
    expect(codeFor({ maxAgeS: 60 }, token(without(good(), 'iat')))).toBe('missing-claim');
    expect(codeFor({ maxAgeS: 60 }, token(good({ iat: NOW_S - 60 })))).toBe('ok');
  });

  it('wrong-audience and missing-claim (aud); a string or any of an array', () => {
    expect(codeFor({ audience: ['svc-a'] }, token(good({ aud: 'svc-b' })))).toBe('wrong-audience');
    expect(codeFor({ audience: ['svc-a'] }, token(good({ aud: ['svc-b', 'svc-c'] })))).toBe('wrong-audience');
    expect(codeFor({ audience: ['svc-a'] }, token())).toBe('missing-claim');
    expect(codeFor({ audience: ['svc-a', 'svc-c'] }, token(good({ aud: ['svc-b', 'svc-c'] })))).toBe('ok');
    expect(codeFor({}, token(good({ aud: 'anything' })))).toBe('ok');
  });

  it('claim-mismatch and missing-claim for required custom claims (JSON equality)', () => {
    const claims = { role: 'matcher', scopes: { read: true, write: false } };
    expect(codeFor({ claims }, token(good({ role: 'matcher', scopes: { write: false, read: true } })))).toBe('ok');
    expect(codeFor({ claims }, token(good({ role: 'observer', scopes: { read: true, write: false } })))).toBe('claim-mismatch');
    expect(codeFor({ claims }, token(good({ role: 'matcher', scopes: { read: true, write: true } })))).toBe('claim-mismatch');
    expect(codeFor({ claims }, token(good({ scopes: { read: true, write: false } })))).toBe('missing-claim');
    expect(codeFor({ claims: { n: 1 } }, token(good({ n: '1' })))).toBe('claim-mismatch');
  });

  it('gives a human detail with every rejection', () => {
    const r = check({}, token(good({ exp: NOW_S - 1 })));
    expect(r).toMatchObject({ ok: false, reason: { code: 'expired' } });
    expect(r.ok ? '' : r.reason.detail).toMatch(/exp/);
  });
});

describe('JwtValidator: configuration', () => {
  it('rejects bad configurations with InvalidArgumentError', () => {
    const bad: JwtValidatorOptions[] = [
      { keys: [] },
      { keys: [{ alg: 'HS256', secret: new Uint8Array(16) }] },
      { keys: [{ alg: 'HS512', secret: new Uint8Array(32) }] },
      { keys: [{ alg: 'ES256', publicKey: new Uint8Array(65) }] },
      { keys: [{ alg: 'ES256', publicKey: { kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' } }] },
      { keys: [{ alg: 'EdDSA', publicKey: new Uint8Array(31) }] },
      { keys: [{ alg: 'none' as 'HS256', secret: SECRET }] },
      { keys: [HS], maxAgeS: -1 },
    ];
    for (const options of bad) expect(() => new JwtValidator(options), JSON.stringify(options.keys[0]?.alg)).toThrow(InvalidArgumentError);
  });

  it('rejects odd options with an InvalidArgumentError naming the option (was RangeError, TypeError, AssertionError)', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [string, unknown][] = [
      ['leewayS', { keys: [HS], leewayS: 1e306 }],
      ['maxLifetimeS', { keys: [HS], maxLifetimeS: 1e306 }],
      ['maxAgeS', { keys: [HS], maxAgeS: 1e306 }],
      ['maxAgeS', { keys: [HS], maxAgeS: '5' }],
      ['claims.x', { keys: [HS], claims: { x: undefined } }],
      ['claims.c', { keys: [HS], claims: { c: cyclic } }],
      ['claims.b', { keys: [HS], claims: { b: 1n } }],
      ['claims.n', { keys: [HS], claims: { n: [Number.NaN] } }],
      ['claims', { keys: [HS], claims: 'x' }],
      ['kid', { keys: [{ alg: 'HS256', secret: SECRET, kid: 5 }] }],
      ['audience', { keys: [HS], audience: 5 }],
      ['audience', { keys: [HS], audience: ['a', null] }],
      ['issuers', { keys: [HS], issuers: 'abc' }],
      ['subject', { keys: [HS], subject: 5 }],
      ['allowNoExpiry', { keys: [HS], allowNoExpiry: 'yes' }],
      ['keys[0]', { keys: [null] }],
      ['keys', { keys: 'abc' }],
      ['keys', {}],
      ['options', undefined],
    ];
    for (const [name, options] of cases) {
      const make = () => new JwtValidator(options as JwtValidatorOptions);
      expect(make, name).toThrow(InvalidArgumentError);
      expect(make, name).toThrow(name);
    }
    // Edges still accepted: JSON claims, including nested ones, and the largest time option.
    expect(() => new JwtValidator({ keys: [HS], leewayS: MAX_NUMERIC_DATE_S, claims: { a: { b: [1, null, 'x'] }, d: { e: 1 }, f: { e: 1 } } })).not.toThrow();
  });

  it('signature: equal for equal configurations however written, different for any change', () => {
    const a = new JwtValidator({
      keys: [HS, { alg: 'HS256', secret: OTHER_SECRET }],
      issuers: ['x', 'y'],
      audience: ['a', 'b'],
      claims: { r: 1, q: [1, { z: 2, y: 3 }] },
    });
    const b = new JwtValidator({
      keys: [{ alg: 'HS256', secret: OTHER_SECRET }, HS],
      issuers: ['y', 'x', 'y'],
      audience: ['b', 'a'],
      claims: { q: [1, { y: 3, z: 2 }], r: 1 },
    });
    expect(a.signature.equals(b.signature)).toBe(true);
    const variants: JwtValidatorOptions[] = [
      { keys: [HS] },
      { keys: [HS], issuers: ['x'] },
      { keys: [HS], audience: 'a' },
      { keys: [HS], subject: 's' },
      { keys: [HS], allowNoExpiry: true },
      { keys: [HS], maxLifetimeS: 10 },
      { keys: [HS], maxAgeS: 10 },
      { keys: [HS], leewayS: 5 },
      { keys: [HS], claims: { r: 1 } },
      { keys: [{ ...HS, kid: 'k' }] },
      { keys: [{ alg: 'HS256', secret: OTHER_SECRET }] },
    ];
    const sigs = new Set(variants.map((o) => new JwtValidator(o).signature.hex));
    expect(sigs.size).toBe(variants.length);
    expect(new JwtValidator({ keys: [HS] }).class.equals(JWT_TICKET_CLASS)).toBe(true);
  });
});

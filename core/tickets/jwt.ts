import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import type { PeerEntry } from '../discovery/peer-entry.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Digest } from '../identity/digest.ts';
import { concatBytes, equalBytes, utf8 } from '../util/bytes.ts';
import { base64UrlDecode, parseJsonObject, u64le, utf8Decode } from './encoding.ts';
import { accept, type Expiration, expiresAt, NEVER, reject, type TicketValidator, type ValidationResult } from './ticket.ts';

/**
 * JWT tickets: the ticket data is the UTF-8 of a compact JWS (`header.claims.signature`, each
 * base64url without padding), class `JWT_TICKET_CLASS`. The validator verifies signatures
 * synchronously with noble (no WebCrypto), so it runs inside the deterministic core.
 */

/** `Digest.from('mosaik.tickets.jwt.v1')`, as mosaik's `Jwt::CLASS`. */
export const JWT_TICKET_CLASS: Digest = Digest.from('mosaik.tickets.jwt.v1');

/** Largest ticket data the validator reads (bytes); larger is `oversized`. */
export const MAX_JWT_BYTES = 8 * 1024;

export type HmacAlg = 'HS256' | 'HS384' | 'HS512';
export type EcdsaAlg = 'ES256' | 'ES384' | 'ES512';
/** `EdDSA` and its fully-specified name `Ed25519` (RFC 9864) both mean Ed25519 here. */
export type EdAlg = 'EdDSA' | 'Ed25519';
export type JwtAlg = HmacAlg | EcdsaAlg | EdAlg;

export const JWT_ALGS: readonly JwtAlg[] = ['HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** A public key as a JWK: `{kty:'EC', crv, x, y}` or `{kty:'OKP', crv:'Ed25519', x}` (other members ignored). */
export interface PublicJwk {
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly y?: string;
  readonly alg?: string;
  readonly kid?: string;
}

/**
 * A verification key. Each key declares its algorithm, and a token is only ever checked with
 * keys of the algorithm its header names: that is what stops algorithm confusion (an HMAC
 * secret never verifies an ES token, nor a public key an HS one).
 *
 * - HS: the shared secret, at least as long as the hash output (32/48/64 bytes, RFC 7518 §3.2).
 * - ES256/384/512 (P-256/P-384/P-521): the public key as SEC1 bytes (compressed or not) or a JWK.
 * - EdDSA/Ed25519: the 32-byte public key or a JWK.
 *
 * `kid`, when set, must match a token's `kid` header if the token has one.
 */
export type JwtVerifyKey =
  | { readonly alg: HmacAlg; readonly secret: Uint8Array; readonly kid?: string }
  | { readonly alg: EcdsaAlg | EdAlg; readonly publicKey: Uint8Array | PublicJwk; readonly kid?: string };

/** JSON values, for required custom claims. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

export interface JwtValidatorOptions {
  /** Verification keys (several for rotation); at least one. */
  readonly keys: readonly JwtVerifyKey[];
  /** Accepted `iss` values (any of them). Empty or absent: any issuer, and `iss` may be absent. */
  readonly issuers?: readonly string[];
  /** Accepted `aud` values (any of them; a token's `aud` may be a string or an array). Absent or empty: not checked. */
  readonly audience?: string | readonly string[];
  /** The `sub` every token must have. @defaultValue the lowercase hex peer id of the entry's peer */
  readonly subject?: string;
  /** Accept tokens without `exp` (they never expire). @defaultValue false */
  readonly allowNoExpiry?: boolean;
  /**
   * Longest lifetime, seconds: `exp − iat` (or `exp − nbf` without `iat`) and `exp − now`
   * must both be within it. A token without `exp` fails it.
   */
  readonly maxLifetimeS?: number;
  /** Oldest accepted token, seconds: requires `iat`, and `now − iat` must be within it. */
  readonly maxAgeS?: number;
  /** Claims that must be present with exactly these (JSON-equal) values. */
  readonly claims?: Readonly<Record<string, JsonValue>>;
  /**
   * Clock skew tolerated in each time comparison, seconds. @defaultValue 0 (as mosaik): the
   * simulator's clocks agree exactly; real deployments with loose clocks may set a few seconds.
   */
  readonly leewayS?: number;
}

interface ResolvedKey {
  readonly alg: JwtAlg;
  readonly kid: string | undefined;
  /** Identifies the key material in the validator's signature. */
  readonly fingerprint: Digest;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

const HMAC_HASH = { HS256: sha256, HS384: sha384, HS512: sha512 } as const;
const ECDSA = {
  ES256: { curve: p256, crv: 'P-256', coordinateBytes: 32 },
  ES384: { curve: p384, crv: 'P-384', coordinateBytes: 48 },
  ES512: { curve: p521, crv: 'P-521', coordinateBytes: 66 },
} as const;

function isHmac(alg: JwtAlg): alg is HmacAlg {
  return alg === 'HS256' || alg === 'HS384' || alg === 'HS512';
}
function isEcdsa(alg: JwtAlg): alg is EcdsaAlg {
  return alg === 'ES256' || alg === 'ES384' || alg === 'ES512';
}

function badKey(i: number, why: string): never {
  throw new InvalidArgumentError(`JwtValidator: keys[${i}]: ${why}`);
}

/** Raw key bytes from SEC1 bytes or a JWK, checked to be a point on the curve. */
function publicKeyBytes(i: number, alg: EcdsaAlg | EdAlg, key: Uint8Array | PublicJwk): Uint8Array {
  if (key instanceof Uint8Array) return Uint8Array.from(key);
  if (typeof key !== 'object' || key === null) badKey(i, 'publicKey must be bytes or a JWK');
  if (key.alg !== undefined && key.alg !== alg) badKey(i, `JWK alg ${key.alg} differs from the key's alg ${alg}`);
  const x = typeof key.x === 'string' ? base64UrlDecode(key.x) : undefined;
  if (isEcdsa(alg)) {
    const { crv, coordinateBytes } = ECDSA[alg];
    if (key.kty !== 'EC' || key.crv !== crv) badKey(i, `${alg} needs an EC JWK on ${crv}, got kty ${key.kty} crv ${key.crv}`);
    const y = typeof key.y === 'string' ? base64UrlDecode(key.y) : undefined;
    if (x?.length !== coordinateBytes || y?.length !== coordinateBytes) badKey(i, `JWK x and y must be ${coordinateBytes} bytes of base64url`);
    return concatBytes(Uint8Array.of(4), x, y);
  }
  if (key.kty !== 'OKP' || key.crv !== 'Ed25519') badKey(i, `${alg} needs an OKP JWK on Ed25519, got kty ${key.kty} crv ${key.crv}`);
  if (x?.length !== 32) badKey(i, 'JWK x must be 32 bytes of base64url');
  return x;
}

function resolveKey(key: JwtVerifyKey, i: number): ResolvedKey {
  if (typeof key !== 'object' || key === null) badKey(i, `must be an object, got ${key === null ? 'null' : typeof key}`);
  const alg = key.alg;
  if (!JWT_ALGS.includes(alg)) badKey(i, `unsupported alg ${String(alg)} (supported: ${JWT_ALGS.join(', ')})`);
  const kid = key.kid;
  if (kid !== undefined && typeof kid !== 'string') badKey(i, `kid must be a string, got ${typeof kid}`);
  if (isHmac(alg)) {
    if (!('secret' in key) || !(key.secret instanceof Uint8Array)) badKey(i, `${alg} needs a secret (bytes)`);
    const hash = HMAC_HASH[alg];
    const secret = Uint8Array.from(key.secret);
    if (secret.length < hash.outputLen) badKey(i, `${alg} secret must be at least ${hash.outputLen} bytes, got ${secret.length}`);
    return {
      alg,
      kid,
      fingerprint: Digest.from(alg.toLowerCase()).derive(secret),
      verify: (message, signature) => equalBytes(hmac(hash, secret, message), signature),
    };
  }
  if (!('publicKey' in key)) badKey(i, `${alg} needs a publicKey`);
  const raw = publicKeyBytes(i, alg, key.publicKey);
  if (isEcdsa(alg)) {
    const { curve } = ECDSA[alg];
    let point: ReturnType<typeof curve.Point.fromBytes>;
    try {
      point = curve.Point.fromBytes(raw);
      point.assertValidity();
    } catch {
      badKey(i, `${alg} publicKey is not a point on ${ECDSA[alg].crv}`);
    }
    const compressed = point.toBytes(true);
    const sigBytes = ECDSA[alg].coordinateBytes * 2;
    return {
      alg,
      kid,
      fingerprint: Digest.from(alg.toLowerCase()).derive(compressed),
      verify(message, signature) {
        if (signature.length !== sigBytes) return false;
        try {
          // JWS ECDSA signatures are raw r‖s; WebCrypto does not normalize s, so high-S is valid.
          return curve.verify(signature, message, compressed, { prehash: true, lowS: false, format: 'compact' });
        } catch {
          return false;
        }
      },
    };
  }
  if (raw.length !== 32 || !ed25519.utils.isValidPublicKey(raw)) badKey(i, `${alg} publicKey must be a valid 32-byte Ed25519 key`);
  return {
    alg,
    kid,
    fingerprint: Digest.from('eddsa').derive(raw),
    verify(message, signature) {
      if (signature.length !== 64) return false;
      try {
        return ed25519.verify(signature, message, raw, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}

/** A time option, seconds: absent, or a number in [0, MAX_NUMERIC_DATE_S]. */
function nonNegative(name: string, v: number | undefined): number | undefined {
  if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= MAX_NUMERIC_DATE_S)) {
    throw new InvalidArgumentError(`JwtValidator: ${name} must be a number of seconds in [0, ${MAX_NUMERIC_DATE_S}], got ${String(v)}`);
  }
  return v;
}

function stringList(name: string, v: unknown): readonly string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InvalidArgumentError(`JwtValidator: ${name} must be an array of strings`);
  return v;
}

/** Throws unless `v` is a JSON value: null, a boolean, a finite number, a string, or arrays and plain objects of them, without cycles. */
function checkJson(v: unknown, path: string, seen: Set<object>): void {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`JwtValidator: ${path} is ${v}, not a JSON number`);
    return;
  }
  if (typeof v !== 'object') throw new InvalidArgumentError(`JwtValidator: ${path} is a ${typeof v}, not a JSON value`);
  const proto = Object.getPrototypeOf(v);
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) throw new InvalidArgumentError(`JwtValidator: ${path} is not a plain object or array`);
  if (seen.has(v)) throw new InvalidArgumentError(`JwtValidator: ${path} is cyclic`);
  seen.add(v);
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) checkJson(v[i], `${path}[${i}]`, seen);
  else for (const [k, x] of Object.entries(v)) checkJson(x, `${path}.${k}`, seen);
  seen.delete(v);
}

/** Deep JSON equality; object member order does not matter. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Canonical JSON text (sorted object members) for the validator's signature. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Code-unit order: the same on every machine (unlike `localeCompare`). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedUnique(xs: readonly string[]): string[] {
  return [...new Set(xs)].sort(compareStrings);
}

type Claims = Record<string, unknown>;

/**
 * Largest NumericDate (and time option) magnitude, seconds: the ECMAScript Date range,
 * ±8.64e15 ms (year 275760). Beyond it a time has no millisecond expiration to hand out.
 */
export const MAX_NUMERIC_DATE_S = 8_640_000_000_000;

/** A NumericDate claim: absent, or a number (seconds) within ±MAX_NUMERIC_DATE_S; anything else is malformed. */
function numericDate(claims: Claims, name: string): number | undefined | 'bad' {
  if (!Object.hasOwn(claims, name)) return undefined;
  const v = claims[name];
  return typeof v === 'number' && Math.abs(v) <= MAX_NUMERIC_DATE_S ? v : 'bad';
}

function stringClaim(claims: Claims, name: string): string | undefined | 'bad' {
  if (!Object.hasOwn(claims, name)) return undefined;
  const v = claims[name];
  return typeof v === 'string' ? v : 'bad';
}

/**
 * Validates JWT tickets (mosaik's `Jwt`). The checks, in order, each with its rejection code:
 *
 * 1. size ≤ MAX_JWT_BYTES (`oversized`); UTF-8, three base64url parts, JSON objects (`malformed`);
 *    a `crit` header is refused (`malformed`: no extensions are understood).
 * 2. header `alg`: `none`, unknown, or no key of that alg (`alg-not-allowed`); a `kid` no key of
 *    that alg has (`unknown-key`); no candidate key verifies (`bad-signature`).
 * 3. `iss` in `issuers` (`wrong-issuer`, `missing-claim`).
 * 4. `sub` equals `subject`, by default the peer id hex (`wrong-subject`, `missing-claim`).
 * 5. `nbf` and `iat` not in the future (`not-yet-valid`).
 * 6. `exp` present unless `allowNoExpiry` (`missing-claim`), and in the future (`expired`).
 * 7. `maxLifetimeS` (`lifetime-too-long`), 8. `maxAgeS` (`too-old`, `missing-claim` for `iat`).
 * 9. `aud` (`wrong-audience`, `missing-claim`). 10. custom claims (`claim-mismatch`, `missing-claim`).
 *
 * Accepts with `at(exp + leeway)`, or `never` without `exp`.
 */
export class JwtValidator implements TicketValidator {
  readonly class: Digest = JWT_TICKET_CLASS;
  readonly signature: Digest;
  readonly #keys: readonly ResolvedKey[];
  readonly #issuers: readonly string[];
  readonly #audience: readonly string[] | undefined;
  readonly #subject: string | undefined;
  readonly #allowNoExpiry: boolean;
  readonly #maxLifetimeS: number | undefined;
  readonly #maxAgeS: number | undefined;
  readonly #claims: readonly (readonly [string, JsonValue])[];
  readonly #leewayS: number;

  /**
   * Throws an InvalidArgumentError naming the option for a bad configuration: no keys, a bad
   * key or `kid`, a time option outside [0, MAX_NUMERIC_DATE_S], non-string issuers, audience
   * or subject, a required claim that is not JSON (undefined, a BigInt, a cycle...).
   */
  constructor(options: JwtValidatorOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('JwtValidator: options must be an object');
    if (!Array.isArray(options.keys) || options.keys.length === 0) throw new InvalidArgumentError('JwtValidator: keys must be an array of at least one key');
    this.#keys = options.keys.map(resolveKey);
    this.#issuers = sortedUnique(options.issuers === undefined ? [] : stringList('issuers', options.issuers));
    const audience = options.audience;
    const audienceList = audience === undefined ? [] : sortedUnique(typeof audience === 'string' ? [audience] : stringList('audience', audience));
    this.#audience = audienceList.length === 0 ? undefined : audienceList;
    if (options.subject !== undefined && typeof options.subject !== 'string') throw new InvalidArgumentError('JwtValidator: subject must be a string');
    this.#subject = options.subject;
    if (options.allowNoExpiry !== undefined && typeof options.allowNoExpiry !== 'boolean')
      throw new InvalidArgumentError('JwtValidator: allowNoExpiry must be a boolean');
    this.#allowNoExpiry = options.allowNoExpiry ?? false;
    this.#maxLifetimeS = nonNegative('maxLifetimeS', options.maxLifetimeS);
    this.#maxAgeS = nonNegative('maxAgeS', options.maxAgeS);
    this.#leewayS = nonNegative('leewayS', options.leewayS) ?? 0;
    const claims = options.claims ?? {};
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new InvalidArgumentError('JwtValidator: claims must be an object');
    for (const [name, value] of Object.entries(claims)) checkJson(value, `claims.${name}`, new Set());
    this.#claims = Object.entries(claims).sort(([a], [b]) => compareStrings(a, b));
    this.signature = this.#computeSignature();
  }

  /**
   * CLASS, then each key's `alg`, `kid` and fingerprint (`Digest(alg).derive(key bytes)`, in
   * fingerprint order, so key order does not matter), then each option. Sets are sorted, so
   * equal configurations give equal signatures however they were written.
   */
  #computeSignature(): Digest {
    const keys = [...this.#keys].sort((a, b) => a.fingerprint.compare(b.fingerprint) || compareStrings(a.kid ?? '', b.kid ?? ''));
    let d = this.class;
    for (const k of keys)
      d = d
        .derive('key')
        .derive(k.alg)
        .derive(k.kid ?? '')
        .derive(k.fingerprint);
    d = d.derive('allowNoExpiry').derive(Uint8Array.of(this.#allowNoExpiry ? 1 : 0));
    d = d.derive('issuers').derive(JSON.stringify(this.#issuers));
    d = d.derive('audience').derive(this.#audience === undefined ? '' : JSON.stringify(this.#audience));
    d = d.derive('subject').derive(this.#subject === undefined ? '' : JSON.stringify(this.#subject));
    d = d.derive('maxLifetimeS').derive(u64le(Math.round((this.#maxLifetimeS ?? 0) * 1000)));
    d = d.derive('maxAgeS').derive(u64le(Math.round((this.#maxAgeS ?? 0) * 1000)));
    d = d.derive('leewayS').derive(u64le(Math.round(this.#leewayS * 1000)));
    for (const [name, value] of this.#claims) d = d.derive('claim').derive(name).derive(canonicalJson(value));
    return d;
  }

  validate(data: Uint8Array, entry: PeerEntry, nowMs: number): ValidationResult {
    if (data.length > MAX_JWT_BYTES) return reject('oversized', `JWT of ${data.length} bytes exceeds ${MAX_JWT_BYTES}`);
    const text = utf8Decode(data);
    if (text === undefined) return reject('malformed', 'JWT is not UTF-8');
    const parts = text.split('.');
    if (parts.length !== 3) return reject('malformed', `JWT has ${parts.length} dot-separated parts, expected 3`);
    const [headerB64, claimsB64, sigB64] = parts as [string, string, string];
    const headerBytes = base64UrlDecode(headerB64);
    const claimsBytes = base64UrlDecode(claimsB64);
    const sig = base64UrlDecode(sigB64);
    if (headerBytes === undefined || claimsBytes === undefined || sig === undefined) return reject('malformed', 'JWT part is not base64url');
    const headerText = utf8Decode(headerBytes);
    const header = headerText === undefined ? undefined : parseJsonObject(headerText);
    if (header === undefined) return reject('malformed', 'JWT header is not a JSON object');

    // -- signature --
    const alg = header.alg;
    if (typeof alg !== 'string') return reject('malformed', 'JWT header has no alg');
    if (!(JWT_ALGS as readonly string[]).includes(alg)) return reject('alg-not-allowed', `alg ${JSON.stringify(alg)} is not supported`);
    if (Object.hasOwn(header, 'crit')) return reject('malformed', 'JWT header has crit extensions, none are understood');
    const ofAlg = this.#keys.filter((k) => k.alg === alg);
    if (ofAlg.length === 0) return reject('alg-not-allowed', `no configured key has alg ${alg}`);
    const kid = header.kid;
    if (kid !== undefined && typeof kid !== 'string') return reject('malformed', 'JWT header kid is not a string');
    const candidates = kid === undefined ? ofAlg : ofAlg.filter((k) => k.kid === undefined || k.kid === kid);
    if (candidates.length === 0) return reject('unknown-key', `no ${alg} key has kid ${JSON.stringify(kid)}`);
    const signingInput = utf8(`${headerB64}.${claimsB64}`);
    if (!candidates.some((k) => k.verify(signingInput, sig))) return reject('bad-signature', `no ${alg} key verifies the signature`);

    // -- claims --
    const claimsText = utf8Decode(claimsBytes);
    const claims = claimsText === undefined ? undefined : parseJsonObject(claimsText);
    if (claims === undefined) return reject('malformed', 'JWT claims are not a JSON object');
    const exp = numericDate(claims, 'exp');
    const nbf = numericDate(claims, 'nbf');
    const iat = numericDate(claims, 'iat');
    const iss = stringClaim(claims, 'iss');
    const sub = stringClaim(claims, 'sub');
    if (exp === 'bad' || nbf === 'bad' || iat === 'bad') {
      return reject('malformed', `exp, nbf and iat must be numbers of seconds within ±${MAX_NUMERIC_DATE_S}`);
    }
    if (iss === 'bad' || sub === 'bad') return reject('malformed', 'iss and sub must be strings');
    const nowS = nowMs / 1000;
    const leeway = this.#leewayS;

    if (this.#issuers.length > 0) {
      if (iss === undefined) return reject('missing-claim', 'iss is required');
      if (!this.#issuers.includes(iss)) return reject('wrong-issuer', `iss ${JSON.stringify(iss)} is not one of ${JSON.stringify(this.#issuers)}`);
    }

    const subject = this.#subject ?? entry.peerId.hex;
    if (sub === undefined) return reject('missing-claim', 'sub is required');
    if (sub !== subject) return reject('wrong-subject', `sub ${JSON.stringify(sub)} is not ${JSON.stringify(subject)}`);

    if (nbf !== undefined && nbf > nowS + leeway) return reject('not-yet-valid', `nbf ${nbf} is after now ${nowS}`);
    if (iat !== undefined && iat > nowS + leeway) return reject('not-yet-valid', `iat ${iat} is after now ${nowS}`);

    if (exp === undefined) {
      if (!this.#allowNoExpiry) return reject('missing-claim', 'exp is required (allowNoExpiry is off)');
    } else if (exp + leeway <= nowS) {
      return reject('expired', `exp ${exp} is not after now ${nowS}`);
    }

    const maxLifetimeS = this.#maxLifetimeS;
    if (maxLifetimeS !== undefined) {
      if (exp === undefined) return reject('lifetime-too-long', `a token without exp exceeds maxLifetimeS ${maxLifetimeS}`);
      const issued = iat ?? nbf;
      if (issued !== undefined && exp - issued > maxLifetimeS) {
        return reject('lifetime-too-long', `exp − ${iat !== undefined ? 'iat' : 'nbf'} = ${exp - issued} s exceeds ${maxLifetimeS} s`);
      }
      if (exp - nowS > maxLifetimeS + leeway) return reject('lifetime-too-long', `exp − now = ${exp - nowS} s exceeds ${maxLifetimeS} s`);
    }

    const maxAgeS = this.#maxAgeS;
    if (maxAgeS !== undefined) {
      if (iat === undefined) return reject('missing-claim', 'iat is required (maxAgeS is set)');
      if (nowS - iat > maxAgeS + leeway) return reject('too-old', `now − iat = ${nowS - iat} s exceeds ${maxAgeS} s`);
    }

    const audience = this.#audience;
    if (audience !== undefined) {
      if (!Object.hasOwn(claims, 'aud')) return reject('missing-claim', 'aud is required');
      const aud = claims.aud;
      const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined;
      if (auds === undefined) return reject('malformed', 'aud must be a string or an array of strings');
      if (!auds.some((a) => audience.includes(a))) return reject('wrong-audience', `aud ${JSON.stringify(aud)} is not one of ${JSON.stringify(audience)}`);
    }

    for (const [name, value] of this.#claims) {
      if (!Object.hasOwn(claims, name)) return reject('missing-claim', `${name} is required`);
      if (!jsonEqual(claims[name], value)) return reject('claim-mismatch', `${name} is ${JSON.stringify(claims[name])}, expected ${JSON.stringify(value)}`);
    }

    return accept(exp === undefined ? NEVER : expiresAtS(exp + leeway));
  }
}

function expiresAtS(s: number): Expiration {
  return expiresAt(Math.floor(s * 1000));
}

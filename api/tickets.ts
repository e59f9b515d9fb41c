import { type CryptoKey, type JWK, type KeyObject, SignJWT } from 'jose';
import type { Ticket } from '../core/discovery/peer-entry.ts';
import { InvalidArgumentError, MosaikError } from '../core/errors.ts';
import { Digest, type NetworkId } from '../core/identity/digest.ts';
import { PeerId } from '../core/identity/keys.ts';
import { JWT_ALGS, type JwtAlg, MAX_NUMERIC_DATE_S } from '../core/tickets/jwt.ts';
import { jwtTicket } from '../core/tickets/jwt-sign.ts';
import { parseQuote } from '../core/tickets/tdx/quote.ts';
import { tdxReportData, tdxTicket } from '../core/tickets/tdx/ticket-data.ts';
import { type Expiration, expiresAt, MAX_TIME_MS, NEVER } from '../core/tickets/ticket.ts';
import { equalBytes } from '../core/util/bytes.ts';
import { checkedTimeoutMs } from './deadline.ts';

/**
 * Making tickets, outside the deterministic core: `issueJwtTicket` signs with `jose`
 * (WebCrypto, async), and `issueTdxTicket` asks a `QuoteProvider` for a quote. Validators
 * (`JwtValidator`, `TdxValidator`) live in core/tickets and are synchronous.
 */

// ---- JWT -------------------------------------------------------------------------------------------

/** A signing key jose accepts: an HS secret (bytes), a private CryptoKey or KeyObject, or a private JWK. */
export type JwtIssuingKey = Uint8Array | CryptoKey | KeyObject | JWK;

export interface IssueJwtTicketOptions {
  readonly key: JwtIssuingKey;
  /** The JWS algorithm. @defaultValue inferred: HS256 for bytes, from the curve for EC/OKP keys */
  readonly alg?: JwtAlg;
  /** Optional `kid` header, to pick among a validator's rotated keys. */
  readonly kid?: string;
  readonly issuer: string;
  /** The peer the ticket is for (its hex id is the `sub` a default validator expects), or any subject string. */
  readonly subject: PeerId | string;
  readonly audience?: string | readonly string[];
  /** Seconds from `iat` to `exp`; `null` issues a token without `exp` (validators refuse it unless `allowNoExpiry`). */
  readonly expiresInS: number | null;
  /** `nbf`, as seconds after `iat` (0 = valid from issuance); absent: no `nbf`. */
  readonly notBeforeS?: number;
  /** Extra claims; the standard ones above take precedence. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Issuance time, wall-clock ms. @defaultValue Date.now() */
  readonly nowMs?: number;
}

function badJwtOption(why: string): never {
  throw new InvalidArgumentError(`issueJwtTicket: ${why}`);
}

/** Shortest HS secret per alg: the hash output, as validators require (RFC 7518 §3.2). */
const HS_SECRET_BYTES: Record<string, number | undefined> = { HS256: 32, HS384: 48, HS512: 64 };

const CURVE_ALG: Record<string, JwtAlg> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', Ed25519: 'EdDSA' };

function inferAlg(key: JwtIssuingKey): JwtAlg | undefined {
  if (key instanceof Uint8Array) return 'HS256';
  if (typeof key !== 'object' || key === null) return undefined;
  if ('algorithm' in key && typeof key.algorithm === 'object') {
    const a = key.algorithm as { name?: string; namedCurve?: string; hash?: { name?: string } };
    if (a.name === 'Ed25519') return 'EdDSA';
    if (a.name === 'ECDSA' && a.namedCurve) return CURVE_ALG[a.namedCurve];
    if (a.name === 'HMAC' && a.hash?.name) return `HS${a.hash.name.replace('SHA-', '')}` as JwtAlg;
    return undefined;
  }
  if ('asymmetricKeyType' in key) {
    const k = key as { asymmetricKeyType?: string; asymmetricKeyDetails?: { namedCurve?: string } };
    if (k.asymmetricKeyType === 'ed25519') return 'EdDSA';
    const curve = k.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : undefined;
  }
  const jwk = key as JWK;
  if (typeof jwk.alg === 'string') return jwk.alg as JwtAlg;
  return jwk.crv !== undefined ? CURVE_ALG[jwk.crv] : undefined;
}

/**
 * Issues a JWT ticket for a peer: `{iss, sub, aud?, iat, nbf?, exp?, ...claims}` signed with
 * `key` (header `{alg, typ: 'JWT', kid?}`), as a ticket of class `JWT_TICKET_CLASS`. Add it with
 * `net.discovery.addTicket(t)`. Throws an InvalidArgumentError for options validators would
 * make useless or jose cannot use: an algorithm that cannot be inferred or is unsupported, an
 * HS secret shorter than the hash output (32/48/64 bytes), a missing `expiresInS` or one ≤ 0,
 * a time beyond ±MAX_NUMERIC_DATE_S, a non-string issuer/subject/audience/kid, claims that are
 * not JSON. jose's own errors remain for a key object that does not fit the algorithm.
 */
export async function issueJwtTicket(options: IssueJwtTicketOptions): Promise<Ticket> {
  if (typeof options !== 'object' || options === null) badJwtOption('options must be an object');
  const key = options.key;
  if (!(key instanceof Uint8Array) && (typeof key !== 'object' || key === null)) badJwtOption('key must be HS secret bytes, a CryptoKey, a KeyObject or a JWK');
  const alg = options.alg ?? inferAlg(key);
  if (alg === undefined || !JWT_ALGS.includes(alg)) badJwtOption(`cannot use alg ${String(alg)}; pass one of ${JWT_ALGS.join(', ')}`);
  const secretBytes = HS_SECRET_BYTES[alg as string];
  if (key instanceof Uint8Array && secretBytes !== undefined && key.length < secretBytes) {
    badJwtOption(`key: an ${alg} secret must be at least ${secretBytes} bytes (validators refuse shorter ones), got ${key.length}`);
  }
  if (options.expiresInS === undefined) badJwtOption('expiresInS is required (null for a token without exp)');
  for (const name of ['expiresInS', 'notBeforeS', 'nowMs'] as const) {
    const value: unknown = options[name];
    if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isFinite(value)))
      badJwtOption(`${name} must be a finite number, got ${String(value)}`);
  }
  if (options.expiresInS !== null && options.expiresInS <= 0)
    badJwtOption(`expiresInS must be positive (the token would be born expired), got ${options.expiresInS}`);
  if (typeof options.issuer !== 'string') badJwtOption('issuer must be a string');
  const subject = options.subject;
  if (typeof subject !== 'string' && !(subject instanceof PeerId)) badJwtOption('subject must be a PeerId or a string');
  const audience = options.audience;
  if (audience !== undefined && typeof audience !== 'string' && !(Array.isArray(audience) && audience.every((a) => typeof a === 'string'))) {
    badJwtOption('audience must be a string or an array of strings');
  }
  if (options.kid !== undefined && typeof options.kid !== 'string') badJwtOption('kid must be a string');
  const claims = options.claims ?? {};
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) badJwtOption('claims must be an object');
  try {
    JSON.stringify(claims);
  } catch (e) {
    throw new InvalidArgumentError(`issueJwtTicket: claims are not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const payload: Record<string, unknown> = { ...claims };
  payload.iss = options.issuer;
  payload.sub = typeof subject === 'string' ? subject : subject.hex;
  if (audience !== undefined) payload.aud = typeof audience === 'string' ? audience : [...audience];
  payload.iat = iat;
  if (options.notBeforeS !== undefined) payload.nbf = iat + options.notBeforeS;
  if (options.expiresInS !== null) payload.exp = iat + options.expiresInS;
  for (const name of ['iat', 'nbf', 'exp'] as const) {
    const t = payload[name];
    if (typeof t === 'number' && !(Math.abs(t) <= MAX_NUMERIC_DATE_S))
      badJwtOption(`${name} ${t} is outside ±${MAX_NUMERIC_DATE_S} s, which validators refuse`);
  }
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg, typ: 'JWT', ...(options.kid !== undefined ? { kid: options.kid } : {}) })
    .sign(options.key);
  return jwtTicket(token);
}

// ---- TDX -------------------------------------------------------------------------------------------

/** TDX is not available here (no TDX guest, no configfs-tsm). */
export class TdxUnavailableError extends MosaikError {
  override readonly name = 'TdxUnavailableError';
  readonly code = 'TDX_UNAVAILABLE';
}

/** A TDX quote generation failed on a machine that has TDX. */
export class QuoteGenerationError extends MosaikError {
  override readonly name = 'QuoteGenerationError';
  readonly code = 'QUOTE_GENERATION';
}

/**
 * Where quotes come from: the Linux configfs-tsm interface on a TDX guest
 * (`net-real/tdx-configfs.ts`), or the simulated Intel hierarchy (`net-sim/attestation.ts`).
 */
export interface QuoteProvider {
  /** True when this provider can produce quotes here. */
  available(): Promise<boolean>;
  /** A quote over exactly 64 bytes of report data. Rejects with TdxUnavailableError or QuoteGenerationError. */
  quote(reportData: Uint8Array, options?: { readonly signal?: AbortSignal }): Promise<Uint8Array>;
}

export interface IssueTdxTicketOptions {
  readonly provider: QuoteProvider;
  readonly peerId: PeerId;
  readonly network: NetworkId;
  /** The node's start (its entry's `version.start`), wall-clock ms. */
  readonly startedAtMs: number;
  readonly expiration: Expiration;
  /** @defaultValue Date.now() */
  readonly nowMs?: number;
  readonly signal?: AbortSignal;
  /**
   * How long the provider may take, ms: past it the call rejects with QuoteGenerationError
   * (its `cause` a TimeoutError) and the provider's signal aborts. An integer from 1 to
   * 2^31 − 1. @defaultValue 30 000
   */
  readonly timeoutMs?: number;
}

/** A quote takes milliseconds to seconds (the host's quoting service); half a minute means it is stuck. */
const DEFAULT_QUOTE_TIMEOUT_MS = 30_000;

function badTdxOption(why: string): never {
  throw new InvalidArgumentError(`issueTdxTicket: ${why}`);
}

/** A wall-clock time option, ms: an integer in [0, MAX_TIME_MS]. */
function tdxTimeMs(name: string, v: unknown): number {
  if (!(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIME_MS))
    badTdxOption(`${name} must be an integer of ms in [0, ${MAX_TIME_MS}], got ${String(v)}`);
  return v as number;
}

/** The QuoteGenerationError an aborted `issueTdxTicket` rejects with; the abort reason is its `cause`. */
function abortedError(signal: AbortSignal): QuoteGenerationError {
  return new QuoteGenerationError('issueTdxTicket: aborted', { cause: signal.reason });
}

/** `p`, or a rejection as soon as `signal` aborts, whether or not the provider honours it. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(signal.aborted ? abortedError(signal) : e);
      },
    );
  });
}

/**
 * Issues a TDX ticket: binds (peer, network, startedAt, now, expiration) into the report data
 * and asks `provider` for a quote over it.
 *
 * - Bad arguments are InvalidArgumentErrors naming the option: a provider without `quote`, a
 *   peerId or network that is not a PeerId/Digest, `startedAtMs` or `expiration.atMs` not an
 *   integer in [0, MAX_TIME_MS], `nowMs` not a number in that range, an unknown
 *   `expiration.kind`, and an expiration already in the past (mosaik's ExpirationInThePast).
 * - When `signal` aborts (before or during the quote) it rejects at once with a
 *   QuoteGenerationError whose `cause` is the abort reason, even if the provider ignores the signal.
 * - A provider that has not answered within `timeoutMs` (30 s by default) is aborted the same
 *   way: QuoteGenerationError, its `cause` the deadline's TimeoutError.
 * - A provider answer that is not a quote (not bytes, does not parse as a TDX quote, or carries
 *   other report data) is a QuoteGenerationError: such a ticket would be refused by every validator.
 */
export async function issueTdxTicket(options: IssueTdxTicketOptions): Promise<Ticket> {
  if (typeof options !== 'object' || options === null) badTdxOption('options must be an object');
  const provider = options.provider;
  if (typeof provider !== 'object' || provider === null || typeof provider.quote !== 'function') badTdxOption('provider must be a QuoteProvider');
  if (!(options.peerId instanceof PeerId)) badTdxOption('peerId must be a PeerId');
  if (!(options.network instanceof Digest)) badTdxOption('network must be a NetworkId');
  const startedAtMs = tdxTimeMs('startedAtMs', options.startedAtMs);
  const nowMs: unknown = options.nowMs ?? Date.now();
  if (!(typeof nowMs === 'number' && nowMs >= 0 && nowMs <= MAX_TIME_MS)) badTdxOption(`nowMs must be ms in [0, ${MAX_TIME_MS}], got ${String(nowMs)}`);
  const quotedAtMs = Math.floor(nowMs);
  const e: unknown = options.expiration;
  let expiration: Expiration;
  if (typeof e === 'object' && e !== null && (e as Expiration).kind === 'never') expiration = NEVER;
  else if (typeof e === 'object' && e !== null && (e as Expiration).kind === 'at') {
    expiration = expiresAt(tdxTimeMs('expiration.atMs', (e as { atMs: unknown }).atMs));
  } else badTdxOption("expiration must be { kind: 'never' } or { kind: 'at', atMs }");
  if (expiration.kind === 'at' && expiration.atMs <= quotedAtMs) {
    throw new InvalidArgumentError(`issueTdxTicket: expiration ${expiration.atMs} is not after now ${quotedAtMs}`);
  }
  const userSignal = options.signal;
  if (userSignal !== undefined && !(userSignal instanceof AbortSignal)) badTdxOption('signal must be an AbortSignal');
  if (userSignal?.aborted) throw abortedError(userSignal);
  const timeoutMs = checkedTimeoutMs(options.timeoutMs, 'issueTdxTicket: timeoutMs') ?? DEFAULT_QUOTE_TIMEOUT_MS;
  const binding = { peerId: options.peerId, network: options.network, startedAtMs, quotedAtMs, expiration };
  const reportData = tdxReportData(binding);
  // The caller's signal or the deadline, whichever comes first, aborts the provider and the call:
  // a provider that never answers would otherwise hold the call for ever.
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = userSignal === undefined ? deadline : AbortSignal.any([userSignal, deadline]);
  let quote: unknown;
  try {
    quote = await untilAborted((async () => provider.quote(reportData, { signal }))(), signal);
  } catch (error) {
    if (deadline.aborted && !userSignal?.aborted)
      throw new QuoteGenerationError(`issueTdxTicket: the provider did not answer within ${timeoutMs} ms`, { cause: deadline.reason });
    throw error;
  }
  if (!(quote instanceof Uint8Array))
    throw new QuoteGenerationError(`issueTdxTicket: the provider answered ${quote === null ? 'null' : typeof quote}, not quote bytes`);
  const parsed = parseQuote(quote);
  if (!parsed.ok) throw new QuoteGenerationError(`issueTdxTicket: the provider's ${quote.length} bytes are not a TDX quote: ${parsed.detail}`);
  if (!equalBytes(parsed.quote.body.reportData, reportData)) throw new QuoteGenerationError('issueTdxTicket: the provider quoted other report data');
  return tdxTicket({ ...binding, quote: Uint8Array.from(quote) });
}

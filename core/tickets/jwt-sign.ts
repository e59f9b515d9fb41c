import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import type { Ticket } from '../discovery/peer-entry.ts';
import { utf8 } from '../util/bytes.ts';
import { base64UrlEncode } from './encoding.ts';
import { type EcdsaAlg, type EdAlg, type HmacAlg, JWT_TICKET_CLASS } from './jwt.ts';

/**
 * A synchronous JWT signer (noble), for the deterministic simulator and tests: the same
 * input always gives the same token (ECDSA uses RFC 6979 nonces). Applications use
 * `issueJwtTicket` (api/tickets.ts, backed by `jose`); the validator accepts both.
 */

/** A signing key: the HS secret, or the ES/EdDSA secret scalar / Ed25519 seed as raw bytes. */
export type JwtSigningKey =
  | { readonly alg: HmacAlg; readonly secret: Uint8Array; readonly kid?: string }
  | { readonly alg: EcdsaAlg | EdAlg; readonly secretKey: Uint8Array; readonly kid?: string };

const HMAC_HASH = { HS256: sha256, HS384: sha384, HS512: sha512 } as const;
const CURVE = { ES256: p256, ES384: p384, ES512: p521 } as const;

/**
 * Signs `claims` as a compact JWS. The header is `{alg, typ: 'JWT'}` (plus `kid` when the key
 * has one) merged with `extraHeader`, which may override anything (tests use it to forge).
 */
export function signJwt(key: JwtSigningKey, claims: Readonly<Record<string, unknown>>, extraHeader: Readonly<Record<string, unknown>> = {}): string {
  const header = { alg: key.alg, typ: 'JWT', ...(key.kid !== undefined ? { kid: key.kid } : {}), ...extraHeader };
  const input = `${base64UrlEncode(utf8(JSON.stringify(header)))}.${base64UrlEncode(utf8(JSON.stringify(claims)))}`;
  const message = utf8(input);
  let sig: Uint8Array;
  if ('secret' in key) sig = hmac(HMAC_HASH[key.alg], key.secret, message);
  else if (key.alg === 'EdDSA' || key.alg === 'Ed25519') sig = ed25519.sign(message, key.secretKey);
  else sig = CURVE[key.alg].sign(message, key.secretKey, { prehash: true, format: 'compact' });
  return `${input}.${base64UrlEncode(sig)}`;
}

/** A JWT as a ticket: class `JWT_TICKET_CLASS`, data the token's UTF-8. */
export function jwtTicket(token: string): Ticket {
  return Object.freeze({ class: JWT_TICKET_CLASS, data: utf8(token) });
}

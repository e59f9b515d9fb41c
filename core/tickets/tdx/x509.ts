import { p256 } from '@noble/curves/nist.js';
import { equalBytes } from '../../util/bytes.ts';
import { base64Decode } from '../encoding.ts';
import {
  children,
  content,
  contextTag,
  DerError,
  type DerNode,
  expect,
  raw,
  readBitString,
  readBoolean,
  readDer,
  readOid,
  readSmallInteger,
  readTime,
  readUnsignedInteger,
  TAG,
} from './der.ts';

/**
 * Just enough X.509 to check a TDX quote's PCK certificate chain: Intel's chain is
 * PCK leaf → Platform/Processor CA → Intel SGX Root CA, every certificate an ECDSA P-256 key
 * signed with ecdsa-with-SHA256. Certificates with other algorithms parse, but never verify.
 */

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
} as const;

/** The parts of a certificate the chain check reads. */
export interface Certificate {
  /** The whole certificate (DER). */
  readonly der: Uint8Array;
  /** The TBSCertificate bytes its signature covers. */
  readonly tbs: Uint8Array;
  /** Issuer and subject Names, as DER (compared byte for byte). */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** The uncompressed P-256 public key, or undefined for any other key type. */
  readonly publicKey: Uint8Array | undefined;
  readonly signatureAlgorithm: string;
  /** The signature as compact r‖s (64 bytes) for ecdsa-with-SHA256; undefined otherwise. */
  readonly signature: Uint8Array | undefined;
  /** basicConstraints cA (false when absent). */
  readonly isCa: boolean;
  readonly pathLen: number | undefined;
  /** keyUsage keyCertSign; undefined when the certificate has no keyUsage extension. */
  readonly keyCertSign: boolean | undefined;
  /** OIDs of critical extensions this parser does not understand. */
  readonly unknownCritical: readonly string[];
}

function fixed32(magnitude: Uint8Array): Uint8Array {
  if (magnitude.length > 32) throw new DerError('ECDSA integer longer than 32 bytes');
  const out = new Uint8Array(32);
  out.set(magnitude, 32 - magnitude.length);
  return out;
}

/** Parses a DER certificate; undefined (with nothing thrown) for anything malformed. */
export function parseCertificate(der: Uint8Array): Certificate | undefined {
  try {
    return parse(Uint8Array.from(der));
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}

function parse(der: Uint8Array): Certificate {
  const [tbsNode, sigAlgNode, sigNode, ...extra] = children(expect(readDer(der), TAG.SEQUENCE, 'certificate'));
  if (extra.length > 0) throw new DerError('certificate: extra fields');
  const tbsFields = children(expect(tbsNode, TAG.SEQUENCE, 'tbsCertificate'));
  let i = 0;
  if (tbsFields[0]?.tag === contextTag(0)) {
    const [v] = children(tbsFields[0]);
    if (v === undefined || readSmallInteger(v) > 2) throw new DerError('bad version');
    i++;
  }
  const serial = expect(tbsFields[i++], TAG.INTEGER, 'serialNumber');
  void serial;
  const innerAlg = algorithmOid(tbsFields[i++]);
  const issuer = expect(tbsFields[i++], TAG.SEQUENCE, 'issuer');
  const [nb, na, ...vExtra] = children(expect(tbsFields[i++], TAG.SEQUENCE, 'validity'));
  if (nb === undefined || na === undefined || vExtra.length > 0) throw new DerError('validity');
  const subject = expect(tbsFields[i++], TAG.SEQUENCE, 'subject');
  const publicKey = readSpki(expect(tbsFields[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo'));

  let isCa = false;
  let pathLen: number | undefined;
  let keyCertSign: boolean | undefined;
  const unknownCritical: string[] = [];
  for (; i < tbsFields.length; i++) {
    const f = tbsFields[i] as DerNode;
    if (f.tag === 0x81 || f.tag === 0x82) continue; // issuerUniqueID, subjectUniqueID
    if (f.tag !== contextTag(3) || i !== tbsFields.length - 1) throw new DerError(`tbsCertificate: unexpected field 0x${f.tag.toString(16)}`);
    const [exts, ...more] = children(f);
    if (more.length > 0) throw new DerError('extensions');
    for (const ext of children(expect(exts, TAG.SEQUENCE, 'extensions'))) {
      const parts = children(expect(ext, TAG.SEQUENCE, 'extension'));
      const id = readOid(parts[0] as DerNode);
      let critical = false;
      let valueNode = parts[1];
      if (valueNode?.tag === TAG.BOOLEAN) {
        critical = readBoolean(valueNode);
        valueNode = parts[2];
      }
      const value = content(expect(valueNode, TAG.OCTET_STRING, 'extnValue'));
      if (id === OID.basicConstraints) {
        const bc = children(expect(readDer(value), TAG.SEQUENCE, 'basicConstraints'));
        let j = 0;
        if (bc[j]?.tag === TAG.BOOLEAN) isCa = readBoolean(bc[j++] as DerNode);
        if (bc[j]?.tag === TAG.INTEGER) pathLen = readSmallInteger(bc[j++] as DerNode);
        if (j !== bc.length) throw new DerError('basicConstraints');
      } else if (id === OID.keyUsage) {
        const bits = content(expect(readDer(value), TAG.BIT_STRING, 'keyUsage'));
        // keyCertSign is bit 5: the first content byte after the unused-bits count, mask 0x04.
        keyCertSign = bits.length >= 2 && ((bits[1] as number) & 0x04) !== 0;
      } else if (critical) {
        unknownCritical.push(id);
      }
    }
  }

  const signatureAlgorithm = algorithmOid(sigAlgNode);
  if (signatureAlgorithm !== innerAlg) throw new DerError('signatureAlgorithm differs from tbsCertificate.signature');
  const sigBits = readBitString(expect(sigNode, TAG.BIT_STRING, 'signatureValue'));
  let signature: Uint8Array | undefined;
  if (signatureAlgorithm === OID.ecdsaWithSha256) {
    const [r, s, ...rest] = children(expect(readDer(sigBits), TAG.SEQUENCE, 'ECDSA-Sig-Value'));
    if (r === undefined || s === undefined || rest.length > 0) throw new DerError('ECDSA-Sig-Value');
    const out = new Uint8Array(64);
    out.set(fixed32(readUnsignedInteger(r)), 0);
    out.set(fixed32(readUnsignedInteger(s)), 32);
    signature = out;
  }
  return Object.freeze({
    der,
    tbs: raw(tbsNode as DerNode),
    issuer: raw(issuer),
    subject: raw(subject),
    notBeforeMs: readTime(nb),
    notAfterMs: readTime(na),
    publicKey,
    signatureAlgorithm,
    signature,
    isCa,
    pathLen,
    keyCertSign,
    unknownCritical,
  });
}

/** The OID of an AlgorithmIdentifier (parameters, if any, are not read). */
function algorithmOid(n: DerNode | undefined): string {
  const [id] = children(expect(n, TAG.SEQUENCE, 'AlgorithmIdentifier'));
  return readOid(expect(id, TAG.OID, 'algorithm'));
}

function readSpki(n: DerNode): Uint8Array | undefined {
  const [alg, key, ...rest] = children(n);
  if (rest.length > 0) throw new DerError('subjectPublicKeyInfo');
  const [algId, params] = children(expect(alg, TAG.SEQUENCE, 'spki algorithm'));
  const bits = readBitString(expect(key, TAG.BIT_STRING, 'subjectPublicKey'));
  if (readOid(expect(algId, TAG.OID, 'spki algorithm')) !== OID.ecPublicKey) return undefined;
  if (params?.tag !== TAG.OID || readOid(params) !== OID.prime256v1) return undefined;
  try {
    return p256.Point.fromBytes(bits).toBytes(false);
  } catch {
    throw new DerError('subjectPublicKey is not a P-256 point');
  }
}

/** Verifies that `issuer`'s key signed `cert` (ecdsa-with-SHA256 over the TBSCertificate). */
export function isSignedBy(cert: Certificate, issuer: Certificate): boolean {
  if (cert.signature === undefined || issuer.publicKey === undefined) return false;
  try {
    return p256.verify(cert.signature, cert.tbs, issuer.publicKey, { prehash: true, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;

/**
 * The DER certificates of a PEM bundle, in order. Only whitespace and trailing NUL bytes may
 * surround the blocks (Intel's quotes end the chain with a NUL). Undefined when malformed.
 */
export function parsePemCertificates(text: string): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let last = 0;
  for (const m of text.matchAll(PEM_CERT)) {
    if (text.slice(last, m.index).trim() !== '') return undefined;
    const der = base64Decode((m[1] as string).replace(/\s+/g, ''));
    if (der === undefined || der.length === 0) return undefined;
    out.push(der);
    last = m.index + m[0].length;
  }
  if (text.slice(last).replace(/\0+$/, '').trim() !== '') return undefined;
  return out.length > 0 ? out : undefined;
}

export type ChainResult =
  /** `validUntilMs`: the earliest notAfter on the path (the trusted root's included): the chain holds until then. */
  | { readonly ok: true; readonly leaf: Certificate; readonly validUntilMs: number }
  | { readonly ok: false; readonly code: 'untrusted-chain' | 'certificate-expired' | 'malformed'; readonly detail: string };

/** Most certificates a chain may have (Intel's has 3). */
export const MAX_CHAIN_LENGTH = 5;

function withinValidity(c: Certificate, nowMs: number): boolean {
  return c.notBeforeMs <= nowMs && nowMs <= c.notAfterMs;
}

function canIssue(ca: Certificate, below: number): string | undefined {
  if (!ca.isCa) return 'is not a CA (basicConstraints cA is not set)';
  if (ca.keyCertSign === false) return 'may not sign certificates (keyUsage lacks keyCertSign)';
  if (ca.pathLen !== undefined && below > ca.pathLen) return `allows ${ca.pathLen} intermediate CAs below it, has ${below}`;
  return undefined;
}

/**
 * Checks `chainDer` (leaf first, each certificate issued by the next) up to one of `roots`:
 * every link must verify (issuer name = next subject, byte for byte, and the next key signs
 * it), and the last certificate must either be a trusted root itself or be signed by one.
 * Every certificate on the path, the trusted root included, must be within its validity
 * period at `nowMs`; issuers must be CAs (basicConstraints cA, keyUsage keyCertSign when
 * present, pathLen); no certificate may carry an unknown critical extension. Returns the
 * parsed leaf.
 */
export function verifyChain(chainDer: readonly Uint8Array[], roots: readonly Certificate[], nowMs: number): ChainResult {
  if (chainDer.length === 0 || chainDer.length > MAX_CHAIN_LENGTH) {
    return { ok: false, code: 'malformed', detail: `chain of ${chainDer.length} certificates (1..${MAX_CHAIN_LENGTH})` };
  }
  const chain: Certificate[] = [];
  for (const [i, der] of chainDer.entries()) {
    const c = parseCertificate(der);
    if (c === undefined) return { ok: false, code: 'malformed', detail: `certificate ${i} does not parse` };
    chain.push(c);
  }
  const untrusted = (detail: string): ChainResult => ({ ok: false, code: 'untrusted-chain', detail });
  const expired = (detail: string): ChainResult => ({ ok: false, code: 'certificate-expired', detail });
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i] as Certificate;
    if (c.unknownCritical.length > 0) return untrusted(`certificate ${i} has unknown critical extensions ${c.unknownCritical.join(', ')}`);
    if (!withinValidity(c, nowMs)) return expired(`certificate ${i} is not valid at ${nowMs}`);
    // An issuer at index i has i - 1 CAs below it on the path (every certificate but the leaf).
    if (i > 0) {
      const why = canIssue(c, i - 1);
      if (why !== undefined) return untrusted(`certificate ${i} ${why}`);
    }
    const next = chain[i + 1];
    if (next === undefined) break;
    if (!equalBytes(next.subject, c.issuer)) return untrusted(`certificate ${i}'s issuer is not certificate ${i + 1}'s subject`);
    if (!isSignedBy(c, next)) return untrusted(`certificate ${i}'s signature does not verify with certificate ${i + 1}'s key`);
  }
  const last = chain[chain.length - 1] as Certificate;
  const leaf = chain[0] as Certificate;
  const validUntilMs = Math.min(...chain.map((c) => c.notAfterMs));
  if (roots.some((r) => equalBytes(r.der, last.der))) return { ok: true, leaf, validUntilMs };
  const root = roots.find((r) => equalBytes(r.subject, last.issuer) && isSignedBy(last, r));
  if (root === undefined) return untrusted('the chain does not end at, or under, a trusted root');
  if (!withinValidity(root, nowMs)) return expired('the trusted root is not valid now');
  const why = canIssue(root, chain.length - 1);
  if (why !== undefined) return untrusted(`the trusted root ${why}`);
  return { ok: true, leaf, validUntilMs: Math.min(validUntilMs, root.notAfterMs) };
}

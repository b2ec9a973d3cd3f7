// Shared plumbing for the OpenID4VC interop wallet drivers (wallet_vci.mjs, wallet_vp.mjs):
// stdin/stdout JSON, step-tagged errors, a fetch wrapper (loopback-only http, timeout,
// no redirects, request trace) and the crypto callbacks the @openid4vc/* libraries want
// (signJwt, verifyJwt, encryptJwe, hash, generateRandom) implemented with `jose` and node:crypto.

import { X509Certificate, createHash, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';

export const VERSIONS = Object.fromEntries(
  ['@openid4vc/openid4vci', '@openid4vc/openid4vp', '@openid4vc/oauth2', '@sd-jwt/sd-jwt-vc', 'dcql', 'jose'].map((p) => [
    p,
    JSON.parse(readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url), 'utf8')).version,
  ]),
);

export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** An error that knows which step of the flow failed. */
export class StepError extends Error {
  constructor(step, message, extra) {
    super(message);
    this.name = 'StepError';
    this.step = step;
    if (extra) Object.assign(this, extra);
  }
}

/** Run `fn`, tagging any error with `step` (keeps the original as cause). */
export async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StepError) throw e;
    const err = new StepError(name, describeError(e));
    err.cause = e;
    throw err;
  }
}

/** Human-readable error text including the cause chain (fetch errors hide ECONNREFUSED there). */
export function describeError(e) {
  const parts = [`${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`];
  let c = e?.cause;
  for (let i = 0; c && i < 5; i++, c = c.cause) {
    const code = c.code ? ` [${c.code}]` : '';
    parts.push(`caused by ${c.name ?? 'Error'}: ${c.message ?? String(c)}${code}`);
  }
  return parts.join(' | ');
}

export async function readStdinJson() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StepError('parse_input', `stdin is not JSON: ${e.message}`);
  }
  if (!isObject(v)) throw new StepError('parse_input', 'stdin must be ONE JSON object');
  return v;
}

export function writeJson(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** Runs a driver's main(input) and maps the outcome onto stdout + exit code. */
export async function runDriver(main, http) {
  try {
    const input = await readStdinJson();
    writeJson(await main(input));
    return 0;
  } catch (e) {
    const stepName = e?.step ?? 'internal';
    const out = { error: `${stepName}: ${e instanceof StepError ? e.message : describeError(e)}`, step: stepName };
    if (e?.details) out.details = e.details;
    if (http?.trace?.length) out.http_trace = http.trace;
    writeJson(out);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
export function isLoopbackHost(hostname) {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * fetch wrapper handed to the libraries as `callbacks.fetch`:
 *  - plain http:// only to loopback hosts (the libraries' own check is a global on/off switch),
 *  - never follows redirects (OpenID4VP 1.0 §"HTTP Redirects": a 3xx is surfaced as-is),
 *  - a per-request timeout,
 *  - records [method, url, status] for error reports.
 */
export function makeHttp({ timeoutMs = 15000 } = {}) {
  const trace = [];
  async function httpFetch(input, init = {}) {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      trace.push({ method, url: url.href, status: 'refused' });
      throw new Error(`refusing ${url.protocol}// request to non-loopback host: ${url.href}`);
    }
    const entry = { method, url: url.href, status: null };
    trace.push(entry);
    try {
      const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      entry.status = res.status;
      const ct = res.headers.get('content-type');
      const cc = res.headers.get('cache-control');
      if (ct) entry.content_type = ct;
      if (cc) entry.cache_control = cc;
      return res;
    } catch (e) {
      entry.status = `error: ${e?.cause?.code ?? e?.cause?.message ?? e?.message ?? 'fetch failed'}`;
      throw e;
    }
  }
  return { fetch: httpFetch, trace };
}

// ---------------------------------------------------------------------------------------------
// Keys and JOSE callbacks

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
export function publicJwk(jwk) {
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.has(k)));
}
/** Only the key material (WebCrypto rejects some optional members). */
export function bareJwk(jwk, withPrivate = false) {
  const out = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  if (jwk.y !== undefined) out.y = jwk.y;
  if (withPrivate) out.d = jwk.d;
  return out;
}
/** The JWS algorithm a key implies (never taken from a header alone). */
export function algForJwk(jwk) {
  if (jwk?.kty === 'EC' && jwk?.crv === 'P-256') return 'ES256';
  if (jwk?.kty === 'EC' && jwk?.crv === 'P-384') return 'ES384';
  if (jwk?.kty === 'OKP' && jwk?.crv === 'Ed25519') return 'EdDSA';
  throw new Error(`unsupported key kty=${jwk?.kty} crv=${jwk?.crv}`);
}
export function sameKey(a, b) {
  return !!a && !!b && a.kty === b.kty && a.crv === b.crv && a.x === b.x && (a.y ?? null) === (b.y ?? null);
}
export function checkHolderJwk(jwk) {
  if (!isObject(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y || !jwk.d) {
    throw new StepError('parse_input', 'holder_jwk must be a private EC P-256 JWK (kty, crv, x, y, d)');
  }
  return jwk;
}

export async function generateEphemeralP256() {
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  return jose.exportJWK(privateKey);
}

/** The public JWK of a certificate given as base64 DER (an `x5c` entry). */
export function x5cEntryJwk(b64der) {
  return new X509Certificate(Buffer.from(b64der, 'base64')).publicKey.export({ format: 'jwk' });
}

/**
 * Key ring for the libraries' `signJwt` callback: the library hands us a JwtSigner
 * ({method:'jwk', publicJwk, alg} or {method:'x5c', x5c, alg}) plus header/payload; we find the
 * private key by its public coordinates (for x5c: those of the leaf certificate, x5c[0]) and
 * sign with `jose`.
 */
export function makeSigner(privateJwks) {
  const ring = [...privateJwks];
  const signJwt = async (signer, { header, payload }) => {
    let wanted;
    if (signer.method === 'jwk') wanted = signer.publicJwk;
    else if (signer.method === 'x5c' && Array.isArray(signer.x5c) && signer.x5c.length) wanted = x5cEntryJwk(signer.x5c[0]);
    else throw new Error(`signJwt: only methods 'jwk' and 'x5c' are supported here (got ${signer.method})`);
    const priv = ring.find((k) => sameKey(k, wanted));
    if (!priv) throw new Error(`signJwt: no private key for the requested ${signer.method === 'x5c' ? 'x5c leaf certificate' : 'public JWK'}`);
    const alg = algForJwk(priv);
    if (signer.alg !== alg) throw new Error(`signJwt: alg ${signer.alg} does not match the key (${alg})`);
    const key = await jose.importJWK(bareJwk(priv, true), alg);
    const jwt = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ ...header, alg })
      .sign(key);
    return { jwt, signerJwk: publicJwk(priv) };
  };
  return { signJwt, add: (jwk) => ring.push(jwk) };
}

/** Verify a compact JWS with a public JWK; the alg must be the one the key implies. */
export async function verifyCompactWithJwk(compact, jwk) {
  const alg = algForJwk(jwk);
  const key = await jose.importJWK(bareJwk(jwk), alg);
  await jose.compactVerify(compact, key, { algorithms: [alg] });
}

/**
 * encryptJwe callback (OpenID4VP direct_post.jwt): ECDH-ES with the verifier's key,
 * `kid` copied from the chosen JWK (OpenID4VP 1.0 §8.3), apu/apv as the library asks.
 */
export async function encryptJwe(encryptor, data) {
  const { publicJwk: jwk, alg, enc, apu, apv } = encryptor;
  if (alg !== 'ECDH-ES') throw new Error(`encryptJwe: only ECDH-ES is implemented (asked for ${alg})`);
  const key = await jose.importJWK(bareJwk(jwk), 'ECDH-ES');
  const header = { alg, enc };
  if (jwk.kid) header.kid = jwk.kid;
  const jwe = new jose.CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader(header);
  const kmp = {};
  if (apu) kmp.apu = Buffer.from(apu, 'base64url');
  if (apv) kmp.apv = Buffer.from(apv, 'base64url');
  if (Object.keys(kmp).length) jwe.setKeyManagementParameters(kmp);
  return { jwe: await jwe.encrypt(key), encryptionJwk: jwk };
}

const HASH_NAMES = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' };
export function hashCallback(data, alg) {
  const name = HASH_NAMES[alg];
  if (!name) throw new Error(`unsupported hash ${alg}`);
  return new Uint8Array(createHash(name).update(data).digest());
}
export const generateRandom = (n) => new Uint8Array(randomBytes(n));

export { jose, webcrypto };

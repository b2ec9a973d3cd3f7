#!/usr/bin/env node
// Interop peer: wraps the OpenWallet Foundation TypeScript SD-JWT libraries
// (@sd-jwt/sd-jwt-vc + @sd-jwt/core + @sd-jwt/crypto-nodejs, 0.19.x) behind the
// JSON-over-stdio contract described in tests/interop/README.md.
//
// Invocation (after tests/interop/install.sh):
//
//   node tests/interop/node/sdjwt_peer.mjs issue  < in.json
//   node tests/interop/node/sdjwt_peer.mjs verify < in.json
//
// Reads ONE JSON object from stdin, writes ONE JSON object to stdout (UTF-8).
// Exit 0 on success; exit 1 with {"error": "..."} on any failure.
//
// The exported functions are also imported by benches/peers/bench_node.mjs.

import { createPrivateKey, createPublicKey, randomBytes, sign, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';

export const LIB_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@sd-jwt/sd-jwt-vc/package.json', import.meta.url), 'utf8'),
).version;

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** Signature algorithm implied by the key (never taken from a header). */
export function algForJwk(jwk) {
  if (jwk?.kty === 'EC' && jwk?.crv === 'P-256') return 'ES256';
  if (jwk?.kty === 'OKP' && jwk?.crv === 'Ed25519') return 'EdDSA';
  throw new Error(`unsupported key: kty=${jwk?.kty} crv=${jwk?.crv} (need EC P-256 or OKP Ed25519)`);
}

export function publicJwk(jwk) {
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.has(k)));
}

// Only the key material: WebCrypto rejects some optional members (use, key_ops).
function bareJwk(jwk, withPrivate) {
  const out = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  if (jwk.y !== undefined) out.y = jwk.y;
  if (withPrivate) out.d = jwk.d;
  return out;
}

/** Signer (data string -> base64url signature) for a private JWK. */
export async function signerFor(jwk) {
  const alg = algForJwk(jwk);
  if (!jwk.d) throw new Error('private JWK (with d) required for signing');
  if (alg === 'ES256') return ES256.getSigner(bareJwk(jwk, true)); // @sd-jwt/crypto-nodejs (WebCrypto)
  // EdDSA: @sd-jwt/crypto-nodejs 0.19 has no Ed25519 helper -> node:crypto.
  const key = createPrivateKey({ key: bareJwk(jwk, true), format: 'jwk' });
  return async (data) => sign(null, Buffer.from(data, 'utf8'), key).toString('base64url');
}

/** Verifier (data, base64url signature) -> boolean for a (public) JWK. */
export async function verifierFor(jwk) {
  const alg = algForJwk(jwk);
  if (alg === 'ES256') return ES256.getVerifier(bareJwk(jwk, false));
  const key = createPublicKey({ key: bareJwk(jwk, false), format: 'jwk' });
  return async (data, sig) => cryptoVerify(null, Buffer.from(data, 'utf8'), key, Buffer.from(sig, 'base64url'));
}

// 128-bit salts, base64url (the crypto-nodejs generateSalt(16) gives only 16 hex chars = 64 bits).
const saltGenerator = async () => randomBytes(16).toString('base64url');

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Disclosure frame making a value's members / elements recursively SD. */
function sdFrame(value) {
  if (Array.isArray(value)) {
    const f = { _sd: value.map((_, i) => i) };
    value.forEach((v, i) => {
      const sub = sdFrame(v);
      if (sub) f[i] = sub;
    });
    return f;
  }
  if (isObject(value)) {
    const f = { _sd: Object.keys(value) };
    for (const [k, v] of Object.entries(value)) {
      const sub = sdFrame(v);
      if (sub) f[k] = sub;
    }
    return f;
  }
  return undefined;
}

function fullPresentFrame(value) {
  if (Array.isArray(value) && value.length) {
    return Object.fromEntries(value.map((v, i) => [i, fullPresentFrame(v)]));
  }
  if (isObject(value) && Object.keys(value).length) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fullPresentFrame(v)]));
  }
  return true;
}

/** Presentation frame for the top-level names in `disclose` (each with all nested members). */
export function presentationFrame(claims, disclose) {
  return Object.fromEntries(
    (disclose ?? []).filter((n) => Object.hasOwn(claims, n)).map((n) => [n, fullPresentFrame(claims[n])]),
  );
}

export async function makeIssuer(issuerJwk) {
  return new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator,
    signer: await signerFor(issuerJwk),
    signAlg: algForJwk(issuerJwk),
  });
}

export async function makeHolder(holderJwk) {
  return new SDJwtVcInstance({
    hasher: digest,
    saltGenerator,
    kbSigner: await signerFor(holderJwk),
    kbSignAlg: algForJwk(holderJwk),
  });
}

export async function makeVerifier(issuerJwk, statusListJwt) {
  const cfg = {
    hasher: digest,
    verifier: await verifierFor(publicJwk(issuerJwk)),
    // The library hands the verified, disclosed payload; the holder key is cnf.jwk.
    kbVerifier: async (data, sig, payload) => {
      const jwk = payload?.cnf?.jwk;
      if (!jwk) throw new Error('no cnf.jwk in the SD-JWT: cannot verify the KB-JWT');
      return (await verifierFor(jwk))(data, sig);
    },
  };
  // Without this the library fetches status.status_list.uri over the network.
  if (statusListJwt) cfg.statusListFetcher = async () => statusListJwt;
  return new SDJwtVcInstance(cfg);
}

/** Issue: returns the SD-JWT with all disclosures, no KB, ending in '~'. */
export async function issue(issuer, inp) {
  const reserved = new Set(['iss', 'vct', 'iat', 'exp', 'nbf', 'cnf', 'status', '_sd', '_sd_alg']);
  const payload = {
    iss: inp.iss,
    vct: inp.vct,
    iat: inp.iat,
    exp: inp.exp,
    cnf: { jwk: publicJwk(inp.holder_jwk) },
  };
  const frame = { _sd: [] };
  for (const [name, value] of Object.entries(inp.claims ?? {})) {
    if (reserved.has(name)) throw new Error(`claim ${name} cannot be selectively disclosable`);
    payload[name] = value;
    frame._sd.push(name);
    const sub = sdFrame(value);
    if (sub) frame[name] = sub;
  }
  const header = { typ: inp.typ ?? 'dc+sd-jwt' };
  if (inp.issuer_jwk?.kid) header.kid = inp.issuer_jwk.kid;
  return issuer.issue(payload, frame, { header });
}

/** Present with a KB-JWT (typ kb+jwt, iat now, aud, nonce, sd_hash added by the library). */
export async function present(holder, sdJwt, frame, aud, nonce) {
  return holder.present(sdJwt, frame, {
    kb: { payload: { iat: Math.floor(Date.now() / 1000), aud, nonce } },
  });
}

/** Verify issuer signature, disclosures and KB-JWT; returns the processed claims. */
export async function verify(verifier, presentation, aud, nonce) {
  if (!aud || !nonce) throw new Error('aud and nonce are required (key binding is mandatory)');
  // keyBindingNonce makes the library require + verify the KB-JWT (typ, signature
  // with cnf.jwk, nonce, sd_hash). It does NOT check aud: done here.
  const res = await verifier.verify(presentation, { keyBindingNonce: nonce });
  if (!res.kb) throw new Error('Key Binding JWT not verified');
  if (res.kb.payload.aud !== aud) throw new Error('Verify Error: Invalid aud in Key Binding JWT');
  return res.payload;
}

async function cmdIssue(inp) {
  algForJwk(inp.holder_jwk);
  const issuer = await makeIssuer(inp.issuer_jwk);
  const holder = await makeHolder(inp.holder_jwk);
  const sdJwt = await issue(issuer, inp);
  const frame = presentationFrame(inp.claims ?? {}, inp.disclose);
  const presentation = await present(holder, sdJwt, frame, inp.aud, inp.nonce);
  return { sd_jwt: sdJwt, presentation };
}

async function cmdVerify(inp) {
  const verifier = await makeVerifier(inp.issuer_jwk, inp.status_list_jwt);
  return { claims: await verify(verifier, inp.presentation, inp.aud, inp.nonce) };
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function write(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function main(argv) {
  const cmd = argv[2];
  if (argv.length !== 3 || (cmd !== 'issue' && cmd !== 'verify')) {
    write({ error: 'usage: sdjwt_peer.mjs issue|verify  (JSON on stdin)' });
    return 2;
  }
  try {
    const inp = JSON.parse(await readStdin());
    if (!isObject(inp)) throw new Error('input must be a JSON object');
    write(cmd === 'issue' ? await cmdIssue(inp) : await cmdVerify(inp));
    return 0;
  } catch (e) {
    write({ error: `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}` });
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv);
}

// SD-JWT VC helpers on @sd-jwt/sd-jwt-vc 0.19.0 (+ @sd-jwt/crypto-nodejs): decode, verify an
// issued credential against `/.well-known/jwt-vc-issuer` keys, build a DCQL-driven presentation
// frame, present with a KB-JWT.

import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';
import { algForJwk, bareJwk, isObject, publicJwk, sameKey } from './common.mjs';

const NODE_HASH = { ES256: 'sha256', ES384: 'sha384', EdDSA: null };

/** (data, base64url signature) -> boolean for a public JWK, via node:crypto. */
export function jwkVerifier(jwk) {
  const alg = algForJwk(jwk);
  const key = createPublicKey({ key: bareJwk(jwk), format: 'jwk' });
  return async (data, sig) =>
    cryptoVerify(NODE_HASH[alg], Buffer.from(data, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
}

const decoder = new SDJwtVcInstance({ hasher: digest });

/** Header, signed payload and fully processed claims of an SD-JWT (all disclosures applied). */
export async function decodeSdJwt(sdJwt) {
  if (typeof sdJwt !== 'string' || !sdJwt.includes('~')) throw new Error('not an SD-JWT (no ~ separator)');
  const d = await decoder.decode(sdJwt);
  const claims = await decoder.getClaims(sdJwt);
  return { header: d.jwt?.header ?? {}, payload: d.jwt?.payload ?? {}, claims, disclosures: d.disclosures ?? [] };
}

/** Where SD-JWT VC issuer metadata lives for `iss` (well-known inserted between host and path). */
export function jwtVcIssuerMetadataUrl(iss) {
  const u = new URL(iss);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/jwt-vc-issuer${path}`;
}

/**
 * Verify an issued SD-JWT VC (no KB-JWT) against the issuer keys:
 * signature (key picked by header `kid`, or the only key), alg matches the key, header typ
 * `dc+sd-jwt`, `iss`, `vct`, `cnf.jwk` = holder key, iat/nbf/exp (library, with skew),
 * status list (library fetches `status.status_list.uri`; its JWT is checked against the same JWKS).
 *
 * `issuerKey` (a public JWK the caller already trusts, e.g. the leaf of a validated `x5c`)
 * replaces the JWKS lookup; `statusVerifier` / `statusListFetcher` replace the library's
 * status-list signature check / fetch (see wallet_vci_haip.mjs).
 */
export async function verifyIssuedCredential(sdJwt, { jwks, issuerKey, iss, vct, holderJwk, skewSeconds = 5, statusVerifier, statusListFetcher }) {
  const { header, payload } = await decodeSdJwt(sdJwt);
  if (header.typ !== 'dc+sd-jwt') throw new Error(`header typ is ${JSON.stringify(header.typ)}, expected "dc+sd-jwt"`);
  const keys = issuerKey ? [issuerKey] : (jwks?.keys ?? []);
  let key;
  if (issuerKey) {
    key = issuerKey;
  } else if (header.kid !== undefined) {
    key = keys.find((k) => k.kid === header.kid);
    if (!key) throw new Error(`no key with kid ${JSON.stringify(header.kid)} in the issuer JWKS`);
  } else if (keys.length === 1) {
    key = keys[0];
  } else {
    throw new Error(`credential header has no kid and the issuer JWKS has ${keys.length} keys`);
  }
  const alg = algForJwk(key);
  if (header.alg !== alg) throw new Error(`header alg ${header.alg} does not match the issuer key (${alg})`);
  if (payload.iss !== iss) throw new Error(`iss ${JSON.stringify(payload.iss)} != ${JSON.stringify(iss)}`);
  if (vct !== undefined && payload.vct !== vct) throw new Error(`vct ${JSON.stringify(payload.vct)} != ${JSON.stringify(vct)}`);
  if (!sameKey(payload.cnf?.jwk, publicJwk(holderJwk))) throw new Error('cnf.jwk is not the holder key used in the proof');

  const anyKey = async (data, sig) => {
    for (const k of keys) {
      try {
        if (await jwkVerifier(k)(data, sig)) return true;
      } catch {
        /* key of another type */
      }
    }
    return false;
  };
  const verifier = new SDJwtVcInstance({
    hasher: digest,
    verifier: jwkVerifier(key),
    statusVerifier: statusVerifier ?? anyKey,
    ...(statusListFetcher ? { statusListFetcher } : {}),
  });
  const res = await verifier.verify(sdJwt, { skewSeconds });
  const { _sd_alg, ...claims } = res.payload;
  return claims;
}

// ---------------------------------------------------------------------------------------------
// Presentation

/**
 * Expand a DCQL claims path pointer (OpenID4VP 1.0 §7.1) against the processed claims into
 * concrete paths (strings = object keys, integers = array indices). `values` (if given) keeps
 * only the concrete paths whose leaf value matches one of them (type and value).
 */
export function expandClaimsPath(claims, path, values) {
  let sel = [{ node: claims, at: [] }];
  for (const c of path) {
    const next = [];
    for (const { node, at } of sel) {
      if (typeof c === 'string') {
        if (!isObject(node)) return [];
        if (Object.hasOwn(node, c)) next.push({ node: node[c], at: [...at, c] });
      } else if (c === null) {
        if (!Array.isArray(node)) return [];
        node.forEach((v, i) => next.push({ node: v, at: [...at, i] }));
      } else if (Number.isInteger(c) && c >= 0) {
        if (!Array.isArray(node)) return [];
        if (c < node.length) next.push({ node: node[c], at: [...at, c] });
      } else {
        return [];
      }
    }
    sel = next;
  }
  if (values) sel = sel.filter(({ node }) => values.some((v) => v === node));
  return sel;
}

/** Merge one selected path into a @sd-jwt presentation frame; an object/array leaf brings its whole subtree. */
function addToFrame(frame, at, leaf) {
  let f = frame;
  for (let i = 0; i < at.length - 1; i++) {
    const k = String(at[i]);
    if (f[k] === true) return; // already fully disclosed
    f[k] ??= {};
    f = f[k];
  }
  const last = String(at[at.length - 1]);
  mergeFrames(f, { [last]: fullFrame(leaf) });
}
function fullFrame(value) {
  if (Array.isArray(value) && value.length) return Object.fromEntries(value.map((v, i) => [String(i), fullFrame(v)]));
  if (isObject(value) && Object.keys(value).length) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fullFrame(v)]));
  return true;
}
function mergeFrames(a, b) {
  for (const [k, v] of Object.entries(b)) {
    if (v === true) a[k] ??= true;
    else a[k] = mergeFrames(isObject(a[k]) ? a[k] : {}, v);
  }
  return a;
}

/** Presentation frame for a list of DCQL claims queries ({path, values?}). */
export function presentationFrameFor(claims, claimQueries) {
  const frame = {};
  const disclosed = [];
  for (const q of claimQueries) {
    for (const { node, at } of expandClaimsPath(claims, q.path, q.values)) {
      addToFrame(frame, at, node);
      disclosed.push(at);
    }
  }
  return { frame, disclosed };
}

export async function holderInstance(holderJwk) {
  return new SDJwtVcInstance({
    hasher: digest,
    kbSigner: await ES256.getSigner(bareJwk(holderJwk, true)),
    kbSignAlg: 'ES256',
  });
}

/** Presentation `<jwt>~<selected disclosures>~<kb-jwt>` with KB payload {iat: now, aud, nonce} (+ sd_hash by the library). */
export async function presentWithKb(holder, sdJwt, frame, { aud, nonce }) {
  // Strip any KB-JWT / trailing part the input may carry: present() wants the issued form.
  const issued = sdJwt.endsWith('~') ? sdJwt : `${sdJwt.slice(0, sdJwt.lastIndexOf('~') + 1)}`;
  return holder.present(issued, frame, { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud, nonce } } });
}

// A deliberately small stand-in for OUR server (issuer + verifier), written from DESIGN.md's
// "External contract", so the wallet drivers can be exercised end to end before the Rust
// endpoints exist. Test-only: selftest.mjs starts it on 127.0.0.1:<random port>.
// It is NOT a reference implementation (no limits, no persistence, lenient where ours is strict).

import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const rnd = (n = 16) => randomBytes(n).toString('base64url');

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58btc(bytes) {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  let s = '';
  while (n > 0n) {
    s = B58[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = `1${s}`;
  }
  return s;
}
export function p256DidKey(publicJwk) {
  const x = Buffer.from(publicJwk.x, 'base64url');
  const y = Buffer.from(publicJwk.y, 'base64url');
  const compressed = Buffer.concat([Buffer.from([y[y.length - 1] & 1 ? 0x03 : 0x02]), x]);
  return `did:key:z${base58btc(Buffer.concat([Buffer.from([0x80, 0x24]), compressed]))}`;
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}
function send(res, status, body, headers = {}) {
  const isJson = typeof body !== 'string';
  res.writeHead(status, { 'Content-Type': isJson ? 'application/json' : 'text/plain', ...headers });
  res.end(isJson ? JSON.stringify(body) : body);
}
const oauthError = (res, status, error, description) => send(res, status, { error, error_description: description });

/**
 * @param {object} o
 * @param {{leafKeyPem: string, leafCertPem: string}} o.verifierCert  x5c leaf for x509_hash
 * @param {boolean} [o.dpop]  advertise + require DPoP at the token endpoint (bound token)
 * @param {boolean} [o.anonymous]  advertise pre-authorized_grant_anonymous_access_supported
 */
export async function startMockServer({ verifierCert, dpop = false, anonymous = true } = {}) {
  const issuerKeyPair = await jose.generateKeyPair('ES256', { extractable: true });
  const issuerJwk = { ...(await jose.exportJWK(issuerKeyPair.publicKey)), kid: 'issuer-key-1', alg: 'ES256', use: 'sig' };
  const issuerPrivate = createPrivateKey({ key: await jose.exportJWK(issuerKeyPair.privateKey), format: 'jwk' });
  const issuerPublic = createPublicKey({ key: issuerJwk, format: 'jwk' });
  const leafKey = createPrivateKey(verifierCert.leafKeyPem);
  const leafCert = new X509Certificate(verifierCert.leafCertPem);
  const leafDer = leafCert.raw;
  const x509Hash = b64u(createHash('sha256').update(leafDer).digest());
  const didKeyPair = await jose.generateKeyPair('ES256', { extractable: true });
  const didKey = p256DidKey(await jose.exportJWK(didKeyPair.publicKey));

  const state = { offers: new Map(), codes: new Map(), tokens: new Map(), nonces: new Set(), requests: new Map() };
  let base;

  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: () => rnd(16),
    signAlg: 'ES256',
    signer: async (data) => sign('sha256', Buffer.from(data), { key: issuerPrivate, dsaEncoding: 'ieee-p1363' }).toString('base64url'),
    verifier: async (data, sig) => verify('sha256', Buffer.from(data), { key: issuerPublic, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url')),
    kbVerifier: async (data, sig, payload) => {
      const jwk = payload?.cnf?.jwk;
      const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
      return verify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));
    },
  });

  const CONFIGS = {
    'ru.passport': { vct: 'urn:ru:digital-id:passport:1', claims: { family_name: 'Иванов', given_name: 'Иван', patronymic: 'Иванович', birthdate: '1985-04-12', document_number: '4509 123456', resident_address: { region: 'г. Москва', street_address: 'ул. Тверская, д. 1' }, age_equal_or_over: { 18: true, 21: true, 65: false } } },
  };

  function issuerMetadata() {
    return {
      credential_issuer: base,
      credential_endpoint: `${base}/credential`,
      nonce_endpoint: `${base}/nonce`,
      credential_configurations_supported: Object.fromEntries(
        Object.entries(CONFIGS).map(([id, c]) => [
          id,
          {
            format: 'dc+sd-jwt',
            vct: c.vct,
            scope: id,
            cryptographic_binding_methods_supported: ['jwk'],
            credential_signing_alg_values_supported: ['ES256'],
            proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
            credential_metadata: { display: [{ name: id, locale: 'ru' }] },
          },
        ]),
      ),
    };
  }

  async function verifyDpop(req, accessToken) {
    const proof = req.headers.dpop;
    if (!proof) throw new Error('missing DPoP header');
    const { payload, protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    if (payload.htm !== req.method) throw new Error('DPoP htm');
    if (payload.htu !== `${base}${req.url.split('?')[0]}`) throw new Error(`DPoP htu ${payload.htu}`);
    if (accessToken && payload.ath !== b64u(createHash('sha256').update(accessToken).digest())) throw new Error('DPoP ath');
    return jose.calculateJwkThumbprint(protectedHeader.jwk);
  }

  async function handle(req, res) {
    const url = new URL(req.url, base);
    const p = url.pathname;
    // ---------------- issuer
    if (req.method === 'GET' && p === '/.well-known/openid-credential-issuer') return send(res, 200, issuerMetadata());
    if (req.method === 'GET' && p === '/.well-known/oauth-authorization-server') {
      const m = { issuer: base, token_endpoint: `${base}/token`, grant_types_supported: ['urn:ietf:params:oauth:grant-type:pre-authorized_code'], 'pre-authorized_grant_anonymous_access_supported': anonymous };
      if (dpop) m.dpop_signing_alg_values_supported = ['ES256'];
      return send(res, 200, m);
    }
    if (req.method === 'GET' && p === '/.well-known/jwt-vc-issuer') return send(res, 200, { issuer: base, jwks: { keys: [issuerJwk] } });
    if (req.method === 'GET' && p.startsWith('/credential-offer/')) {
      const offer = state.offers.get(p.slice('/credential-offer/'.length));
      return offer ? send(res, 200, offer) : oauthError(res, 404, 'not_found', 'no such offer');
    }
    if (req.method === 'POST' && p === '/token') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:pre-authorized_code') return oauthError(res, 400, 'unsupported_grant_type', form.get('grant_type'));
      const code = state.codes.get(form.get('pre-authorized_code'));
      if (!code) return oauthError(res, 400, 'invalid_grant', 'unknown pre-authorized_code');
      if (code.txCode && form.get('tx_code') !== code.txCode) return oauthError(res, 400, 'invalid_grant', 'wrong tx_code');
      let jkt;
      if (dpop) {
        try {
          jkt = await verifyDpop(req);
        } catch (e) {
          return oauthError(res, 400, 'invalid_dpop_proof', e.message);
        }
      }
      state.codes.delete(form.get('pre-authorized_code'));
      const token = rnd(24);
      state.tokens.set(token, { configIds: code.configIds, jkt });
      return send(res, 200, { access_token: token, token_type: dpop ? 'DPoP' : 'Bearer', expires_in: 300 }, { 'Cache-Control': 'no-store' });
    }
    if (req.method === 'POST' && p === '/nonce') {
      const n = rnd(24);
      state.nonces.add(n);
      return send(res, 200, { c_nonce: n }, { 'Cache-Control': 'no-store' });
    }
    if (req.method === 'POST' && p === '/credential') {
      const auth = req.headers.authorization ?? '';
      const [scheme, token] = auth.split(' ');
      const t = state.tokens.get(token);
      if (!t || scheme !== (dpop ? 'DPoP' : 'Bearer')) return oauthError(res, 401, 'invalid_token', 'bad access token');
      if (dpop) {
        try {
          if ((await verifyDpop(req, token)) !== t.jkt) throw new Error('DPoP key != token binding');
        } catch (e) {
          return oauthError(res, 401, 'invalid_dpop_proof', e.message);
        }
      }
      const body = JSON.parse(await readBody(req));
      const cfg = CONFIGS[body.credential_configuration_id];
      if (!cfg || !t.configIds.includes(body.credential_configuration_id)) return oauthError(res, 400, 'unknown_credential_configuration', body.credential_configuration_id);
      const proofs = body.proofs?.jwt;
      if (!Array.isArray(proofs) || proofs.length !== 1) return oauthError(res, 400, 'invalid_proof', 'need proofs.jwt[1]');
      let holderJwk;
      try {
        const { payload, protectedHeader } = await jose.jwtVerify(proofs[0], jose.EmbeddedJWK, { typ: 'openid4vci-proof+jwt', algorithms: ['ES256'], audience: base });
        if (!state.nonces.delete(payload.nonce)) throw new Error('unknown or used nonce');
        holderJwk = { kty: protectedHeader.jwk.kty, crv: protectedHeader.jwk.crv, x: protectedHeader.jwk.x, y: protectedHeader.jwk.y };
      } catch (e) {
        return oauthError(res, 400, 'invalid_proof', e.message);
      }
      const now = Math.floor(Date.now() / 1000);
      const claims = cfg.claims;
      const frame = { _sd: Object.keys(claims) };
      for (const [k, v] of Object.entries(claims)) if (v && typeof v === 'object') frame[k] = { _sd: Object.keys(v) };
      const credential = await sdjwt.issue({ iss: base, vct: cfg.vct, iat: now, exp: now + 3600, cnf: { jwk: holderJwk }, ...claims }, frame, { header: { typ: 'dc+sd-jwt', kid: issuerJwk.kid } });
      return send(res, 200, { credentials: [{ credential }] });
    }
    // ---------------- verifier
    if (req.method === 'GET' && p.startsWith('/verifier/request/')) {
      const r = state.requests.get(p.slice('/verifier/request/'.length));
      if (!r) return oauthError(res, 404, 'not_found', 'no such request');
      r.fetched = true;
      res.writeHead(200, { 'Content-Type': 'application/oauth-authz-req+jwt' });
      return res.end(r.jar);
    }
    if (req.method === 'POST' && p.startsWith('/verifier/response/')) {
      const r = state.requests.get(p.slice('/verifier/response/'.length));
      if (!r) return oauthError(res, 404, 'not_found', 'no such request');
      const form = new URLSearchParams(await readBody(req));
      if (r.status !== 'pending') return oauthError(res, 400, 'invalid_request', 'already answered');
      const fail = (code, why) => {
        r.status = 'failed';
        r.error = { code, description: why };
        return oauthError(res, 400, code, why);
      };
      let params;
      if (r.responseMode === 'direct_post.jwt') {
        if (!form.has('response')) return fail('invalid_request', 'direct_post.jwt requested: response parameter required');
        try {
          const { plaintext, protectedHeader } = await jose.compactDecrypt(form.get('response'), r.encKey.privateKey);
          if (protectedHeader.kid !== r.encKid) throw new Error(`JWE kid ${protectedHeader.kid}`);
          r.jweHeader = protectedHeader;
          params = JSON.parse(new TextDecoder().decode(plaintext));
        } catch (e) {
          return fail('invalid_request', `cannot decrypt: ${e.message}`);
        }
      } else {
        params = Object.fromEntries(form);
        if (typeof params.vp_token === 'string') params.vp_token = JSON.parse(params.vp_token);
      }
      if (params.error) return fail(params.error, params.error_description ?? '');
      if (params.state !== r.state) return fail('invalid_request', 'state mismatch');
      const claims = {};
      try {
        for (const [qid, list] of Object.entries(params.vp_token ?? {})) {
          for (const pres of list) {
            const v = await sdjwt.verify(pres, { keyBindingNonce: r.nonce });
            if (v.kb?.payload.aud !== r.clientId) throw new Error(`KB aud ${v.kb?.payload.aud}`);
            if (Math.abs(v.kb.payload.iat - Date.now() / 1000) > 30) throw new Error('KB iat not fresh');
            const { _sd_alg, cnf, ...rest } = v.payload;
            claims[qid] = rest;
          }
        }
        if (!Object.keys(claims).length) throw new Error('empty vp_token');
      } catch (e) {
        return fail('invalid_request', e.message);
      }
      r.status = 'verified';
      r.claims = claims;
      return send(res, 200, {});
    }
    if (req.method === 'GET' && p.startsWith('/verifier/requests/')) {
      const r = state.requests.get(p.slice('/verifier/requests/'.length));
      if (!r) return oauthError(res, 404, 'not_found', 'no such transaction');
      return send(res, 200, { transaction_id: r.id, status: r.status, claims: r.claims, error: r.error, jwe_header: r.jweHeader });
    }
    return oauthError(res, 404, 'not_found', `${req.method} ${p}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => oauthError(res, 500, 'server_error', e.stack));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;

  return {
    base,
    issuerJwk,
    close: () => new Promise((r) => server.close(r)),
    createOffer({ configIds = ['ru.passport'], txCode = true, byValue = false } = {}) {
      const code = rnd(24);
      const tx = txCode ? String(randomBytes(3).readUIntBE(0, 3) % 1000000).padStart(6, '0') : undefined;
      state.codes.set(code, { configIds, txCode: tx });
      const grant = { 'pre-authorized_code': code };
      if (tx) grant.tx_code = { input_mode: 'numeric', length: 6, description: 'SMS' };
      const offer = { credential_issuer: base, credential_configuration_ids: configIds, grants: { 'urn:ietf:params:oauth:grant-type:pre-authorized_code': grant } };
      const id = rnd(12);
      state.offers.set(id, offer);
      const link = byValue
        ? `openid-credential-offer://?credential_offer=${encodeURIComponent(JSON.stringify(offer))}`
        : `openid-credential-offer://?credential_offer_uri=${encodeURIComponent(`${base}/credential-offer/${id}`)}`;
      return { link, txCode: tx ?? null };
    },
    async createPresentationRequest({ dcqlQuery, responseMode = 'direct_post.jwt', prefix = 'x509_hash', aud = 'https://self-issued.me/v2', typ = 'oauth-authz-req+jwt', encUse = 'enc', withIss = prefix === 'x509_hash' } = {}) {
      const id = rnd(12);
      const nonce = rnd(16);
      const st = rnd(16);
      const clientId = prefix === 'x509_hash' ? `x509_hash:${x509Hash}` : `decentralized_identifier:${didKey}`;
      const encKey = await jose.generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
      const encKid = rnd(8);
      const payload = {
        // decentralized_identifier: no `iss` by default (as in the spec's example) — README quirks.
        ...(withIss ? { iss: clientId } : {}),
        aud,
        client_id: clientId,
        response_type: 'vp_token',
        response_mode: responseMode,
        response_uri: `${base}/verifier/response/${id}`,
        nonce,
        state: st,
        dcql_query: dcqlQuery,
        client_metadata: {
          jwks: { keys: [{ ...(await jose.exportJWK(encKey.publicKey)), kid: encKid, use: encUse, alg: 'ECDH-ES' }] },
          encrypted_response_enc_values_supported: ['A256GCM', 'A128GCM'],
          vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
        },
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 30,
      };
      const header = prefix === 'x509_hash' ? { alg: 'ES256', typ, x5c: [leafDer.toString('base64')] } : { alg: 'ES256', typ, kid: `${didKey}#${didKey.slice('did:key:'.length)}` };
      const signKey = prefix === 'x509_hash' ? leafKey : didKeyPair.privateKey;
      const jar = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(signKey);
      state.requests.set(id, { id, jar, nonce, state: st, clientId, responseMode, encKey, encKid, status: 'pending' });
      const authorizationRequest = `openid4vp://?client_id=${encodeURIComponent(clientId)}&request_uri=${encodeURIComponent(`${base}/verifier/request/${id}`)}`;
      return { id, authorizationRequest, clientId, nonce };
    },
    async status(id) {
      const res = await fetch(`${base}/verifier/requests/${id}`);
      return res.json();
    },
  };
}

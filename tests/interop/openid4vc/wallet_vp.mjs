#!/usr/bin/env node
// Interop wallet for OpenID4VP 1.0 (DCQL, signed request object by reference, direct_post /
// direct_post.jwt), built on Credo's protocol library @openid4vc/openid4vp (Openid4vpClient),
// `dcql` for credential/claim selection and @sd-jwt/sd-jwt-vc for the presentation + KB-JWT.
//
//   node tests/interop/openid4vc/wallet_vp.mjs < in.json
//
// stdin  {"authorization_request": "openid4vp://?client_id=…&request_uri=…",
//         "credentials": ["<sd-jwt with all disclosures>", …], "holder_jwk": <private EC P-256 JWK>,
//         "x509_trust": "accept" | {"ca_pem": "<PEM>"},
//         optional: "include_optional_credential_sets": false, "strict": true,
//                   "on_unsatisfiable": "fail" | "send_error",
//                   "overrides": {"kb_nonce", "kb_aud", "kb_iat_offset", "response_mode", "state"}}
// stdout {"status": <HTTP status of the POST to response_uri>, "body": <its JSON (or text)>,
//         "response_mode", "client_id", "vp_token", "disclosed", "posted_body", "request": {…}}  exit 0
//        {"error": "<step>: …", "step", "http_trace": […]}                                      exit 1
// Exit 0 whenever the POST was made, whatever its status (negative tests read `status`).
//
// Steps: parse_input, parse_request, resolve_request (fetch + verify the JAR, client id prefix),
// check_request, decode_credentials, dcql_parse, dcql_match, present, encrypt_response, submit.

import { X509Certificate, createPublicKey } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/oauth2';
import { DcqlQuery } from 'dcql';
import {
  StepError,
  VERSIONS,
  checkHolderJwk,
  encryptJwe,
  hashCallback,
  isObject,
  makeHttp,
  publicJwk,
  runDriver,
  sameKey,
  step,
  verifyCompactWithJwk,
} from './common.mjs';
import { decodeSdJwt, holderInstance, presentWithKb, presentationFrameFor } from './sdjwt.mjs';

setGlobalConfig({ allowInsecureUrls: true }); // http only to loopback: enforced by common.mjs's fetch

const SELF_ISSUED_AUD = 'https://self-issued.me/v2';
const SUPPORTED_ENC = ['A128GCM', 'A256GCM', 'A192GCM', 'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512'];

// ---------------------------------------------------------------------------------------------
// Verifier authentication: x5c leaf (x509_hash / x509_san_*) and did:key (decentralized_identifier)

function loadTrust(x509Trust) {
  if (x509Trust === 'accept') return { mode: 'accept' };
  if (isObject(x509Trust) && typeof x509Trust.ca_pem === 'string') {
    const pems = x509Trust.ca_pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!pems.length) throw new StepError('parse_input', 'x509_trust.ca_pem holds no PEM certificate');
    return { mode: 'anchors', anchors: pems.map((p) => new X509Certificate(p)) };
  }
  throw new StepError('parse_input', 'x509_trust must be "accept" or {"ca_pem": "<PEM>"}');
}

function checkValidity(cert, what) {
  const now = Date.now();
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
    throw new Error(`${what} certificate not valid now (${cert.validFrom} .. ${cert.validTo})`);
  }
}

function leafPublicJwk(x5c, trust) {
  if (!Array.isArray(x5c) || !x5c.length) throw new Error('x5c header is empty');
  const certs = x5c.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
  const leaf = certs[0];
  checkValidity(leaf, 'leaf');
  if (trust.mode === 'anchors') {
    // Walk leaf -> … -> an anchor (x5c carries the leaf, maybe intermediates, not the CA).
    let cur = leaf;
    for (let depth = 0; ; depth++) {
      const anchor = trust.anchors.find((a) => cur.checkIssued(a) && cur.verify(a.publicKey));
      if (anchor) {
        checkValidity(anchor, 'trust anchor');
        break;
      }
      const next = certs.slice(1).find((c) => cur.checkIssued(c) && cur.verify(c.publicKey));
      if (!next || depth > 5) throw new Error('x5c chain does not lead to a configured trust anchor');
      checkValidity(next, 'intermediate');
      cur = next;
    }
  }
  return leaf.publicKey.export({ format: 'jwk' });
}

function sanOf(certB64) {
  const san = new X509Certificate(Buffer.from(certB64, 'base64')).subjectAltName ?? '';
  const parts = san.split(/,\s*/);
  return {
    sanDnsNames: parts.filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4)),
    sanUriNames: parts.filter((p) => p.startsWith('URI:')).map((p) => p.slice(4)),
  };
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58btcDecode(s) {
  let n = 0n;
  for (const ch of s) {
    const v = B58.indexOf(ch);
    if (v < 0) throw new Error('bad base58 character');
    n = n * 58n + BigInt(v);
  }
  const bytes = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const ch of s) {
    if (ch !== '1') break;
    bytes.unshift(0);
  }
  return Buffer.from(bytes);
}

/** did:key (P-256 0x1200, Ed25519 0xed) -> public JWK. */
export function didKeyToJwk(didUrl) {
  const did = didUrl.split('#')[0];
  const m = /^did:key:z([1-9A-HJ-NP-Za-km-z]+)$/.exec(did);
  if (!m) throw new Error(`not a did:key: ${did}`);
  const raw = base58btcDecode(m[1]);
  let spki;
  if (raw[0] === 0x80 && raw[1] === 0x24 && raw.length === 35) {
    spki = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), raw.subarray(2)]);
  } else if (raw[0] === 0xed && raw[1] === 0x01 && raw.length === 34) {
    spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw.subarray(2)]);
  } else {
    throw new Error('did:key multicodec is neither p256-pub nor ed25519-pub');
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
}

function makeVerifyJwt(trust) {
  return async (signer, { compact }) => {
    let jwk;
    if (signer.method === 'x5c') jwk = leafPublicJwk(signer.x5c, trust);
    else if (signer.method === 'did') jwk = didKeyToJwk(signer.didUrl);
    else throw new Error(`request object signer method '${signer.method}' is not supported by this wallet`);
    await verifyCompactWithJwk(compact, jwk); // alg must be the key's (ES256 for P-256)
    return { verified: true, signerJwk: jwk };
  };
}

// ---------------------------------------------------------------------------------------------
// Response encryption key choice (OpenID4VP 1.0 §8.3): `use` absent or "enc", `alg` present,
// something we can do (ECDH-ES on P-256). The library's extractEncryptionJwkFromJwks would fall
// back to keys[0] even when it is a `use: sig` key, so the key is chosen here and handed to it.
function chooseEncryptionJwk(jwks) {
  const keys = jwks?.keys ?? [];
  const ok = keys.filter((k) => (k.use === undefined || k.use === 'enc') && k.alg === 'ECDH-ES' && k.kty === 'EC' && k.crv === 'P-256');
  if (!ok.length) {
    throw new Error(`client_metadata.jwks has no usable key (need use absent|enc, alg ECDH-ES, EC P-256): ${JSON.stringify(keys.map(publicJwk))}`);
  }
  return ok[0];
}

// ---------------------------------------------------------------------------------------------

export async function walletVp(input, http = makeHttp()) {
  // ---- parse_input
  const { authorization_request: authzRequest, credentials } = input;
  const strict = input.strict ?? true;
  const overrides = input.overrides ?? {};
  const includeOptional = input.include_optional_credential_sets ?? false;
  const onUnsatisfiable = input.on_unsatisfiable ?? 'fail';
  if (typeof authzRequest !== 'string' || !authzRequest.includes('client_id=')) {
    throw new StepError('parse_input', 'authorization_request must be an openid4vp:// link with client_id and request_uri');
  }
  if (!Array.isArray(credentials) || credentials.some((c) => typeof c !== 'string')) {
    throw new StepError('parse_input', 'credentials must be an array of SD-JWT strings');
  }
  if (!isObject(overrides)) throw new StepError('parse_input', 'overrides must be an object');
  if (!['fail', 'send_error'].includes(onUnsatisfiable)) throw new StepError('parse_input', 'on_unsatisfiable must be fail|send_error');
  const holderJwk = checkHolderJwk(input.holder_jwk);
  const trust = loadTrust(input.x509_trust ?? 'accept');

  const client = new Openid4vpClient({
    callbacks: {
      fetch: http.fetch,
      hash: hashCallback,
      verifyJwt: makeVerifyJwt(trust),
      getX509CertificateMetadata: sanOf,
      signJwt: async () => {
        throw new Error('this wallet does not sign authorization responses');
      },
      encryptJwe,
      decryptJwe: async () => ({ decrypted: false }),
    },
  });

  // ---- parse_request / resolve_request (GET request_uri, verify JAR + client id prefix)
  const parsed = await step('parse_request', () => client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: authzRequest }));
  if (parsed.type !== 'jar' || !parsed.params.request_uri) {
    throw new StepError('parse_request', `expected a request by reference (request_uri), got type ${parsed.type}`);
  }
  const resolved = await step('resolve_request', () => client.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params }));
  const req = resolved.authorizationRequestPayload;
  const jarHeader = resolved.jar?.jwt?.header ?? {};
  const jarPayload = resolved.jar?.jwt?.payload ?? {};
  const clientId = resolved.client.effective; // full client_id, prefix included: the KB-JWT aud

  // ---- check_request (what the library leaves to the wallet)
  await step('check_request', async () => {
    if (!resolved.jar) throw new Error('request is not a signed request object');
    if (jarHeader.typ !== 'oauth-authz-req+jwt') throw new Error(`request object typ ${JSON.stringify(jarHeader.typ)} != "oauth-authz-req+jwt"`);
    if (!['x509_hash', 'x509_san_dns', 'decentralized_identifier'].includes(resolved.client.prefix)) {
      throw new Error(`client id prefix ${resolved.client.prefix} not supported by this wallet`);
    }
    if (!req.response_uri) throw new Error('request has no response_uri');
    if (!['direct_post', 'direct_post.jwt'].includes(req.response_mode)) throw new Error(`response_mode ${req.response_mode} (need direct_post or direct_post.jwt)`);
    if (!req.dcql_query) throw new Error('request has no dcql_query');
    if (strict) {
      // OpenID4VP 1.0 §5.8: static discovery -> aud is the symbolic self-issued value.
      const aud = jarPayload.aud;
      if (!(aud === SELF_ISSUED_AUD || (Array.isArray(aud) && aud.includes(SELF_ISSUED_AUD)))) {
        throw new Error(`request object aud ${JSON.stringify(aud)} != "${SELF_ISSUED_AUD}"`);
      }
      if (req.response_type !== 'vp_token') throw new Error(`response_type ${req.response_type}`);
      if (typeof req.nonce !== 'string' || req.nonce.length < 22) throw new Error(`nonce ${JSON.stringify(req.nonce)} is shorter than 128 bits of base64url`);
    }
  });

  // Response building (library: createOpenid4vpAuthorizationResponse, which adds `state` and, for
  // direct_post.jwt, encrypts through our encryptJwe callback) and submission (library:
  // submitOpenid4vpAuthorizationResponse: form `vp_token=…&state=…` or `response=<JWE>`).
  const mode = overrides.response_mode ?? req.response_mode;
  const requestForResponse = { ...req, response_mode: mode };
  if (overrides.state !== undefined) requestForResponse.state = overrides.state;
  async function buildResponse(payload) {
    if (mode === 'direct_post.jwt') {
      const created = await step('encrypt_response', async () => {
        const cm = req.client_metadata ?? {};
        const jwk = chooseEncryptionJwk(cm.jwks);
        const verifierEnc = cm.encrypted_response_enc_values_supported ?? ['A128GCM'];
        const encOrder = verifierEnc.filter((e) => SUPPORTED_ENC.includes(e)); // the Verifier's order
        if (!encOrder.length) throw new Error(`no supported enc in ${JSON.stringify(verifierEnc)}`);
        return client.createOpenid4vpAuthorizationResponse({
          authorizationRequestPayload: requestForResponse,
          authorizationResponsePayload: payload,
          jarm: {
            encryption: { jwk },
            serverMetadata: {
              authorization_signing_alg_values_supported: ['ES256'],
              authorization_encryption_alg_values_supported: ['ECDH-ES'],
              authorization_encryption_enc_values_supported: encOrder,
            },
          },
        });
      });
      return { created, mode };
    }
    if (mode === 'direct_post') {
      const created = await step('encrypt_response', () =>
        client.createOpenid4vpAuthorizationResponse({ authorizationRequestPayload: requestForResponse, authorizationResponsePayload: payload }),
      );
      return { created, mode };
    }
    throw new StepError('encrypt_response', `unsupported response mode ${mode}`);
  }
  async function submitResponse(created) {
    const before = http.trace.length;
    const submitted = await client.submitOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: requestForResponse,
      authorizationResponsePayload: created.authorizationResponsePayload,
      jarm: created.jarm ? { responseJwt: created.jarm.responseJwt } : undefined,
    });
    if (http.trace.length === before) throw new Error('library did not POST');
    return submitted;
  }
  const postedBodyOf = (created) =>
    created.jarm
      ? `response=${created.jarm.responseJwt}`
      : new URLSearchParams(Object.entries(created.authorizationResponsePayload).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)])).toString();

  // ---- decode_credentials -> DCQL credential model
  const decoded = await step('decode_credentials', () => Promise.all(credentials.map((c) => decodeSdJwt(c))));
  const dcqlCredentials = decoded.map(({ header, payload, claims }) => {
    const { _sd_alg, ...rest } = claims;
    return {
      credential_format: header.typ === 'vc+sd-jwt' ? 'vc+sd-jwt' : 'dc+sd-jwt',
      vct: payload.vct,
      claims: rest,
      cryptographic_holder_binding: !!payload.cnf,
    };
  });

  // ---- dcql_parse / dcql_match
  const query = await step('dcql_parse', () => {
    const q = DcqlQuery.parse(req.dcql_query);
    DcqlQuery.validate(q);
    return q;
  });
  const result = await step('dcql_match', () => DcqlQuery.query(query, dcqlCredentials));
  const ok = (id) => result.credential_matches[id]?.success === true;

  let selectedIds = [];
  if (result.can_be_satisfied) {
    if (!query.credential_sets) {
      selectedIds = query.credentials.map((c) => c.id);
    } else {
      for (const set of query.credential_sets) {
        if (set.required === false && !includeOptional) continue;
        const option = set.options.find((opt) => opt.every(ok)); // the Verifier's preferred option first
        if (option) selectedIds.push(...option);
      }
      selectedIds = [...new Set(selectedIds)];
    }
  }
  if (!result.can_be_satisfied) {
    const why = Object.fromEntries(
      Object.entries(result.credential_matches).map(([id, m]) => [id, m.success ? 'ok' : (m.failed_credentials ?? []).map((f) => ({ index: f.input_credential_index, meta: f.meta?.issues, claims: f.claims?.failed_claims?.map((c) => c.issues) }))]),
    );
    if (onUnsatisfiable === 'fail') throw new StepError('dcql_match', `the DCQL query cannot be satisfied by the given credentials: ${JSON.stringify(why)}`);
    // Error response (OpenID4VP 1.0 §8.5) in the requested response mode: encrypted for
    // direct_post.jwt (the library encrypts whatever payload it is given), form-encoded otherwise.
    const errorPayload = { error: 'access_denied', error_description: 'no matching credentials' };
    const { created } = await buildResponse(errorPayload);
    const submitted = await step('submit', () => submitResponse(created));
    return { ...(await readResponse(submitted.response)), response_mode: submitted.responseMode, sent: 'error', client_id: clientId, posted_body: postedBodyOf(created) };
  }

  // ---- present (only the selected claims, KB-JWT aud = full client_id, nonce = request nonce)
  const holder = await holderInstance(holderJwk);
  const vpToken = {};
  const disclosed = {};
  const used = {};
  for (const id of selectedIds) {
    const cq = query.credentials.find((c) => c.id === id);
    const valid = result.credential_matches[id].valid_credentials ?? [];
    const chosen = cq.multiple ? valid : valid.slice(0, 1);
    vpToken[id] = [];
    disclosed[id] = [];
    used[id] = [];
    for (const vc of chosen) {
      const idx = vc.input_credential_index;
      const { payload, claims } = decoded[idx];
      let claimQueries = [];
      if (cq.claims && cq.claim_sets) {
        const sets = (vc.claims?.valid_claim_sets ?? []).map((s) => s.claim_set_index).sort((a, b) => a - b);
        if (!sets.length) throw new StepError('present', `no valid claim set for ${id} / credential ${idx}`);
        claimQueries = cq.claim_sets[sets[0]].map((cid) => cq.claims.find((c) => c.id === cid));
      } else if (cq.claims) {
        claimQueries = cq.claims;
      }
      const { frame, disclosed: paths } = presentationFrameFor(claims, claimQueries);
      if (!sameKey(payload.cnf?.jwk, publicJwk(holderJwk))) throw new StepError('present', `credential ${idx} is not bound to holder_jwk (cnf.jwk differs)`);
      const presentation = await step('present', () =>
        withIatOffset(overrides.kb_iat_offset, () =>
          presentWithKb(holder, credentials[idx], frame, { aud: overrides.kb_aud ?? clientId, nonce: overrides.kb_nonce ?? req.nonce }),
        ),
      );
      vpToken[id].push(presentation);
      disclosed[id].push(paths);
      used[id].push(idx);
    }
  }

  // ---- encrypt_response / submit
  const { created } = await buildResponse({ vp_token: vpToken });
  const submitted = await step('submit', () => submitResponse(created));
  const postedBody = postedBodyOf(created);

  return {
    ...(await readResponse(submitted.response)),
    response_mode: submitted.responseMode,
    client_id: clientId,
    client_id_prefix: resolved.client.prefix,
    vp_token: vpToken,
    disclosed,
    credential_indices: used,
    posted_body: postedBody,
    jwe_header: submitted.responseMode === 'direct_post.jwt' ? JSON.parse(Buffer.from(created.jarm.responseJwt.split('.')[0], 'base64url').toString()) : undefined,
    request: { nonce: req.nonce, state: req.state, response_uri: req.response_uri, aud: jarPayload.aud, typ: jarHeader.typ, version: resolved.version },
    libraries: VERSIONS,
  };
}

async function readResponse(res) {
  const text = await res.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body };
}

/** Shift the clock the KB-JWT `iat` is read from (negative tests: stale / future KB-JWT). */
async function withIatOffset(offset, fn) {
  if (!offset) return fn();
  const realNow = Date.now;
  Date.now = () => realNow() + offset * 1000;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const http = makeHttp();
  process.exitCode = await runDriver((input) => walletVp(input, http), http);
}

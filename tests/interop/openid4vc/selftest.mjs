// Self-test of the OpenID4VC wallet drivers against mock_server.mjs (a small stand-in written
// from DESIGN.md's contract) — no Rust involved. Runs the drivers as CLI subprocesses exactly as
// the Rust integration tests will. Needs `openssl` on PATH for the verifier's demo CA + leaf.
//
//   node --test tests/interop/openid4vc/selftest.mjs

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { startMockServer } from './mock_server.mjs';

const HERE = new URL('.', import.meta.url).pathname;

function run(script, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(HERE, script)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        resolve({ code, out: JSON.parse(out), stderr: err });
      } catch {
        reject(new Error(`${script}: non-JSON stdout ${JSON.stringify(out)} stderr ${err}`));
      }
    });
    p.stdin.end(JSON.stringify(input));
  });
}

function makeCa(dir, name) {
  const o = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}-ca.key`]);
  o(['req', '-x509', '-new', '-key', `${name}-ca.key`, '-subj', `/CN=${name} Demo CA`, '-days', '2', '-out', `${name}-ca.pem`]);
  return { key: join(dir, `${name}-ca.key`), pem: readFileSync(join(dir, `${name}-ca.pem`), 'utf8') };
}
function makeLeaf(dir, ca) {
  const o = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'leaf.key']);
  o(['pkcs8', '-topk8', '-nocrypt', '-in', 'leaf.key', '-out', 'leaf.p8']);
  o(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=digital-id verifier', '-out', 'leaf.csr']);
  o(['x509', '-req', '-in', 'leaf.csr', '-CA', join(dir, 'main-ca.pem'), '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-out', 'leaf.pem']);
  return { leafKeyPem: readFileSync(join(dir, 'leaf.p8'), 'utf8'), leafCertPem: readFileSync(join(dir, 'leaf.pem'), 'utf8') };
}

const PASSPORT_QUERY = {
  credentials: [
    {
      id: 'passport',
      format: 'dc+sd-jwt',
      meta: { vct_values: ['urn:ru:digital-id:passport:1'] },
      claims: [{ path: ['family_name'] }, { path: ['age_equal_or_over', '18'] }, { path: ['resident_address'] }],
    },
  ],
};

let dir;
let ca;
let otherCa;
let mock;
let dpopMock;
let holder;
let credential;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oid4vc-selftest-'));
  ca = makeCa(dir, 'main');
  otherCa = makeCa(dir, 'other');
  const cert = makeLeaf(dir, ca);
  mock = await startMockServer({ verifierCert: cert });
  dpopMock = await startMockServer({ verifierCert: cert, dpop: true });
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  holder = await jose.exportJWK(privateKey);
});
after(async () => {
  await mock?.close();
  await dpopMock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('wallet_vci.mjs', () => {
  test('offer by reference + tx_code: credential issued and verified', async () => {
    const { link, txCode } = mock.createOffer();
    const { code, out } = await run('wallet_vci.mjs', { offer: link, tx_code: txCode, holder_jwk: holder });
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.issuer, mock.base);
    assert.equal(out.credential_configuration_id, 'ru.passport');
    assert.equal(out.credentials.length, 1);
    assert.equal(out.verified_claims.family_name, 'Иванов');
    assert.equal(out.verified_claims.resident_address.region, 'г. Москва');
    assert.deepEqual(out.verified_claims.cnf.jwk, { kty: 'EC', crv: 'P-256', x: holder.x, y: holder.y });
    assert.equal(out.offer_by, 'reference');
    assert.equal(out.tx_code_sent, true);
    assert.equal(out.nonce_used, true);
    assert.equal(out.metadata_version, 'V1');
    credential = out.credentials[0];
  });
  test('offer by value without tx_code', async () => {
    const { link } = mock.createOffer({ txCode: false, byValue: true });
    const { code, out } = await run('wallet_vci.mjs', { offer: link, tx_code: null, holder_jwk: holder });
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.offer_by, 'value');
    assert.equal(out.tx_code_sent, false);
  });
  test('DPoP-bound token when the AS advertises ES256', async () => {
    const { link, txCode } = dpopMock.createOffer();
    const { code, out } = await run('wallet_vci.mjs', { offer: link, tx_code: txCode, holder_jwk: holder });
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.dpop, true);
    assert.equal(out.token_type, 'DPoP');
  });
  test('AS metadata without the anonymous-access flag: strict refuses, strict=false proceeds', async () => {
    const m = await startMockServer({ verifierCert: makeLeaf(dir, ca), anonymous: false });
    try {
      const o1 = m.createOffer();
      const r1 = await run('wallet_vci.mjs', { offer: o1.link, tx_code: o1.txCode, holder_jwk: holder });
      assert.equal(r1.code, 1);
      assert.equal(r1.out.step, 'token');
      assert.match(r1.out.error, /anonymous_access_supported/);
      const o2 = m.createOffer();
      const r2 = await run('wallet_vci.mjs', { offer: o2.link, tx_code: o2.txCode, holder_jwk: holder, strict: false });
      assert.equal(r2.code, 0, JSON.stringify(r2.out));
    } finally {
      await m.close();
    }
  });
  test('wrong tx_code fails at step token with the OAuth error', async () => {
    const { link } = mock.createOffer();
    const { code, out } = await run('wallet_vci.mjs', { offer: link, tx_code: '000000x', holder_jwk: holder });
    assert.equal(code, 1);
    assert.equal(out.step, 'token');
    assert.match(out.error, /invalid_grant/);
  });
  test('missing tx_code is caught before the token request', async () => {
    const { link } = mock.createOffer();
    const { code, out } = await run('wallet_vci.mjs', { offer: link, tx_code: null, holder_jwk: holder });
    assert.equal(code, 1);
    assert.equal(out.step, 'token');
  });
});

describe('wallet_vp.mjs', () => {
  const vp = (req, extra = {}) => run('wallet_vp.mjs', { authorization_request: req.authorizationRequest, credentials: [credential], holder_jwk: holder, x509_trust: { ca_pem: ca.pem }, ...extra });

  test('direct_post.jwt, x509_hash, CA-anchored: verified with only the requested claims', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY });
    const { code, out } = await vp(req);
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal(out.response_mode, 'direct_post.jwt');
    assert.equal(out.client_id, req.clientId);
    assert.equal(out.jwe_header.alg, 'ECDH-ES');
    assert.equal(out.jwe_header.enc, 'A256GCM'); // the verifier's first choice
    const st = await mock.status(req.id);
    assert.equal(st.status, 'verified');
    const c = st.claims.passport;
    assert.equal(c.family_name, 'Иванов');
    assert.deepEqual(c.age_equal_or_over, { 18: true });
    assert.equal(c.resident_address.street_address, 'ул. Тверская, д. 1');
    assert.equal(c.given_name, undefined);
    assert.equal(c.birthdate, undefined);
  });
  test('direct_post (plain) with x509_trust accept', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY, responseMode: 'direct_post' });
    const { code, out } = await vp(req, { x509_trust: 'accept' });
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.match(out.posted_body, /^vp_token=/);
  });
  test('decentralized_identifier (did:key) request object', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY, prefix: 'did' });
    const { code, out } = await vp(req);
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal(out.client_id_prefix, 'decentralized_identifier');
  });
  test('quirk: decentralized_identifier request object whose iss is the full client_id is refused by the library', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY, prefix: 'did', withIss: true });
    const { code, out } = await vp(req);
    assert.equal(code, 1);
    assert.equal(out.step, 'resolve_request');
    assert.match(out.error, /different from did value in 'iss'/);
  });
  test('a second answer to the same request gets the verifier status (400), exit 0', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY });
    assert.equal((await vp(req)).out.status, 200);
    const again = await vp(req);
    assert.equal(again.code, 0);
    assert.equal(again.out.status, 400);
  });
  test('plain answer to a direct_post.jwt request (override) is refused by the verifier', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY });
    const { out } = await vp(req, { overrides: { response_mode: 'direct_post' } });
    assert.equal(out.status, 400);
    assert.equal((await mock.status(req.id)).status, 'failed');
  });
  test('wrong KB nonce (override) is refused', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY });
    const { out } = await vp(req, { overrides: { kb_nonce: 'not-the-nonce' } });
    assert.equal(out.status, 400);
  });
  test('leaf not issued by the trusted CA -> resolve_request fails', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY });
    const { code, out } = await vp(req, { x509_trust: { ca_pem: otherCa.pem } });
    assert.equal(code, 1);
    assert.equal(out.step, 'resolve_request');
    assert.match(out.error, /trust anchor/);
  });
  test('client_id that is not the hash of the x5c leaf -> resolve_request fails', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY });
    const bad = { ...req, authorizationRequest: req.authorizationRequest.replace(/client_id=x509_hash%3A[^&]+/, 'client_id=x509_hash%3AAAAA') };
    const { code, out } = await vp(bad);
    assert.equal(code, 1);
    assert.equal(out.step, 'resolve_request');
  });
  test('request object aud other than https://self-issued.me/v2 -> check_request fails (strict)', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY, aud: 'https://wallet.example' });
    const { code, out } = await vp(req);
    assert.equal(code, 1);
    assert.equal(out.step, 'check_request');
  });
  test('request object typ other than oauth-authz-req+jwt is refused', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY, typ: 'JWT' });
    const { code, out } = await vp(req);
    assert.equal(code, 1);
    assert.ok(['resolve_request', 'check_request'].includes(out.step), out.error);
  });
  test('encryption key marked use=sig is not used', async () => {
    const req = await mock.createPresentationRequest({ dcqlQuery: PASSPORT_QUERY, encUse: 'sig' });
    const { code, out } = await vp(req);
    assert.equal(code, 1);
    assert.equal(out.step, 'encrypt_response');
  });
  test('unsatisfiable query: fail, or send access_denied', async () => {
    const q = { credentials: [{ id: 'pension', format: 'dc+sd-jwt', meta: { vct_values: ['urn:ru:digital-id:pensioner-status:1'] } }] };
    const req = await mock.createPresentationRequest({ dcqlQuery: q });
    const r1 = await vp(req);
    assert.equal(r1.code, 1);
    assert.equal(r1.out.step, 'dcql_match');
    const r2 = await vp(req, { on_unsatisfiable: 'send_error' });
    assert.equal(r2.code, 0, JSON.stringify(r2.out));
    assert.equal(r2.out.sent, 'error');
    assert.equal((await mock.status(req.id)).error.code, 'access_denied');
  });
  test('claim_sets: the first satisfiable set is disclosed, nothing else', async () => {
    const q = {
      credentials: [
        {
          id: 'age',
          format: 'dc+sd-jwt',
          meta: { vct_values: ['urn:ru:digital-id:passport:1'] },
          claims: [
            { id: 'over21', path: ['age_equal_or_over', '21'], values: [false] },
            { id: 'over18', path: ['age_equal_or_over', '18'], values: [true] },
            { id: 'birthdate', path: ['birthdate'] },
          ],
          claim_sets: [['over21'], ['over18'], ['birthdate']],
        },
      ],
    };
    const req = await mock.createPresentationRequest({ dcqlQuery: q });
    const { code, out } = await vp(req);
    assert.equal(code, 0, JSON.stringify(out));
    assert.deepEqual(out.disclosed, { age: [[['age_equal_or_over', '18']]] });
    const st = await mock.status(req.id);
    assert.deepEqual(st.claims.age.age_equal_or_over, { 18: true });
    assert.equal(st.claims.age.birthdate, undefined);
  });
});

test('dcql_vectors.json is what dcql_check.mjs generates', () => {
  execFileSync(process.execPath, [join(HERE, 'dcql_check.mjs'), '--check'], { stdio: 'pipe' });
});

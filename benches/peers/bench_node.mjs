// Peer benchmark: OpenWallet Foundation @sd-jwt/sd-jwt-vc + @sd-jwt/core (0.19.x),
// ES256 via @sd-jwt/crypto-nodejs.
//
// Run through benches/peers/run.sh (installs, pins to one core). Directly:
//   taskset -c 0 node benches/peers/bench_node.mjs
//
// Operations on benches/peers/passport.json (12 claims, all selectively disclosable):
//   issue   - issue the SD-JWT VC, ES256 issuer key, cnf.jwk = holder key
//   present - holder presents 3 claims with a KB-JWT (ES256 holder key)
//   verify  - verify that presentation incl. KB-JWT (aud, nonce, sd_hash)
// Each op: warm-up, then repeated for BENCH_SECONDS (default 3) seconds.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as peer from '../../tests/interop/node/sdjwt_peer.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 0.5);

async function rate(fn) {
  let end = performance.now() + WARMUP * 1000;
  while (performance.now() < end) await fn();
  let n = 0;
  const start = performance.now();
  end = start + SECONDS * 1000;
  for (;;) {
    await fn();
    n += 1;
    const now = performance.now();
    if (now >= end) return (n * 1000) / (now - start);
  }
}

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const fx = JSON.parse(readFileSync(new URL('./passport.json', import.meta.url), 'utf8'));
const issuerJwk = p256();
const holderJwk = p256();
const now = Math.floor(Date.now() / 1000);
const inp = {
  issuer_jwk: issuerJwk, holder_jwk: holderJwk, iss: fx.iss, vct: fx.vct, typ: 'dc+sd-jwt',
  iat: now, exp: now + 365 * 86400, claims: fx.claims,
};
const { aud, nonce } = fx;
const frame = peer.presentationFrame(fx.claims, fx.disclose);

const issuer = await peer.makeIssuer(issuerJwk);
const holder = await peer.makeHolder(holderJwk);
const verifier = await peer.makeVerifier(peer.publicJwk(issuerJwk));

const sdJwt = await peer.issue(issuer, inp);
if (sdJwt.split('~').length - 2 !== 12) throw new Error('expected 12 disclosures');
const pres = await peer.present(holder, sdJwt, frame, aud, nonce);
const claims = await peer.verify(verifier, pres, aud, nonce);
for (const k of Object.keys(fx.claims)) {
  const want = fx.disclose.includes(k) ? fx.claims[k] : undefined;
  if (claims[k] !== want) throw new Error(`claim ${k}: got ${claims[k]}, want ${want}`);
}

const label = `node @sd-jwt/sd-jwt-vc ${peer.LIB_VERSION}`;
const ops = {
  issue: () => peer.issue(issuer, inp),
  present: () => peer.present(holder, sdJwt, frame, aud, nonce),
  verify: () => peer.verify(verifier, pres, aud, nonce),
};
const only = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ops);
for (const name of only) {
  const r = await rate(ops[name]);
  console.log(`${label}  ${name.padEnd(7)}  ${r.toFixed(0).padStart(6)} ops/s`);
}

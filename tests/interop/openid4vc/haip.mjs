// HAIP plumbing shared by wallet_vci_haip.mjs and attestations.mjs: the wallet provider (its
// signing key and x5c come from the Rust test), wallet (client) attestations and key
// attestations made by the @openid4vc libraries, and X.509 chain checks with node:crypto.
//
// The JWTs are built by the libraries, never by hand:
//   wallet attestation  Openid4vciWalletProvider#createWalletAttestationJwt (@openid4vc/openid4vci,
//                       = createClientAttestationJwt of @openid4vc/oauth2)
//   its PoP             clientAuthenticationClientAttestationJwt (@openid4vc/oauth2), which calls the
//                       library's createClientAttestationPopJwt on every token / PAR request
//   key attestation     Openid4vciWalletProvider#createKeyAttestationJwt (= createKeyAttestationJwt)
// Our code only holds the keys: the libraries call `signJwt` with {method: 'x5c', x5c, alg} for
// the provider and {method: 'jwk', publicJwk, alg} for the wallet instance and the holder.

import { X509Certificate } from 'node:crypto';
import { Openid4vciWalletProvider } from '@openid4vc/openid4vci';
import { clientAuthenticationClientAttestationJwt, decodeJwt } from '@openid4vc/oauth2';
import { StepError, generateRandom, isObject, publicJwk, sameKey, x5cEntryJwk } from './common.mjs';

/** OpenID4VCI 1.0 Appendix D.1: the key attestation's `typ`. */
export const KEY_ATTESTATION_TYP = 'key-attestation+jwt';
/** What @openid4vc/openid4vci 0.4.6 writes instead (the pre-1.0 drafts' name; it accepts both when verifying). */
export const LIBRARY_KEY_ATTESTATION_TYP = 'keyattestation+jwt';

/**
 * The wallet provider of the input: `{"id", "jwk": <private EC P-256 JWK of the leaf>, "x5c": [<leaf>, …]}`.
 * The JWK must be the key of x5c[0].
 */
export function walletProviderFromInput(wp, stepName = 'parse_input') {
  if (!isObject(wp)) throw new StepError(stepName, 'wallet_provider must be {"id", "jwk", "x5c"}');
  const { id, jwk, x5c } = wp;
  if (typeof id !== 'string' || !id) throw new StepError(stepName, 'wallet_provider.id must be a non-empty string');
  if (!isObject(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) {
    throw new StepError(stepName, 'wallet_provider.jwk must be a private EC P-256 JWK');
  }
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string')) {
    throw new StepError(stepName, 'wallet_provider.x5c must be a non-empty array of base64 DER certificates');
  }
  let leafJwk;
  try {
    leafJwk = x5cEntryJwk(x5c[0]);
  } catch (e) {
    throw new StepError(stepName, `wallet_provider.x5c[0] is not a certificate: ${e.message}`);
  }
  if (!sameKey(leafJwk, publicJwk(jwk))) throw new StepError(stepName, 'wallet_provider.jwk is not the key of wallet_provider.x5c[0]');
  return { id, jwk, x5c, signer: { method: 'x5c', alg: 'ES256', x5c } };
}

/**
 * The library's wallet provider, signing through `signJwt` (a makeSigner ring holding the
 * provider's key). `keyAttestationTyp: 'spec'` lets the provider's signer (our code, standing
 * for the wallet provider's backend) write OpenID4VCI 1.0's `key-attestation+jwt` where the
 * library 0.4.6 puts the draft name `keyattestation+jwt`; `'library'` keeps the library's header.
 */
export function libraryWalletProvider(signJwt, { keyAttestationTyp = 'spec' } = {}) {
  if (!['spec', 'library'].includes(keyAttestationTyp)) throw new Error('key_attestation_typ must be "spec" or "library"');
  const providerSignJwt = (signer, { header, payload }) => {
    const fixed = keyAttestationTyp === 'spec' && header.typ === LIBRARY_KEY_ATTESTATION_TYP ? { ...header, typ: KEY_ATTESTATION_TYP } : header;
    return signJwt(signer, { header: fixed, payload });
  };
  return new Openid4vciWalletProvider({ callbacks: { signJwt: providerSignJwt } });
}

/**
 * A wallet attestation (`oauth-client-attestation+jwt`): iss = provider id, sub = client_id,
 * iat, exp, cnf.jwk = the wallet instance key; header {alg, typ, x5c}.
 */
export async function createWalletAttestation(walletProvider, provider, { clientId, instanceJwk, issuedAt = new Date(), lifetimeSeconds = 3600 }) {
  return walletProvider.createWalletAttestationJwt({
    signer: provider.signer,
    issuer: provider.id,
    clientId,
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + lifetimeSeconds * 1000),
    confirmation: { jwk: publicJwk(instanceJwk) },
  });
}

/**
 * A key attestation (OpenID4VCI 1.0 Appendix D.1): iss = provider id, iat, exp, attested_keys,
 * key_storage, user_authentication, nonce (when given); header {alg, typ, x5c}.
 * `use`: 'proof_type.jwt' (the library then requires exp) or 'proof_type.attestation' (requires nonce).
 */
export async function createKeyAttestation(walletProvider, provider, { use, attestedKeys, keyStorage, userAuthentication, nonce, issuedAt = new Date(), lifetimeSeconds = 3600 }) {
  return walletProvider.createKeyAttestationJwt({
    signer: provider.signer,
    use,
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + lifetimeSeconds * 1000),
    nonce,
    attestedKeys: attestedKeys.map(publicJwk),
    keyStorage,
    userAuthentication,
    additionalPayload: { iss: provider.id },
  });
}

/**
 * The library's client authentication `attest_jwt_client_auth`, wrapped only to record what it
 * sent: on every call it sets `OAuth-Client-Attestation` (the given JWT) and
 * `OAuth-Client-Attestation-PoP` (a fresh PoP: iss = attestation sub, aud = AS issuer, iat,
 * exp = iat + 60, jti; signed by the cnf key, which `signJwt` must hold).
 */
export function attestationClientAuthentication({ clientAttestationJwt, signJwt, record }) {
  const auth = clientAuthenticationClientAttestationJwt({ clientAttestationJwt, callbacks: { signJwt, generateRandom } });
  return async (options) => {
    await auth(options);
    record?.({
      url: options.url,
      client_attestation: options.headers.get('OAuth-Client-Attestation'),
      client_attestation_pop: options.headers.get('OAuth-Client-Attestation-PoP'),
    });
  };
}

/** Header and payload of a compact JWT (no verification), for reports. */
export function decodeParts(jwt) {
  const { header, payload } = decodeJwt({ jwt });
  return { header, payload };
}

/** The certificates of a PEM text (one or more). */
export function certificatesOfPem(pem) {
  const blocks = String(pem).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Validates an `x5c` header against trust anchors (PEM certificates) with node:crypto, as HAIP
 * 1.0 §6.1.1 asks of SD-JWT VCs (and §6.1 of status list tokens): x5c present, leaf first, the
 * leaf is no CA and not self-signed, each certificate is issued and signed by the next, the last
 * by an anchor, the anchor itself is NOT in x5c, every certificate valid at `now`.
 * Returns the leaf's public JWK and a description of the path.
 */
export function validateX5c(x5c, anchors, { now = new Date(), what = 'x5c' } = {}) {
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string')) {
    throw new Error(`${what}: no x5c header (HAIP 1.0 §6.1.1 requires the issuer's certificate chain)`);
  }
  if (anchors.length === 0) throw new Error(`${what}: no trust anchor given`);
  const certs = x5c.map((b64, i) => {
    try {
      return new X509Certificate(Buffer.from(b64, 'base64'));
    } catch (e) {
      throw new Error(`${what}: x5c[${i}] is not a DER certificate: ${e.message}`);
    }
  });
  for (const [i, c] of certs.entries()) {
    if (anchors.some((a) => a.fingerprint256 === c.fingerprint256)) {
      throw new Error(`${what}: x5c[${i}] is the trust anchor itself (HAIP 1.0 §6.1.1: it MUST NOT be included)`);
    }
  }
  const leaf = certs[0];
  if (leaf.ca) throw new Error(`${what}: the leaf certificate is a CA`);
  if (leaf.checkIssued(leaf) && leaf.verify(leaf.publicKey)) throw new Error(`${what}: the leaf certificate is self-signed`);
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i + 1].ca) throw new Error(`${what}: x5c[${i + 1}] issues x5c[${i}] but is not a CA`);
    if (!certs[i].checkIssued(certs[i + 1]) || !certs[i].verify(certs[i + 1].publicKey)) {
      throw new Error(`${what}: x5c[${i}] is not issued and signed by x5c[${i + 1}]`);
    }
  }
  const last = certs[certs.length - 1];
  const anchor = anchors.find((a) => a.ca && last.checkIssued(a) && last.verify(a.publicKey));
  if (!anchor) {
    throw new Error(`${what}: x5c does not chain to the given CA (last certificate issued by ${JSON.stringify(last.issuer)})`);
  }
  for (const c of [...certs, anchor]) {
    if (now < new Date(c.validFrom) || now > new Date(c.validTo)) {
      throw new Error(`${what}: certificate ${JSON.stringify(c.subject)} is not valid now (${c.validFrom} – ${c.validTo})`);
    }
  }
  return {
    leafJwk: leaf.publicKey.export({ format: 'jwk' }),
    path: [...certs, anchor].map((c) => ({ subject: c.subject, issuer: c.issuer, ca: c.ca, valid_from: c.validFrom, valid_to: c.validTo })),
    leaf_subject_alt_name: leaf.subjectAltName ?? null,
  };
}

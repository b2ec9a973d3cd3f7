#!/usr/bin/env node
// Interop wallet for OpenID4VCI 1.0 (pre-authorized code flow), built on Credo's protocol
// library @openid4vc/openid4vci (Openid4vciClient) — someone else's wallet talking to our issuer.
//
//   node tests/interop/openid4vc/wallet_vci.mjs < in.json
//
// stdin  {"offer": "openid-credential-offer://?credential_offer_uri=…", "tx_code": "123456"|null,
//         "holder_jwk": <private EC P-256 JWK>,
//         optional: "credential_configuration_id" (default: first in the offer),
//                   "dpop": "auto"|"always"|"never" (auto = when AS metadata lists ES256),
//                   "client_id" (else anonymous pre-authorized access),
//                   "strict": true (extra spec checks, see README)}
// stdout {"credentials": ["<sd-jwt>", …], "credential_configuration_id", "issuer",
//         "verified_claims": {…}, …}                                        exit 0
//        {"error": "<step>: …", "step", "http_trace": […]}                   exit 1
//
// Steps: parse_input, resolve_offer, issuer_metadata (credential issuer + authorization server
// metadata), token, nonce, proof, credential, jwt_vc_issuer_metadata, verify_credential.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { preAuthorizedCodeGrantIdentifier, setGlobalConfig } from '@openid4vc/oauth2';
import {
  StepError,
  VERSIONS,
  checkHolderJwk,
  generateEphemeralP256,
  generateRandom,
  hashCallback,
  isObject,
  makeHttp,
  makeSigner,
  publicJwk,
  runDriver,
  step,
} from './common.mjs';
import { decodeSdJwt, jwtVcIssuerMetadataUrl, verifyIssuedCredential } from './sdjwt.mjs';

// http:// is accepted by the library only with this global switch; common.mjs's fetch wrapper
// still refuses plain http to anything but loopback.
setGlobalConfig({ allowInsecureUrls: true });

export async function walletVci(input, http = makeHttp()) {
  // ---- parse_input
  const { offer, tx_code: txCodeIn = null, credential_configuration_id: wantedConfigId, client_id: clientId } = input;
  const dpopMode = input.dpop ?? 'auto';
  const strict = input.strict ?? true;
  if (typeof offer !== 'string' || !/credential_offer(_uri)?=/.test(offer)) {
    throw new StepError('parse_input', 'offer must be an openid-credential-offer:// link with credential_offer_uri or credential_offer');
  }
  if (txCodeIn !== null && typeof txCodeIn !== 'string') throw new StepError('parse_input', 'tx_code must be a string or null');
  if (!['auto', 'always', 'never'].includes(dpopMode)) throw new StepError('parse_input', 'dpop must be auto|always|never');
  const holderJwk = checkHolderJwk(input.holder_jwk);
  const holderPublic = publicJwk(holderJwk);
  const signer = makeSigner([holderJwk]);

  const client = new Openid4vciClient({
    callbacks: {
      fetch: http.fetch,
      hash: hashCallback,
      generateRandom,
      signJwt: signer.signJwt,
      // Pre-authorized code flow: anonymous unless a client_id was given.
      clientAuthentication: ({ body, authorizationServerMetadata }) => {
        if (clientId) {
          body.client_id = clientId;
          return;
        }
        if (strict && body.grant_type === preAuthorizedCodeGrantIdentifier && authorizationServerMetadata['pre-authorized_grant_anonymous_access_supported'] !== true) {
          throw new StepError('token', "authorization server metadata does not set 'pre-authorized_grant_anonymous_access_supported': true and no client_id was given");
        }
      },
    },
  });

  // ---- resolve_offer (fetches credential_offer_uri when the offer is by reference)
  const offerBy = offer.includes('credential_offer_uri=') ? 'reference' : 'value';
  const credentialOffer = await step('resolve_offer', () => client.resolveCredentialOffer(offer));
  const grant = credentialOffer.grants?.[preAuthorizedCodeGrantIdentifier];
  if (!grant) throw new StepError('resolve_offer', 'the offer has no pre-authorized_code grant');

  // ---- issuer_metadata (/.well-known/openid-credential-issuer, then the AS metadata)
  const issuerMetadata = await step('issuer_metadata', () => client.resolveIssuerMetadata(credentialOffer.credential_issuer));
  const issuer = issuerMetadata.credentialIssuer.credential_issuer;
  const configId = wantedConfigId ?? credentialOffer.credential_configuration_ids[0];
  if (!credentialOffer.credential_configuration_ids.includes(configId)) {
    throw new StepError('issuer_metadata', `credential_configuration_id ${configId} is not in the offer (${credentialOffer.credential_configuration_ids.join(', ')})`);
  }
  const config = issuerMetadata.credentialIssuer.credential_configurations_supported[configId];
  if (!config) throw new StepError('issuer_metadata', `credential_configuration_id ${configId} is not in credential_configurations_supported`);
  if (config.format !== 'dc+sd-jwt') throw new StepError('issuer_metadata', `configuration ${configId} has format ${config.format}, this driver handles dc+sd-jwt`);
  const as = issuerMetadata.authorizationServers[0];

  // ---- token (pre-authorized code + tx_code; DPoP when asked / advertised)
  const useDpop = dpopMode === 'always' || (dpopMode === 'auto' && (as?.dpop_signing_alg_values_supported ?? []).includes('ES256'));
  let dpop;
  if (useDpop) {
    const dpopKey = await generateEphemeralP256();
    signer.add(dpopKey);
    dpop = { signer: { method: 'jwk', alg: 'ES256', publicJwk: publicJwk(dpopKey) } };
  }
  const txCode = grant.tx_code ? (txCodeIn ?? undefined) : undefined;
  if (grant.tx_code && txCode === undefined) throw new StepError('token', 'the offer requires a tx_code but none was given');
  const tokenResult = await step('token', () =>
    client.retrievePreAuthorizedCodeAccessTokenFromOffer({ credentialOffer, issuerMetadata, txCode, dpop }),
  );
  const { accessTokenResponse } = tokenResult;
  dpop = tokenResult.dpop ?? dpop;

  // ---- nonce (POST nonce_endpoint; Cache-Control: no-store is required by OpenID4VCI 1.0 §7.2)
  let cNonce;
  const nonceEndpoint = issuerMetadata.credentialIssuer.nonce_endpoint;
  if (nonceEndpoint) {
    cNonce = (await step('nonce', () => client.requestNonce({ issuerMetadata }))).c_nonce;
    const last = [...http.trace].reverse().find((t) => t.url === new URL(nonceEndpoint).href);
    if (strict && !/\bno-store\b/i.test(last?.cache_control ?? '')) {
      throw new StepError('nonce', `nonce response lacks 'Cache-Control: no-store' (got ${JSON.stringify(last?.cache_control ?? null)})`);
    }
  }

  // ---- proof (typ openid4vci-proof+jwt, jwk header, aud = credential_issuer, nonce = c_nonce)
  const { jwt: proofJwt } = await step('proof', () =>
    client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configId,
      signer: { method: 'jwk', alg: 'ES256', publicJwk: holderPublic },
      nonce: cNonce,
      issuedAt: new Date(),
      clientId,
    }),
  );

  // ---- credential ({credential_configuration_id, proofs: {jwt: [...]}})
  const credentialResult = await step('credential', () =>
    client.retrieveCredentials({
      issuerMetadata,
      credentialConfigurationId: configId,
      proofs: { jwt: [proofJwt] },
      accessToken: accessTokenResponse.access_token,
      dpop,
    }),
  );
  const entries = credentialResult.credentialResponse.credentials;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new StepError('credential', `credential response has no 'credentials' array: ${JSON.stringify(credentialResult.credentialResponse)}`);
  }
  const credentials = entries.map((e, i) => {
    if (!isObject(e) || typeof e.credential !== 'string') {
      throw new StepError('credential', `credentials[${i}] is not {"credential": "<sd-jwt>"} (OpenID4VCI 1.0 §8.3)`);
    }
    return e.credential;
  });

  // ---- jwt_vc_issuer_metadata (/.well-known/jwt-vc-issuer → {issuer, jwks})
  const iss = (await step('verify_credential', () => decodeSdJwt(credentials[0]))).payload.iss;
  if (typeof iss !== 'string') throw new StepError('verify_credential', 'credential has no iss');
  const vcMeta = await step('jwt_vc_issuer_metadata', async () => {
    const url = jwtVcIssuerMetadataUrl(iss);
    const res = await http.fetch(url, { headers: { Accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const meta = await res.json();
    if (meta.issuer !== iss) throw new Error(`metadata issuer ${JSON.stringify(meta.issuer)} != credential iss ${JSON.stringify(iss)}`);
    if (meta.jwks_uri && !meta.jwks) {
      const r2 = await http.fetch(meta.jwks_uri, { headers: { Accept: 'application/json' } });
      if (r2.status !== 200) throw new Error(`GET ${meta.jwks_uri} -> ${r2.status}`);
      meta.jwks = await r2.json();
    }
    if (!Array.isArray(meta.jwks?.keys)) throw new Error('metadata has no jwks.keys');
    return meta;
  });

  // ---- verify_credential (@sd-jwt/sd-jwt-vc: signature, disclosures, iat/exp, status list, …)
  const verified = [];
  for (const [i, cred] of credentials.entries()) {
    verified.push(
      await step('verify_credential', async () => {
        try {
          return await verifyIssuedCredential(cred, { jwks: vcMeta.jwks, iss, vct: config.vct, holderJwk });
        } catch (e) {
          e.message = `credentials[${i}]: ${e.message}`;
          throw e;
        }
      }),
    );
  }

  const out = {
    credentials,
    credential_configuration_id: configId,
    issuer,
    verified_claims: verified[0],
    offer_by: offerBy,
    metadata_version: issuerMetadata.originalDraftVersion,
    token_type: accessTokenResponse.token_type,
    dpop: !!dpop,
    tx_code_sent: txCode !== undefined,
    nonce_used: cNonce !== undefined,
    libraries: VERSIONS,
  };
  if (verified.length > 1) out.verified_claims_all = verified;
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const http = makeHttp();
  process.exitCode = await runDriver((input) => walletVci(input, http), http);
}

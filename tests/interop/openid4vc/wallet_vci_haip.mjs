#!/usr/bin/env node
// Interop wallet for OpenID4VCI 1.0 under HAIP 1.0, built on Credo's @openid4vc/oauth2 +
// @openid4vc/openid4vci: wallet (client) attestation + PoP at the PAR and token endpoints,
// DPoP-bound access token, key attestation (in the jwt proof's `key_attestation` header, or as
// the `attestation` proof type), and the issued SD-JWT VC verified with @sd-jwt/sd-jwt-vc using
// the key of its `x5c` leaf, chained to the issuer CA by node:crypto.
//
//   node tests/interop/openid4vc/wallet_vci_haip.mjs < in.json
//
// stdin, every phase:
//        {"wallet_provider": {"id", "jwk": <private P-256 JWK of its leaf>, "x5c": [<leaf b64 DER>…]},
//         "client_id": "<the wallet's client_id: sub of the wallet attestation>",
//         optional: "proof_type": "jwt"|"attestation" (default "jwt"),
//                   "key_storage", "user_authentication" (default: the first value the
//                     configuration's key_attestations_required lists, else "iso_18045_high"),
//                   "key_attestation_typ": "spec"|"library" (see haip.mjs; default "spec"),
//                   "haip": true (false: no HAIP metadata checks and a credential without x5c is
//                     verified against /.well-known/jwt-vc-issuer — to exercise the library
//                     calls against a server that does not do HAIP)}
// plus, by "phase":
//   "pre-authorized" (default): "offer": "openid-credential-offer://…", "tx_code": "…"|null,
//        "holder_jwk": <private P-256 JWK: the attested, credential-bound key>,
//        "issuer_ca_pem": "<PEM of the issuer CA(s) the credential's x5c must chain to>",
//        optional "credential_configuration_id" (default: the offer's first)
//   "authorize": "credential_issuer", "credential_configuration_id", "redirect_uri",
//        optional "state" -> PAR; out {"authorization_request_url", "request_uri", "scope", "sent",
//        "metadata", "resume"}: the caller logs in at the URL and gets the code
//   "redeem": "resume" (of "authorize"), "code", "holder_jwk", "issuer_ca_pem" -> token, credential
// stdout (pre-authorized, redeem)
//        {"credentials", "credential_configuration_id", "issuer", "verified_claims", "proof_type",
//         "token_type", "dpop", "credential_header", "issuer_chain", "status_list",
//         "sent": {client_attestation, client_attestation_pops, key_attestation, proof},
//         "metadata": {…}, "libraries"}                                           exit 0
//        {"error": "<step>: …", "step", "http_trace": […]}                          exit 1
//
// Steps: parse_input, resolve_offer, issuer_metadata, client_attestation, par, token, nonce,
// key_attestation, proof, credential, verify_credential.

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
import {
  attestationClientAuthentication,
  certificatesOfPem,
  createKeyAttestation,
  createWalletAttestation,
  decodeParts,
  libraryWalletProvider,
  validateX5c,
  walletProviderFromInput,
} from './haip.mjs';
import { decodeSdJwt, jwkVerifier, jwtVcIssuerMetadataUrl, verifyIssuedCredential } from './sdjwt.mjs';

setGlobalConfig({ allowInsecureUrls: true });

const ATTEST_JWT_CLIENT_AUTH = 'attest_jwt_client_auth';
const HIGH = 'iso_18045_high';

export async function walletVciHaip(input, http = makeHttp()) {
  const phase = input.phase ?? 'pre-authorized';
  if (phase === 'pre-authorized') return preAuthorized(input, http);
  if (phase === 'authorize') return authorize(input, http);
  if (phase === 'redeem') return redeem(input, http);
  throw new StepError('parse_input', 'phase must be "pre-authorized", "authorize" or "redeem"');
}

/** The pre-authorized code flow from an offer link to a verified credential. */
async function preAuthorized(input, http) {
  // ---- parse_input
  const { offer, tx_code: txCodeIn = null } = input;
  if (typeof offer !== 'string' || !/credential_offer(_uri)?=/.test(offer)) {
    throw new StepError('parse_input', 'offer must be an openid-credential-offer:// link with credential_offer_uri or credential_offer');
  }
  if (txCodeIn !== null && typeof txCodeIn !== 'string') throw new StepError('parse_input', 'tx_code must be a string or null');
  const w = await wallet(input, http, { needHolder: true });

  // ---- resolve_offer
  const credentialOffer = await step('resolve_offer', () => w.client.resolveCredentialOffer(offer));
  const grant = credentialOffer.grants?.[preAuthorizedCodeGrantIdentifier];
  if (!grant) throw new StepError('resolve_offer', 'the offer has no pre-authorized_code grant');
  const configId = input.credential_configuration_id ?? credentialOffer.credential_configuration_ids[0];
  if (!credentialOffer.credential_configuration_ids.includes(configId)) {
    throw new StepError('resolve_offer', `credential_configuration_id ${configId} is not in the offer (${credentialOffer.credential_configuration_ids.join(', ')})`);
  }

  // ---- issuer_metadata, client_attestation
  const m = await issuerMetadataStep(w, credentialOffer.credential_issuer, configId);
  await clientAttestationStep(w);

  // ---- token (pre-authorized code + tx_code; wallet attestation headers; DPoP, nonce retry by the library)
  const txCode = grant.tx_code ? (txCodeIn ?? undefined) : undefined;
  if (grant.tx_code && txCode === undefined) throw new StepError('token', 'the offer requires a tx_code but none was given');
  const tokenResult = await step('token', () =>
    w.client.retrievePreAuthorizedCodeAccessTokenFromOffer({ credentialOffer, issuerMetadata: m.issuerMetadata, txCode, dpop: w.dpop }),
  );
  return credentialSteps(w, m, tokenResult);
}

/**
 * Authorization-code flow, first half: a pushed authorization request (RFC 9126) with the
 * wallet attestation headers and DPoP, made by Oauth2Client#initiateAuthorization. The caller
 * logs the citizen in at the returned URL and comes back with the code (phase "redeem").
 */
async function authorize(input, http) {
  const { credential_issuer: credentialIssuer, credential_configuration_id: configId, redirect_uri: redirectUri, state } = input;
  for (const [k, v] of Object.entries({ credential_issuer: credentialIssuer, credential_configuration_id: configId, redirect_uri: redirectUri })) {
    if (typeof v !== 'string' || !v) throw new StepError('parse_input', `${k} must be a non-empty string`);
  }
  const w = await wallet(input, http, { needHolder: false });
  const m = await issuerMetadataStep(w, credentialIssuer, configId);
  if (w.haip && m.as.require_pushed_authorization_requests !== true) {
    throw new StepError('issuer_metadata', 'authorization server metadata does not set require_pushed_authorization_requests: true (HAIP 1.0 §4.1)');
  }
  if (!m.as.pushed_authorization_request_endpoint) throw new StepError('issuer_metadata', 'authorization server metadata has no pushed_authorization_request_endpoint');
  await clientAttestationStep(w);

  // ---- par (POST pushed_authorization_request_endpoint: response_type, client_id, redirect_uri,
  // resource, scope, state, code_challenge (S256); DPoP header; wallet attestation headers)
  const scope = m.config.scope ?? configId;
  const started = await step('par', () =>
    w.client.oauth2Client.initiateAuthorization({
      authorizationServerMetadata: m.as,
      clientId: w.clientId,
      redirectUri,
      scope,
      state,
      resource: m.issuer,
      dpop: w.dpop,
    }),
  );
  const url = new URL(started.authorizationRequestUrl);
  const requestUri = url.searchParams.get('request_uri');
  if (!requestUri) throw new StepError('par', `the authorization request URL carries no request_uri: ${started.authorizationRequestUrl}`);
  return {
    authorization_request_url: started.authorizationRequestUrl,
    request_uri: requestUri,
    scope,
    sent: { client_attestation: decodeParts(w.clientAttestation), client_attestation_pops: w.sentPops },
    metadata: m.metadata,
    // Everything "redeem" needs to go on as the same wallet instance (test keys only).
    resume: {
      credential_issuer: m.issuer,
      credential_configuration_id: configId,
      client_id: w.clientId,
      redirect_uri: redirectUri,
      instance_jwk: w.instanceJwk,
      dpop_jwk: w.dpopJwk,
      dpop_nonce: started.dpop?.nonce ?? null,
      client_attestation: w.clientAttestation,
      pkce_code_verifier: started.pkce?.codeVerifier ?? null,
    },
    libraries: VERSIONS,
  };
}

/** Authorization-code flow, second half: the code for a DPoP-bound token, then the credential. */
async function redeem(input, http) {
  const { resume, code } = input;
  if (!isObject(resume)) throw new StepError('parse_input', 'resume must be the "resume" object of the authorize phase');
  if (typeof code !== 'string' || !code) throw new StepError('parse_input', 'code must be the authorization code');
  const w = await wallet({ ...input, client_id: resume.client_id }, http, {
    needHolder: true,
    instanceJwk: resume.instance_jwk,
    dpopJwk: resume.dpop_jwk,
    dpopNonce: resume.dpop_nonce ?? undefined,
    clientAttestation: resume.client_attestation,
  });
  const m = await issuerMetadataStep(w, resume.credential_issuer, resume.credential_configuration_id);
  await clientAttestationStep(w);
  // ---- token (authorization_code, code_verifier, redirect_uri, resource; DPoP; wallet attestation headers)
  const tokenResult = await step('token', () =>
    w.client.oauth2Client.retrieveAuthorizationCodeAccessToken({
      authorizationServerMetadata: m.as,
      authorizationCode: code,
      pkceCodeVerifier: resume.pkce_code_verifier ?? undefined,
      redirectUri: resume.redirect_uri,
      resource: m.issuer,
      dpop: w.dpop,
    }),
  );
  return credentialSteps(w, m, tokenResult);
}

/**
 * The wallet: its keys (holder, wallet instance = the attestation's cnf, DPoP), the wallet
 * provider, the trust anchors for the issuer, and an Openid4vciClient whose client
 * authentication is the wallet attestation (once made).
 */
async function wallet(input, http, { needHolder, instanceJwk, dpopJwk, dpopNonce, clientAttestation }) {
  // ---- parse_input
  const proofType = input.proof_type ?? 'jwt';
  const haip = input.haip ?? true;
  const clientId = input.client_id;
  if (!['jwt', 'attestation'].includes(proofType)) throw new StepError('parse_input', 'proof_type must be "jwt" or "attestation"');
  if (typeof clientId !== 'string' || !clientId) throw new StepError('parse_input', 'client_id must be a non-empty string (the wallet attestation sub)');
  let anchors = [];
  if (needHolder) {
    try {
      anchors = certificatesOfPem(input.issuer_ca_pem ?? '');
    } catch (e) {
      throw new StepError('parse_input', `issuer_ca_pem: ${e.message}`);
    }
    if (haip && anchors.length === 0) throw new StepError('parse_input', 'issuer_ca_pem must hold at least one PEM certificate');
  }
  const holderJwk = needHolder ? checkHolderJwk(input.holder_jwk) : null;
  const provider = walletProviderFromInput(input.wallet_provider);
  // The wallet instance key (the wallet attestation's cnf, signs the PoPs) and the DPoP key are
  // the wallet's own, fresh per run (or carried over from the authorize phase).
  instanceJwk ??= await generateEphemeralP256();
  dpopJwk ??= await generateEphemeralP256();
  const signer = makeSigner([provider.jwk, instanceJwk, dpopJwk, ...(holderJwk ? [holderJwk] : [])]);
  const walletProvider = libraryWalletProvider(signer.signJwt, { keyAttestationTyp: input.key_attestation_typ ?? 'spec' });
  const w = {
    proofType,
    haip,
    clientId,
    anchors,
    holderJwk,
    provider,
    instanceJwk,
    dpopJwk,
    signer,
    walletProvider,
    clientAttestation,
    keyStorage: input.key_storage,
    userAuthentication: input.user_authentication,
    sentPops: [],
    dpop: { signer: { method: 'jwk', alg: 'ES256', publicJwk: publicJwk(dpopJwk) }, nonce: dpopNonce },
    clientAuthentication: () => {
      throw new Error('client authentication requested before the wallet attestation was made');
    },
  };
  w.client = new Openid4vciClient({
    callbacks: {
      fetch: http.fetch,
      hash: hashCallback,
      generateRandom,
      signJwt: signer.signJwt,
      clientAuthentication: (options) => w.clientAuthentication(options),
    },
  });
  w.http = http;
  return w;
}

/** Issuer + authorization server metadata, and (haip) what HAIP makes the server advertise. */
async function issuerMetadataStep(w, credentialIssuer, configId) {
  const issuerMetadata = await step('issuer_metadata', () => w.client.resolveIssuerMetadata(credentialIssuer));
  const issuer = issuerMetadata.credentialIssuer.credential_issuer;
  const config = issuerMetadata.credentialIssuer.credential_configurations_supported[configId];
  if (!config) throw new StepError('issuer_metadata', `credential_configuration_id ${configId} is not in credential_configurations_supported`);
  if (config.format !== 'dc+sd-jwt') throw new StepError('issuer_metadata', `configuration ${configId} has format ${config.format}, this driver handles dc+sd-jwt`);
  const as = issuerMetadata.authorizationServers[0];
  const proofTypeMeta = config.proof_types_supported?.[w.proofType];
  const metadata = {
    token_endpoint_auth_methods_supported: as?.token_endpoint_auth_methods_supported ?? null,
    dpop_signing_alg_values_supported: as?.dpop_signing_alg_values_supported ?? null,
    require_pushed_authorization_requests: as?.require_pushed_authorization_requests ?? null,
    'pre-authorized_grant_anonymous_access_supported': as?.['pre-authorized_grant_anonymous_access_supported'] ?? null,
    proof_types_supported: config.proof_types_supported ?? null,
    key_attestations_required: proofTypeMeta?.key_attestations_required ?? null,
  };
  if (w.haip) {
    const oauth2 = w.client.oauth2Client;
    if (!oauth2.isClientAttestationSupported({ authorizationServerMetadata: as }).supported) {
      throw new StepError('issuer_metadata', `authorization server metadata token_endpoint_auth_methods_supported lacks '${ATTEST_JWT_CLIENT_AUTH}' (got ${JSON.stringify(metadata.token_endpoint_auth_methods_supported)})`);
    }
    if (!(oauth2.isDpopSupported({ authorizationServerMetadata: as }).dpopSigningAlgValuesSupported ?? []).includes('ES256')) {
      throw new StepError('issuer_metadata', `authorization server metadata dpop_signing_alg_values_supported lacks ES256 (got ${JSON.stringify(metadata.dpop_signing_alg_values_supported)})`);
    }
    if (!proofTypeMeta) {
      throw new StepError('issuer_metadata', `configuration ${configId} does not offer the '${w.proofType}' proof type (proof_types_supported: ${JSON.stringify(metadata.proof_types_supported)})`);
    }
    if (!(proofTypeMeta.proof_signing_alg_values_supported ?? []).includes('ES256')) {
      throw new StepError('issuer_metadata', `configuration ${configId} '${w.proofType}' proof_signing_alg_values_supported lacks ES256`);
    }
    if (!isObject(proofTypeMeta.key_attestations_required)) {
      throw new StepError('issuer_metadata', `configuration ${configId} '${w.proofType}' proof type has no key_attestations_required object (OpenID4VCI 1.0 §12.2.4)`);
    }
  }
  return { issuerMetadata, issuer, configId, config, as, metadata };
}

/** The wallet attestation (made now, or carried over) becomes the client authentication. */
async function clientAttestationStep(w) {
  w.clientAttestation ??= await step('client_attestation', () =>
    createWalletAttestation(w.walletProvider, w.provider, { clientId: w.clientId, instanceJwk: w.instanceJwk }),
  );
  w.clientAuthentication = attestationClientAuthentication({
    clientAttestationJwt: w.clientAttestation,
    signJwt: w.signer.signJwt,
    record: (r) => w.sentPops.push({ url: r.url, ...decodeParts(r.client_attestation_pop) }),
  });
}

/** From an access token to verified credentials: nonce, key attestation, proof, credential, verify. */
async function credentialSteps(w, m, tokenResult) {
  const { issuerMetadata, issuer, configId, config, metadata } = m;
  const { accessTokenResponse } = tokenResult;
  const dpop = tokenResult.dpop ?? w.dpop;
  if (w.haip && accessTokenResponse.token_type?.toLowerCase() !== 'dpop') {
    throw new StepError('token', `token_type is ${JSON.stringify(accessTokenResponse.token_type)}, expected DPoP (RFC 9449 §5)`);
  }
  const keyStorage = w.keyStorage ?? [metadata.key_attestations_required?.key_storage?.[0] ?? HIGH];
  const userAuthentication = w.userAuthentication ?? [metadata.key_attestations_required?.user_authentication?.[0] ?? HIGH];

  // ---- nonce
  if (!issuerMetadata.credentialIssuer.nonce_endpoint) throw new StepError('nonce', 'the credential issuer has no nonce_endpoint');
  const cNonce = (await step('nonce', () => w.client.requestNonce({ issuerMetadata }))).c_nonce;

  // ---- key_attestation (OpenID4VCI 1.0 Appendix D.1; nonce = c_nonce: Appendix F.1 / F.3)
  const keyAttestation = await step('key_attestation', () =>
    createKeyAttestation(w.walletProvider, w.provider, {
      use: w.proofType === 'jwt' ? 'proof_type.jwt' : 'proof_type.attestation',
      attestedKeys: [w.holderJwk],
      keyStorage,
      userAuthentication,
      nonce: cNonce,
    }),
  );

  // ---- proof
  let proofs;
  let proofJwt;
  if (w.proofType === 'jwt') {
    // header {alg, typ: openid4vci-proof+jwt, jwk: holder key, key_attestation}, payload
    // {iss: client_id, aud: credential_issuer, iat, nonce}; the library checks the signing key
    // is in attested_keys and refuses without a key attestation when key_attestations_required.
    ({ jwt: proofJwt } = await step('proof', () =>
      w.client.createCredentialRequestJwtProof({
        issuerMetadata,
        credentialConfigurationId: configId,
        signer: { method: 'jwk', alg: 'ES256', publicJwk: publicJwk(w.holderJwk) },
        nonce: cNonce,
        issuedAt: new Date(),
        clientId: w.clientId,
        keyAttestationJwt: keyAttestation,
      }),
    ));
    proofs = { jwt: [proofJwt] };
  } else {
    proofs = { attestation: [keyAttestation] };
  }

  // ---- credential ({credential_configuration_id, proofs}; DPoP-bound access token)
  const credentialResult = await step('credential', () =>
    w.client.retrieveCredentials({ issuerMetadata, credentialConfigurationId: configId, proofs, accessToken: accessTokenResponse.access_token, dpop }),
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

  // ---- verify_credential (x5c leaf -> issuer CA; @sd-jwt/sd-jwt-vc with that key; status list)
  const { verified, credentialHeader, issuerChain, statusList } = await verifyCredentialsHaip(credentials, {
    http: w.http,
    issuer,
    vct: config.vct,
    holderJwk: w.holderJwk,
    anchors: w.anchors,
    haip: w.haip,
  });

  const out = {
    credentials,
    credential_configuration_id: configId,
    issuer,
    verified_claims: verified[0],
    proof_type: w.proofType,
    token_type: accessTokenResponse.token_type,
    dpop: !!dpop,
    credential_header: { ...credentialHeader, x5c: credentialHeader.x5c ?? null },
    issuer_chain: issuerChain && { path: issuerChain.path, leaf_subject_alt_name: issuerChain.leaf_subject_alt_name },
    status_list: statusList,
    sent: {
      client_attestation: decodeParts(w.clientAttestation),
      client_attestation_pops: w.sentPops,
      key_attestation: decodeParts(keyAttestation),
      proof: proofJwt ? decodeParts(proofJwt) : null,
    },
    metadata,
    libraries: VERSIONS,
  };
  if (verified.length > 1) out.verified_claims_all = verified;
  return out;
}

/**
 * Verifies issued SD-JWT VCs as a HAIP wallet: `x5c` present and chaining to `anchors`
 * (validateX5c), the leaf's key verifies the issuer signature (@sd-jwt/sd-jwt-vc: signature,
 * disclosures, iat/nbf/exp, status), `iss` = the credential issuer, `vct`, `cnf.jwk` = holder key;
 * the status list token must carry an `x5c` chaining to the same anchors (HAIP 1.0 §6.1). With
 * `haip: false` a credential without `x5c` is verified against /.well-known/jwt-vc-issuer instead.
 */
export async function verifyCredentialsHaip(credentials, { http, issuer, vct, holderJwk, anchors, haip = true }) {
  const statusList = { fetched: false, x5c: null };
  const fetchedStatusJwts = new Map(); // signing input -> header
  const statusListFetcher = async (uri) => {
    const res = await http.fetch(uri, { headers: { Accept: 'application/statuslist+jwt' } });
    if (!res.ok) throw new Error(`GET ${uri} -> ${res.status}`);
    if (!(res.headers.get('content-type') ?? '').includes('application/statuslist+jwt')) throw new Error(`status list content type is ${res.headers.get('content-type')}`);
    const jwt = (await res.text()).trim();
    const [h, p] = jwt.split('.');
    fetchedStatusJwts.set(`${h}.${p}`, decodeParts(jwt).header);
    statusList.fetched = true;
    return jwt;
  };
  let jwksKeys; // only when a credential is verified through /.well-known/jwt-vc-issuer (haip: false)
  const statusVerifier = async (data, sig) => {
    const header = fetchedStatusJwts.get(data);
    if (!header) throw new Error('status list token was not fetched by this wallet');
    if (header.x5c !== undefined) {
      const chain = validateX5c(header.x5c, anchors, { what: 'status list token' });
      statusList.x5c = chain.path.map((c) => c.subject);
      return jwkVerifier(chain.leafJwk)(data, sig);
    }
    if (haip) throw new Error('the status list token has no x5c header (HAIP 1.0 §6.1)');
    for (const k of jwksKeys ?? []) {
      try {
        if (await jwkVerifier(k)(data, sig)) return true;
      } catch {
        /* key of another type */
      }
    }
    return false;
  };

  const verified = [];
  let credentialHeader;
  let issuerChain = null;
  for (const [i, cred] of credentials.entries()) {
    verified.push(
      await step('verify_credential', async () => {
        try {
          const { header, payload } = await decodeSdJwt(cred);
          if (i === 0) credentialHeader = header;
          if (payload.iss !== issuer) throw new Error(`iss ${JSON.stringify(payload.iss)} != credential issuer ${JSON.stringify(issuer)}`);
          const common = { iss: issuer, vct, holderJwk, statusVerifier, statusListFetcher };
          if (header.x5c !== undefined || haip) {
            const chain = validateX5c(header.x5c, anchors, { what: 'credential' });
            if (i === 0) issuerChain = chain;
            return await verifyIssuedCredential(cred, { ...common, issuerKey: chain.leafJwk });
          }
          jwksKeys ??= await jwtVcIssuerKeys(http, issuer);
          return await verifyIssuedCredential(cred, { ...common, jwks: { keys: jwksKeys } });
        } catch (e) {
          e.message = `credentials[${i}]: ${e.message}`;
          throw e;
        }
      }),
    );
  }
  return { verified, credentialHeader, issuerChain, statusList };
}

/** The keys of `/.well-known/jwt-vc-issuer` for `iss` (`jwks` or `jwks_uri`). */
async function jwtVcIssuerKeys(http, iss) {
  const url = jwtVcIssuerMetadataUrl(iss);
  const res = await http.fetch(url, { headers: { Accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status}`);
  const meta = await res.json();
  if (meta.issuer !== iss) throw new Error(`jwt-vc-issuer metadata issuer ${JSON.stringify(meta.issuer)} != ${JSON.stringify(iss)}`);
  if (meta.jwks_uri && !meta.jwks) {
    const r2 = await http.fetch(meta.jwks_uri, { headers: { Accept: 'application/json' } });
    if (r2.status !== 200) throw new Error(`GET ${meta.jwks_uri} -> ${r2.status}`);
    meta.jwks = await r2.json();
  }
  if (!Array.isArray(meta.jwks?.keys)) throw new Error('jwt-vc-issuer metadata has no jwks.keys');
  return meta.jwks.keys;
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const http = makeHttp();
  process.exitCode = await runDriver((input) => walletVciHaip(input, http), http);
}

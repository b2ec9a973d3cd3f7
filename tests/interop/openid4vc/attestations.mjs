#!/usr/bin/env node
// The attestations a HAIP wallet sends, made by @openid4vc/oauth2 + @openid4vc/openid4vci 0.4.6
// with a wallet provider key and x5c given by the caller, and printed WITHOUT talking to any
// server: the Rust tests check them against the server's own trust rules (trust::attestation).
//
//   node tests/interop/openid4vc/attestations.mjs < in.json
//
// stdin  {"wallet_provider": {"id", "jwk": <private P-256 JWK>, "x5c": [<leaf b64 DER>]},
//         "client_id", "audience" (the authorization server's issuer: PoP aud),
//         "credential_issuer" (proof aud), "holder_jwk": <private P-256 JWK, the attested key>,
//         "nonce" (c_nonce), optional "key_storage", "user_authentication" (default
//         ["iso_18045_high"]), "key_attestation_typ": "spec"|"library" (default "spec")}
// stdout {"instance_jwk", "client_attestation", "client_attestation_pop", "key_attestation"
//         (for the jwt proof; exp and nonce set), "attestation_proof" (the attestation proof type),
//         "jwt_proof" (openid4vci-proof+jwt with the key_attestation header), "libraries"}   exit 0
//        {"error": "<step>: …", "step"}                                                   exit 1

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { setGlobalConfig } from '@openid4vc/oauth2';
import { StepError, VERSIONS, checkHolderJwk, generateEphemeralP256, generateRandom, hashCallback, makeSigner, publicJwk, runDriver, step } from './common.mjs';
import {
  attestationClientAuthentication,
  createKeyAttestation,
  createWalletAttestation,
  libraryWalletProvider,
  walletProviderFromInput,
} from './haip.mjs';

setGlobalConfig({ allowInsecureUrls: true });

export async function attestations(input) {
  const provider = walletProviderFromInput(input.wallet_provider);
  const holderJwk = checkHolderJwk(input.holder_jwk);
  for (const k of ['client_id', 'audience', 'credential_issuer', 'nonce']) {
    if (typeof input[k] !== 'string' || !input[k]) throw new StepError('parse_input', `${k} must be a non-empty string`);
  }
  const keyStorage = input.key_storage ?? ['iso_18045_high'];
  const userAuthentication = input.user_authentication ?? ['iso_18045_high'];
  const instanceJwk = await generateEphemeralP256();
  const signer = makeSigner([provider.jwk, instanceJwk, holderJwk]);
  const walletProvider = libraryWalletProvider(signer.signJwt, { keyAttestationTyp: input.key_attestation_typ ?? 'spec' });

  const clientAttestation = await step('client_attestation', () =>
    createWalletAttestation(walletProvider, provider, { clientId: input.client_id, instanceJwk }),
  );
  // The PoP exactly as the library makes it for a token request: its client authentication
  // callback, called the way Oauth2Client calls it.
  let sent;
  const auth = attestationClientAuthentication({ clientAttestationJwt: clientAttestation, signJwt: signer.signJwt, record: (r) => (sent = r) });
  await step('client_attestation_pop', () =>
    auth({
      url: `${input.audience}/token`,
      method: 'POST',
      authorizationServerMetadata: { issuer: input.audience },
      body: {},
      contentType: 'application/x-www-form-urlencoded',
      headers: new Headers(),
    }),
  );

  const keyAttestation = await step('key_attestation', () =>
    // OpenID4VCI 1.0 Appendix F.1: with a c_nonce, the key attestation's nonce MUST be it.
    createKeyAttestation(walletProvider, provider, { use: 'proof_type.jwt', attestedKeys: [holderJwk], keyStorage, userAuthentication, nonce: input.nonce }),
  );
  const attestationProof = await step('attestation_proof', () =>
    createKeyAttestation(walletProvider, provider, {
      use: 'proof_type.attestation',
      attestedKeys: [holderJwk],
      keyStorage,
      userAuthentication,
      nonce: input.nonce,
    }),
  );
  // The jwt proof with the key attestation in its header, by the client method a wallet uses
  // (it needs issuer metadata only for the proof type and alg checks).
  const client = new Openid4vciClient({ callbacks: { signJwt: signer.signJwt, hash: hashCallback, generateRandom, fetch } });
  const issuerMetadata = {
    credentialIssuer: {
      credential_issuer: input.credential_issuer,
      credential_configurations_supported: {
        c: { format: 'dc+sd-jwt', proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'], key_attestations_required: {} } } },
      },
    },
  };
  const { jwt: jwtProof } = await step('jwt_proof', () =>
    client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: 'c',
      signer: { method: 'jwk', alg: 'ES256', publicJwk: publicJwk(holderJwk) },
      nonce: input.nonce,
      issuedAt: new Date(),
      clientId: input.client_id,
      keyAttestationJwt: keyAttestation,
    }),
  );
  return {
    instance_jwk: publicJwk(instanceJwk),
    client_attestation: sent.client_attestation,
    client_attestation_pop: sent.client_attestation_pop,
    key_attestation: keyAttestation,
    attestation_proof: attestationProof,
    jwt_proof: jwtProof,
    libraries: VERSIONS,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await runDriver(attestations);
}

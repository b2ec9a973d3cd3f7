//! The fuzz harness the targets and the seed generator share: one [`World`]
//! per process — settings, fixed keys, an in-memory store, the demo
//! registry and the verifier, all at a fixed clock ([`NOW`]) — and one
//! function per target that feeds an input through the server's real entry
//! points (the same calls the HTTP handlers make) and checks what DESIGN.md
//! promises for bad input: a typed error with a 4xx status, nothing
//! half-written, single use. A broken promise is a panic, so libFuzzer
//! reports it like a crash.

pub mod mem_store;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use digital_id::catalogue::DOCUMENTS;
use digital_id::config::{FileConfig, ServeArgs, Settings};
use digital_id::crypto::jws::{self, Jws};
use digital_id::crypto::{Algorithm, SigningKey, did_key};
use digital_id::http::WireError;
use digital_id::issuer::{Ctx, Grant, credential, ns};
use digital_id::keystore::{self, KeySet, StoreSecret};
use digital_id::registry::demo::DemoRegistry;
use digital_id::registry::{IdentityProofing, SubjectId};
use digital_id::sdjwt::{self, VerifyPolicy};
use digital_id::status::{Allocator, Entries, TokenCache};
use digital_id::store::{self, BoxFut, Store};
use digital_id::verifier::dcql::DcqlQuery;
use digital_id::verifier::fetch::{Fetch, FetchError};
use digital_id::verifier::presets::Preset;
use digital_id::verifier::request::{CreateRequest, query_of};
use digital_id::verifier::response::{Accepted, Responded, ResponseError, WalletResponse};
use digital_id::verifier::outbound::Outbound;
use digital_id::verifier::transaction::{
    NS_REQUEST, NS_RESPONSE, NS_TRANSACTION, Outcome, Phase, ResponseId, ResponseMode,
};
use digital_id::verifier::{
    REQUEST_URI_PATH, RequestId, Transaction, TransactionId, Verifier, jwe,
};
use serde_json::{Map, Value, json};

use mem_store::MemStore;

/// The clock of every fuzz input (2027-01-15T08:00:00Z).
pub const NOW: i64 = 1_800_000_000;
/// The server's public URL: the Credential Issuer Identifier and the `iss`
/// of its credentials.
pub const PUBLIC_URL: &str = "https://id.example.ru";
/// The bearer access token: a grant of every credential configuration of
/// [`SUBJECT`].
pub const ACCESS_TOKEN: &str = "fuzz-access-token";
/// The one live `c_nonce` of a credential request.
pub const C_NONCE: &str = "fuzz-c-nonce-AAAAAAAAAAAAAAAAAAAAAA";
/// The registry subject the access token is for (an adult with five documents).
pub const SUBJECT: &str = "ivanov-ivan";
/// The presentation transaction: its client_id (the KB-JWT `aud`), nonce,
/// state and ids.
pub const VP_CLIENT_ID: &str = "x509_hash:fuzz-verifier";
pub const VP_NONCE: &str = "fuzz-vp-nonce-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub const VP_STATE: &str = "fuzz-state";
pub const REQUEST_ID: &str = "fuzz-request";
/// The response URI's own id (disclosed only in the request object).
pub const RESPONSE_ID: &str = "fuzz-response";
pub const TRANSACTION_ID: &str = "fuzz-transaction";

/// Fixed private keys, so that committed seeds stay valid: the issuer's
/// ES256 key, the verifier's request-signing key and three holder keys.
pub const ISSUER_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"2qjU0w9pYduEHGHKSdWvGuJ6fjXcGT9ljFbuUwfuhnc","y":"ZQ6GDGOT6y__xlwNWaJZkSz7wMxRRCfPAZ9ju_XLCt8","d":"5Yt12KA58jsWiu5gIYjmfbRhmMDCp-7w_CfXAzv7Aog"}"#;
pub const VERIFIER_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"JkbsHWFvNPUCWW3NfsFIrOkonulP-ghqhLn4V5MqtK4","y":"nvres3uVZBeIVOWNMdm4NhT4L3u9PNelDVS9eG2d4lM","d":"jK6S5cHrFNvcPtKFOroNcog3rCy2MAA_XIOFru_WMC4"}"#;
pub const HOLDER_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"_wvNUNpOCwobF_cWmnY6F65Sx5PH7Yml4S9ZfpK0Dxg","y":"WPeJA6syC44XX-jVHwfMQIkMPPnShxgXhCM2kqLS1GY","d":"jGMC82AL1LnH-OQlwYVVYlsDI1g-FyWaz1CrVVPkwhs"}"#;
pub const HOLDER2_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"z6cR3-A-aMtvoab3sc9CQT3Jor1n5vANUk0Ww3wRQo4","y":"8LMglYhgmL1oFPwAks-FvznR66UakOrZnKyYBTUwY9o","d":"xUx2puTfWomdR5EfWNVcxbPjNOp-yNfPEt8ka5mwi38"}"#;
pub const HOLDER_ED_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"IOP1-_fYSQTfTDbwQeAEXnfaHiGKwfckyo8cdb67dwk","d":"bx8jz3XQ6sZy3os8QUpy2C06-V6CEUInGJrwyonNFpo"}"#;
/// The response encryption key of every `direct_post.jwt` transaction: the
/// example key of OpenID4VP 1.0 §8.3, so the spec's example response is a seed.
pub const RESPONSE_KEY: &str = r#"{"kty":"EC","kid":"ac","use":"enc","crv":"P-256","alg":"ECDH-ES","x":"YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk","y":"Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk","d":"Et-3ce0omz8_TuZ96Df9lp0GAaaDoUnDe6X-CRO7Aww"}"#;

/// A signing key from one of the constants above.
pub fn key(jwk: &str) -> SigningKey {
    let value: Value = serde_json::from_str(jwk).expect("a fixed key is JSON");
    SigningKey::from_jwk(&value).expect("a fixed key is a valid private JWK")
}

/// Queries a `vp_response` transaction may carry besides the presets: one
/// with `claim_sets`, `values`, `credential_sets` and a `multiple` query,
/// and one without holder binding.
const EXTRA_QUERIES: &[&str] = &[
    r#"{"credentials": [
        {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["urn:ru:digital-id:passport:1"]},
         "claims": [{"id": "adult", "path": ["age_equal_or_over", "18"], "values": [true]},
                    {"id": "name", "path": ["family_name"]},
                    {"id": "town", "path": ["resident_address", "locality"]}],
         "claim_sets": [["adult"], ["name", "town"]]},
        {"id": "dl", "format": "dc+sd-jwt", "multiple": true,
         "meta": {"vct_values": ["urn:ru:digital-id:driving-licence:1"]},
         "claims": [{"path": ["driving_privileges", null, "category"], "values": ["B", "C"]}]}],
      "credential_sets": [{"options": [["pid"]]}, {"options": [["dl"]], "required": false}]}"#,
    r#"{"credentials": [{"id": "inn", "format": "dc+sd-jwt", "require_cryptographic_holder_binding": false,
        "meta": {"vct_values": ["urn:ru:digital-id:inn:1"]}, "claims": [{"path": ["inn"]}]}]}"#,
];

/// Processed claims a DCQL query is evaluated against: shaped like the
/// catalogue's documents, with nested objects, arrays of objects and
/// scalars of every JSON type.
const CLAIM_SAMPLES: &[&str] = &[
    r#"{"vct": "urn:ru:digital-id:passport:1", "iss": "https://id.example.ru", "family_name": "Иванов",
        "given_name": "Иван", "patronymic": "Иванович", "birthdate": "1990-05-17", "sex": "male",
        "document_number": "4510 158813", "issue_date": "2010-06-16",
        "resident_address": {"postal_code": "698797", "locality": "Москва", "street_address": "ул. Садовая, д. 1"},
        "age_equal_or_over": {"14": true, "16": true, "18": true, "21": true, "65": false},
        "age_in_years": 36, "age_birth_year": 1990}"#,
    r#"{"vct": "urn:ru:digital-id:driving-licence:1", "family_name": "Иванов", "document_number": "7721170753",
        "driving_privileges": [{"category": "B", "issue_date": "2021-02-14", "expiry_date": "2031-02-14"},
                               {"category": "C", "issue_date": "2022-03-01", "codes": [{"code": "78"}]}]}"#,
    r#"{"vct": "urn:ru:digital-id:pensioner-status:1", "family_name": "Смирнова", "pensioner": true,
        "pension_type": "old_age", "pension_since": "2019-01-01"}"#,
    r#"{"vct": "https://credentials.example.com/identity_credential", "last_name": "Doe", "first_name": "John",
        "address": {"street_address": "42 Market Street", "postal_code": "90210", "locality": "Milliways"},
        "nationalities": ["DE", "RU"], "degrees": [{"type": "Bachelor"}, "honorary", null], "score": -1.5}"#,
];

/// Everything one fuzzing process works with.
pub struct World {
    pub settings: Settings,
    pub keys: KeySet,
    pub store: Arc<MemStore>,
    pub registry: DemoRegistry,
    pub status: Allocator,
    pub status_tokens: TokenCache,
    /// No trusted wallet providers: attestations are refused as untrusted.
    pub wallet_providers: digital_id::crypto::x509::Anchors,
    pub verifier: Verifier,
    /// The private response key of `direct_post.jwt` transactions.
    pub response_key: Map<String, Value>,
    /// The queries `vp_response` transactions carry: the presets, then
    /// [`EXTRA_QUERIES`].
    pub queries: Vec<DcqlQuery>,
    pub claim_samples: Vec<Map<String, Value>>,
    rt: tokio::runtime::Runtime,
}

static WORLD: OnceLock<World> = OnceLock::new();

impl World {
    /// The process's world, built on first use.
    pub fn get() -> &'static World {
        WORLD.get_or_init(World::new)
    }

    fn new() -> World {
        // The verifier loads its key and certificates from a data
        // directory; it is only needed while the verifier is built.
        let dir = std::env::temp_dir().join(format!("digital-id-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).expect("a temporary data directory");
        keystore::write_private_atomically(
            &dir.join("keys/verifier-es256.jwk"),
            VERIFIER_KEY.as_bytes(),
        )
        .expect("the verifier key file");
        let args = ServeArgs {
            data_dir: Some(dir.clone()),
            public_url: Some(PUBLIC_URL.into()),
            ..ServeArgs::default()
        };
        let settings = Settings::from_layers(args, FileConfig::default()).expect("valid settings");
        let keys = KeySet {
            issuer_es256: key(ISSUER_KEY),
            issuer_eddsa: SigningKey::generate(Algorithm::EdDsa).expect("an Ed25519 key"),
            store_secret: StoreSecret::new(&[7; 32]),
        };
        let store = Arc::new(MemStore::default());
        let fetcher = Arc::new(StatusLists {
            issuer: key(ISSUER_KEY),
            size: settings.issuer.status_list_size,
        });
        let verifier = Verifier::with_fetcher(
            &settings,
            [
                keys.issuer_es256.public().clone(),
                keys.issuer_eddsa.public().clone(),
            ],
            store.clone(),
            Outbound::new(Default::default()),
            fetcher,
        )
        .expect("the verifier");
        let _ = std::fs::remove_dir_all(&dir);
        let registry =
            DemoRegistry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/registry"))
                .expect("the demo registry");
        let status = Allocator::new(settings.issuer.status_list_size);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        let grant = Grant {
            subject_id: SubjectId(SUBJECT.into()),
            credential_configuration_ids: DOCUMENTS.iter().map(|d| d.id.to_owned()).collect(),
            credential_identifiers: BTreeMap::new(),
            datasets: Default::default(),
            client_id: None,
            wallet_provider: None,
            identity_proofing: IdentityProofing::Biometric,
        };
        rt.block_on(store.put(
            ns::ACCESS_TOKEN,
            keys.store_secret.key(ACCESS_TOKEN),
            store::to_bytes(&grant).expect("a grant record"),
            None,
        ))
        .expect("the access token");
        let response_key = serde_json::from_str(RESPONSE_KEY).expect("the response key");
        let queries = Preset::ALL
            .iter()
            .map(|p| p.query())
            .chain(EXTRA_QUERIES.iter().map(|q| {
                DcqlQuery::from_value(&serde_json::from_str(q).expect("JSON"))
                    .expect("a valid query")
            }))
            .collect();
        let claim_samples = CLAIM_SAMPLES
            .iter()
            .map(|s| serde_json::from_str(s).expect("a claims object"))
            .collect();
        World {
            settings,
            keys,
            store,
            registry,
            status,
            status_tokens: TokenCache::default(),
            wallet_providers: Default::default(),
            verifier,
            response_key,
            queries,
            claim_samples,
            rt,
        }
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The issuer's view at [`NOW`], as `AppState::issuer` builds it.
    pub fn issuer(&self) -> Ctx<'_> {
        Ctx {
            settings: &self.settings,
            keys: &self.keys,
            store: &*self.store,
            registry: &self.registry,
            status: &self.status,
            status_tokens: &self.status_tokens,
            wallet_providers: &self.wallet_providers,
            now: NOW,
        }
    }

    /// Forgets what earlier credential requests stored and makes
    /// [`C_NONCE`] live again.
    pub fn reset_issuance(&self) {
        self.store.clear(&[
            ns::C_NONCE,
            ns::CREDENTIAL,
            ns::CREDENTIAL_BY_SUBJECT,
            ns::NOTIFICATION,
        ]);
        let ttl = self.settings.issuer.c_nonce_ttl;
        self.block_on(
            self.store
                .put(ns::C_NONCE, C_NONCE.into(), Vec::new(), Some(NOW + ttl)),
        )
        .expect("the c_nonce is stored");
    }

    /// A transaction whose request object the wallet fetched 5 s ago.
    pub fn transaction(&self, query: &DcqlQuery, mode: ResponseMode) -> Transaction {
        Transaction {
            id: TransactionId(TRANSACTION_ID.into()),
            request_id: RequestId(REQUEST_ID.into()),
            response_id: Some(ResponseId(RESPONSE_ID.into())),
            created_at: NOW - 10,
            request_expires_at: NOW + 20,
            dcql_query: query.clone(),
            response_mode: mode,
            party: digital_id::verifier::DEFAULT_PARTY.into(),
            client_id: VP_CLIENT_ID.into(),
            nonce: VP_NONCE.into(),
            state: VP_STATE.into(),
            response_key: (mode == ResponseMode::DirectPostJwt).then(|| self.response_key.clone()),
            callback_url: None,
            demo: false,
            redirect_uri: None,
            response_code: None,
            request_uri_method: Default::default(),
            phase: Phase::RequestObjectRetrieved {
                at: NOW - 5,
                respond_by: NOW + self.settings.verifier.response_window - 5,
            },
        }
    }
}

/// Serves a status list (all entries valid, signed by the issuer key) at
/// every `<public URL>/status-lists/<n>`; nothing else is reachable.
struct StatusLists {
    issuer: SigningKey,
    size: usize,
}

impl StatusLists {
    fn token(&self, uri: &str) -> Option<Vec<u8>> {
        let payload = json!({"sub": uri, "iat": NOW, "exp": NOW + 86_400, "ttl": 300,
            "status_list": {"bits": 2, "lst": Entries::new(self.size).compressed()}});
        let mut header = Map::new();
        header.insert("typ".into(), "statuslist+jwt".into());
        header.insert("kid".into(), self.issuer.kid().into());
        let body = serde_json::to_vec(&payload).ok()?;
        jws::sign(&self.issuer, &header, &body)
            .ok()
            .map(String::into_bytes)
    }
}

impl Fetch for StatusLists {
    fn get(
        &self,
        url: String,
        _accept: &'static str,
        _max_bytes: usize,
    ) -> BoxFut<'_, Result<Vec<u8>, FetchError>> {
        let list = url
            .strip_prefix(PUBLIC_URL)
            .and_then(|p| p.strip_prefix("/status-lists/"))
            .is_some_and(|id| id.parse::<u32>().is_ok());
        let body = if list { self.token(&url) } else { None };
        Box::pin(std::future::ready(body.ok_or(FetchError::Status(404))))
    }
}

/// Bad input must get a client error, never a 5xx.
fn assert_4xx(e: &(impl WireError + std::fmt::Debug)) {
    let status = e.status();
    assert!(
        (400..500).contains(&status),
        "bad input answered {status} `{}`: {e:?}",
        e.code()
    );
}

// ------------------------------------------------------------ dcql_query

/// `POST /verifier/requests` with `data` as its JSON body: the query is
/// resolved and validated, the transaction created and its request object
/// served; a wallet must read back exactly the validated query. Input that
/// is not a request body is tried as a bare `dcql_query`. A valid query is
/// then evaluated against sample credentials (OpenID4VP 1.0 §6.4). Returns
/// the valid query, if any.
pub fn dcql_query(data: &[u8]) -> Option<DcqlQuery> {
    let w = World::get();
    w.store.clear(&[NS_REQUEST, NS_TRANSACTION]);
    let query = match serde_json::from_slice::<CreateRequest>(data) {
        Ok(req) => create_request(w, req),
        Err(_) => serde_json::from_slice::<Value>(data)
            .ok()
            .and_then(|v| DcqlQuery::from_value(&v).ok()),
    }?;
    evaluate(w, &query);
    Some(query)
}

fn create_request(w: &World, req: CreateRequest) -> Option<DcqlQuery> {
    let parsed = query_of(req.preset.as_deref(), req.dcql_query.as_ref());
    let created = w.block_on(w.verifier.create(req, false, Default::default(), NOW));
    if let Err(e) = &created {
        assert_4xx(e);
    }
    match (parsed, created) {
        (Ok(query), Ok(created)) => {
            let (_, id) = created
                .request_uri
                .rsplit_once(REQUEST_URI_PATH)
                .expect("the request_uri ends in the request id");
            let jwt = w
                .block_on(w.verifier.request_object(id, None, NOW))
                .expect("the request object of a new request");
            let read = wallet_reads_query(w, &jwt);
            assert_eq!(
                read.as_ref(),
                Ok(&query),
                "the request object does not carry the validated query"
            );
            Some(query)
        }
        (Ok(query), Err(_)) => Some(query),
        (Err(_), Err(_)) => None,
        (Err(e), Ok(_)) => panic!("a request was created with a refused query: {e}"),
    }
}

/// What a wallet does with a request object from this verifier: check the
/// signature and read `dcql_query` with the same parser.
fn wallet_reads_query(w: &World, jwt: &str) -> Result<DcqlQuery, String> {
    let jws = Jws::decode(jwt).map_err(|e| e.to_string())?;
    jws.verify(w.verifier.keys.signing.public())
        .map_err(|e| e.to_string())?;
    let claims = jws.payload_json().map_err(|e| e.to_string())?;
    let query = claims.get("dcql_query").ok_or("no dcql_query")?;
    DcqlQuery::from_value(query).map_err(|e| e.to_string())
}

/// A valid query survives serialization, answers no more than each sample
/// holds, and is satisfied when every Credential Query is answered.
fn evaluate(w: &World, query: &DcqlQuery) {
    let again = serde_json::to_value(query)
        .ok()
        .and_then(|v| DcqlQuery::from_value(&v).ok());
    assert_eq!(
        again.as_ref(),
        Some(query),
        "a valid query does not round-trip"
    );
    let mut answered = BTreeSet::new();
    for c in &query.credentials {
        for sample in &w.claim_samples {
            if let Ok(selected) = c.select(sample) {
                assert!(
                    within(
                        &Value::Object(selected.clone()),
                        &Value::Object(sample.clone())
                    ),
                    "`{}` selected claims the credential does not hold: {selected:?}",
                    c.id
                );
                answered.insert(c.id.clone());
            }
        }
    }
    let _ = query.check_answered(&answered);
    let all: BTreeSet<String> = query.credentials.iter().map(|c| c.id.clone()).collect();
    assert_eq!(
        query.check_answered(&all),
        Ok(()),
        "answering every Credential Query does not satisfy the query"
    );
}

/// Whether `selected` is a part of `source`: the same members with the same
/// values; arrays keep their length, with `null` for elements left out.
fn within(selected: &Value, source: &Value) -> bool {
    match (selected, source) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|s| within(v, s))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.is_null() || within(x, y))
        }
        _ => selected == source,
    }
}

// ------------------------------------------------------------ vp_response

/// How many `vp_response` inputs kinds the first byte chooses from: each
/// query in both response modes, and a request object.
pub fn vp_kinds(w: &World) -> usize {
    2 * w.queries.len() + 1
}

/// The first byte of a `vp_response` input for `queries[query]` in `mode`
/// (`None`: a request object), printable so that seeds stay readable.
pub fn vp_selector(w: &World, kind: Option<(usize, ResponseMode)>) -> u8 {
    let k = match kind {
        Some((q, ResponseMode::DirectPost)) => 2 * q,
        Some((q, ResponseMode::DirectPostJwt)) => 2 * q + 1,
        None => 2 * w.queries.len(),
    };
    (b'A'..=b'z')
        .find(|b| usize::from(*b) % vp_kinds(w) == k)
        .expect("a printable selector")
}

/// The wallet's side of a presentation. The first byte chooses the query
/// and response mode of the transaction (see [`vp_selector`]); the rest is
/// the form body POSTed to the response URI. Or, for the last kind, the
/// rest is a request object as a wallet parses it. Returns the stored
/// outcome of a response.
pub fn vp_response(data: &[u8]) -> Option<Outcome> {
    let (&first, body) = data.split_first()?;
    let w = World::get();
    let kind = usize::from(first) % vp_kinds(w);
    let mode = match kind % 2 {
        0 => ResponseMode::DirectPost,
        _ => ResponseMode::DirectPostJwt,
    };
    match w.queries.get(kind / 2) {
        Some(query) => respond(w, query, mode, body),
        None => {
            request_object(w, std::str::from_utf8(body).ok()?);
            None
        }
    }
}

/// `POST /oid4vp/responses/{id}` with `body`: a response either verifies or
/// fails the transaction — never leaves it pending or half-written — and a
/// second response is a replay that changes nothing.
fn respond(w: &World, query: &DcqlQuery, mode: ResponseMode, body: &[u8]) -> Option<Outcome> {
    w.store.clear(&[NS_REQUEST, NS_RESPONSE, NS_TRANSACTION]);
    let tx = w.transaction(query, mode);
    w.block_on(async {
        w.store
            .put(NS_REQUEST, REQUEST_ID.into(), TRANSACTION_ID.into(), None)
            .await?;
        w.store
            .put(NS_RESPONSE, RESPONSE_ID.into(), TRANSACTION_ID.into(), None)
            .await?;
        w.store
            .put(
                NS_TRANSACTION,
                TRANSACTION_ID.into(),
                store::to_bytes(&tx)?,
                None,
            )
            .await
    })
    .expect("the transaction is stored");
    // The body as actix's `web::Form` reads it; one it refuses never
    // reaches the verifier.
    let form: WalletResponse = serde_urlencoded::from_bytes(body).ok()?;
    let result = w.block_on(w.verifier.respond(RESPONSE_ID, form.clone(), NOW));
    let stored = w
        .block_on(w.verifier.transaction(TRANSACTION_ID, NOW))
        .expect("the transaction is kept");
    // An answer that does not prove knowledge of the request (its `state`,
    // or a JWE for its key) leaves the transaction exactly as it was, so the
    // real wallet can still answer.
    if let Err(e) = &result {
        if !e.fails_transaction() {
            assert_4xx(e);
            assert_eq!(stored, tx, "an unproven answer changed the transaction");
            return None;
        }
    }
    let Phase::Submitted { outcome, .. } = &stored.phase else {
        panic!("a response left the transaction in {:?}", stored.phase);
    };
    assert!(
        stored.response_key.is_none(),
        "the response key outlived the response"
    );
    match (&result, outcome) {
        (Ok(Responded { accepted: Accepted::Verified, .. }), Outcome::Verified { claims }) => {
            assert!(
                claims.keys().all(|id| query.credential(id).is_some()),
                "claims for a Credential Query the request did not make"
            );
        }
        (Ok(Responded { accepted: Accepted::WalletError, .. }), Outcome::Failed { .. }) => {}
        (Err(e), Outcome::Failed { .. }) => assert_4xx(e),
        _ => panic!("the answer {result:?} disagrees with the stored outcome {outcome:?}"),
    }
    let again = w.block_on(w.verifier.respond(RESPONSE_ID, form, NOW));
    assert!(
        matches!(again, Err(ResponseError::Replay)),
        "a second response was not a replay: {again:?}"
    );
    let after = w
        .block_on(w.verifier.transaction(TRANSACTION_ID, NOW))
        .expect("the transaction is kept");
    assert_eq!(after, stored, "a replay changed the transaction");
    Some(outcome.clone())
}

/// A wallet reading a request object with the library (as
/// `examples/wallet.rs` does): the signature under the key its header
/// names (a did:key `kid`, else the verifier's key), the `dcql_query`, and
/// a response encrypted to `client_metadata`'s key. The payload is read
/// whether or not the signature verifies, so the fuzzer gets past it.
fn request_object(w: &World, text: &str) {
    let Ok(jws) = Jws::decode(text) else { return };
    let signer = match jws.kid() {
        Some(kid) => did_key::resolve(kid).ok(),
        None => Some(w.verifier.keys.signing.public().clone()),
    };
    if let Some(key) = signer {
        let _ = jws.verify(&key);
    }
    let Ok(claims) = jws.payload_json() else {
        return;
    };
    if let Some(query) = claims
        .get("dcql_query")
        .and_then(|q| DcqlQuery::from_value(q).ok())
    {
        evaluate(w, &query);
    }
    let metadata = claims.get("client_metadata");
    let Some(key) = metadata
        .and_then(|m| m.pointer("/jwks/keys/0"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let enc = metadata
        .and_then(|m| m.pointer("/encrypted_response_enc_values_supported/0"))
        .and_then(Value::as_str)
        .unwrap_or("A128GCM");
    let payload = json!({"vp_token": {}, "state": claims.get("state")});
    let Ok(sealed) = jwe::encrypt(&payload, key, enc) else {
        return;
    };
    if *key == jwe::public_jwk(&w.response_key) && jwe::ENC_VALUES.contains(&enc) {
        let opened = jwe::decrypt(&sealed, &w.response_key);
        assert_eq!(
            opened.ok().map(Value::Object),
            Some(payload),
            "the verifier cannot open a response sealed to its key"
        );
    }
}

// ------------------------------------------------------------ credential_request

/// `POST /credential` with `data` as its body, under [`ACCESS_TOKEN`], with
/// [`C_NONCE`] live. Success uses up the c_nonce and stores one record per
/// credential, each a valid SD-JWT VC of our issuer; a refusal is a 4xx
/// that leaves the c_nonce live and stores nothing. Returns the number of
/// credentials issued, or the error code.
pub fn credential_request(data: &[u8]) -> Result<usize, &'static str> {
    let w = World::get();
    w.reset_issuance();
    let result = w.block_on(credential::issue(&w.issuer(), credential::Presented::bearer(ACCESS_TOKEN), data));
    let nonce_live = w.store.count(ns::C_NONCE, NOW) == 1;
    let records = w.store.count(ns::CREDENTIAL, NOW);
    match result {
        Ok(response) => {
            assert!(!nonce_live, "an issuance left its c_nonce usable");
            assert!(
                !response.credentials.is_empty(),
                "an issuance without credentials"
            );
            assert_eq!(
                records,
                response.credentials.len(),
                "one record per credential"
            );
            let policy = VerifyPolicy::sd_jwt_vc(NOW);
            for c in &response.credentials {
                if let Err(e) = sdjwt::verify(&c.credential, w.keys.issuer_es256.public(), &policy)
                {
                    panic!("an issued credential does not verify: {e}");
                }
            }
            Ok(response.credentials.len())
        }
        Err(e) => {
            assert_4xx(&e);
            assert!(nonce_live, "a refused request used up the c_nonce: {e}");
            assert_eq!(records, 0, "a refused request stored credentials: {e}");
            Err(e.code())
        }
    }
}

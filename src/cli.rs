//! The command line: `serve`, `keys show`, `sd-jwt decode|verify`. Parsing
//! and output only; the work is done by the library modules.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::app::build_state;
use crate::clock::SystemClock;
use crate::config::{PublicUrl, ServeArgs, Settings};
use crate::crypto::{self, did_key, jwk::Jwks};
use crate::http;
use crate::keystore::KeySet;
use crate::sdjwt::{self, HolderCredential, VerifyPolicy};

#[derive(Debug, Parser)]
#[command(
    name = "digital-id",
    version,
    about = "Issues and verifies identity documents as SD-JWT VCs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Inspect the server's keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Decode or verify SD-JWTs.
    #[command(name = "sd-jwt", subcommand)]
    SdJwt(SdJwtCommand),
    /// Validate registry records.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Validate every record as issuance would; one line per record
    /// (`<id>: OK` or `<id>: <field>: <rule>`); exit 1 if any record fails.
    Check {
        /// Directory of registry JSON files [default: the demo registry
        /// embedded in the binary].
        #[arg(env = "VC_REGISTRY")]
        path: Option<PathBuf>,
        /// Check as of this date (YYYY-MM-DD; default: today, UTC).
        #[arg(long)]
        today: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DataDirArg {
    /// Directory for keys and data.
    #[arg(long, env = "VC_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the public JWKs and did:key identifiers (generating keys on first use).
    Show(DataDirArg),
}

#[derive(Debug, Subcommand)]
pub enum SdJwtCommand {
    /// Print the header, payload, processed claims and what each disclosure carries.
    Decode {
        /// The SD-JWT, or `-` to read it from standard input.
        token: String,
    },
    /// Verify an SD-JWT VC; exit 0 when valid, 1 when not (the failed rule on stderr).
    Verify {
        /// The SD-JWT or SD-JWT+KB, or `-` to read it from standard input.
        token: String,
        /// Issuer keys: a JWK Set (`{"keys": [...]}`) or a single JWK.
        #[arg(long)]
        jwks: PathBuf,
        /// Expected KB-JWT `aud`.
        #[arg(long)]
        aud: Option<String>,
        /// Expected KB-JWT `nonce`.
        #[arg(long)]
        nonce: Option<String>,
        /// Fail when no KB-JWT is presented.
        #[arg(long)]
        require_kb: bool,
        /// Verification time in seconds since the epoch (default: now).
        #[arg(long)]
        now: Option<i64>,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Keys(KeysCommand::Show(args)) => keys_show(&args),
        Command::SdJwt(SdJwtCommand::Decode { token }) => with_token(&token, decode),
        Command::SdJwt(SdJwtCommand::Verify {
            token,
            jwks,
            aud,
            nonce,
            require_kb,
            now,
        }) => with_token(&token, |t| {
            verify(t, &jwks, aud.as_deref(), nonce.as_deref(), require_kb, now)
        }),
        Command::Registry(RegistryCommand::Check { path, today }) => {
            registry_check(path.as_deref(), today.as_deref())
        }
        Command::Openapi => {
            use std::io::Write;
            let json = crate::http::openapi::to_json();
            let _ = std::io::stdout().lock().write_all(json.as_bytes());
            ExitCode::SUCCESS
        }
    }
}

fn registry_check(path: Option<&std::path::Path>, today: Option<&str>) -> ExitCode {
    let today = match today {
        None => time::OffsetDateTime::now_utc().date(),
        Some(t) => match crate::catalogue::validate::date("--today", t) {
            Ok(d) => d,
            Err(e) => return fail(e),
        },
    };
    let lines = match crate::registry::check(path, today) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in &lines {
        let _ = writeln!(out, "{line}");
    }
    if lines.iter().all(|l| l.result.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn serve(args: ServeArgs) -> ExitCode {
    let mut settings = match Settings::load(&args) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let bind = settings.bind;
    let listener = match std::net::TcpListener::bind(bind) {
        Ok(l) => l,
        Err(e) => return fail(format_args!("cannot listen on {bind}: {e}")),
    };
    // With `--bind …:0` and no public URL, the default public URL is the
    // address actually bound.
    if let Ok(actual) = listener.local_addr() {
        if settings.public_url.as_str() == format!("http://{bind}") && bind.port() == 0 {
            if let Ok(u) = PublicUrl::parse(&format!("http://{actual}")) {
                settings.public_url = u;
            }
        }
    }
    let state = match build_state(settings, Arc::new(SystemClock), |key| {
        println!(
            "Generated the back-office API key (stored in the data directory, shown once): {key}"
        );
    }) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(e),
    };
    tracing::info!(public_url = %state.settings.public_url, "starting");
    let result = actix_web::rt::System::new().block_on(async move {
        let (server, addr) = http::serve(state, listener)?;
        tracing::info!(%addr, "listening");
        // The fixture of the integration tests reads this line.
        eprintln!("digital-id listening on http://{addr}");
        server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format_args!("the server stopped: {e}")),
    }
}

fn keys_show(args: &DataDirArg) -> ExitCode {
    let keys = match KeySet::load_or_generate(&args.data_dir) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let describe = |k: &crypto::SigningKey| {
        json!({
            "alg": k.alg().as_str(),
            "kid": k.kid(),
            "jwk": k.public().jwk_for_publication(),
            "did": did_key::encode(k.public()),
        })
    };
    let out = json!({
        "issuer": {
            "jwks": {"keys": [keys.issuer_es256.public().jwk_for_publication(), keys.issuer_eddsa.public().jwk_for_publication()]},
            "keys": [describe(&keys.issuer_es256), describe(&keys.issuer_eddsa)],
            // The ES256 key's certificate chain (`x5c`) and the demo issuer
            // CA, as the first `serve` left them; nulls before that.
            "certificates": crate::issuer::certificate::describe_stored(&args.data_dir),
        },
        // Created by the first `serve` (its leaf certificate names the
        // public URL's host); null before that.
        "verifier": crate::verifier::keys::describe_stored(&args.data_dir),
    });
    print_json(&out);
    ExitCode::SUCCESS
}

fn with_token(arg: &str, f: impl FnOnce(&str) -> ExitCode) -> ExitCode {
    if arg != "-" {
        return f(arg.trim());
    }
    let mut buf = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut buf) {
        return fail(format_args!("cannot read standard input: {e}"));
    }
    f(buf.trim())
}

fn decode(token: &str) -> ExitCode {
    let holder = match HolderCredential::parse(token) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("invalid: {e}");
            return ExitCode::from(1);
        }
    };
    let compact = sdjwt::Compact::parse(token).ok();
    let payload = compact
        .as_ref()
        .and_then(|c| crypto::jws::Jws::decode(c.jwt).ok())
        .and_then(|j| j.payload_json().ok())
        .map(Value::Object)
        .unwrap_or(Value::Null);
    let disclosures: Vec<Value> = holder
        .disclosures()
        .iter()
        .zip(&holder.paths)
        .map(|(d, p)| {
            json!({
                "digest": d.digest(),
                "salt": d.salt,
                "claim": sdjwt::ClaimPath(p.clone()),
                "value": d.value,
            })
        })
        .collect();
    let kb = compact.as_ref().and_then(|c| c.kb_jwt).and_then(|k| crypto::jws::Jws::decode(k).ok()).map(|j| {
        json!({"header": j.header, "payload": j.payload_json().map(Value::Object).unwrap_or(Value::Null)})
    });
    let out = json!({
        "header": holder.header,
        "payload": payload,
        "claims": holder.claims,
        "disclosures": disclosures,
        "key_binding": kb,
    });
    print_json(&out);
    ExitCode::SUCCESS
}

fn verify(
    token: &str,
    jwks_path: &std::path::Path,
    aud: Option<&str>,
    nonce: Option<&str>,
    require_kb: bool,
    now: Option<i64>,
) -> ExitCode {
    let jwks = std::fs::read(jwks_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
        .and_then(|v| Jwks::from_json(&v).map_err(|e| e.to_string()));
    let jwks = match jwks {
        Ok(j) if !j.is_empty() => j,
        Ok(_) => return fail(format_args!("{} holds no usable key", jwks_path.display())),
        Err(e) => {
            return fail(format_args!(
                "cannot read the key set {}: {e}",
                jwks_path.display()
            ));
        }
    };
    let now = now.unwrap_or_else(unix_now);
    let mut policy = VerifyPolicy::sd_jwt_vc(now);
    policy.require_kb = require_kb;
    policy.kb.aud = aud;
    policy.kb.nonce = nonce;
    match sdjwt::verify(token, &jwks, &policy) {
        Ok(v) => {
            print_json(&Value::Object(v.claims));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid: {e}");
            ExitCode::from(1)
        }
    }
}

/// Prints pretty JSON; a closed pipe (`| head`) is not an error.
fn print_json(v: &Value) {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

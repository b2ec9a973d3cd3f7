//! A relying party on the digital-id HTTP API: creates a verification
//! request, prints its QR in the terminal, waits for the result.
//!
//! ```text
//! cargo run --example relying_party -- --server http://127.0.0.1:8080 \
//!     --api-key "$(cat data/api-key)" --preset hotel_check_in
//! ```

use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    #[arg(long, env = "VC_API_KEY", hide_env_values = true)]
    api_key: String,
    /// age_over_18, hotel_check_in, pensioner_status or identity.
    #[arg(long, default_value = "age_over_18")]
    preset: String,
    /// `direct_post.jwt` (default) or `direct_post`.
    #[arg(long)]
    response_mode: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        // ureq is built with native-tls only: the provider must be named, or
        // the first https URL panics.
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        )
        .build()
        .into();
    let bearer = format!("Bearer {}", args.api_key);
    let mut body = json!({"preset": args.preset});
    if let Some(m) = &args.response_mode {
        body["response_mode"] = Value::String(m.clone());
    }
    let mut r = http
        .post(&format!("{}/verifier/requests", args.server))
        .header("Authorization", &bearer)
        .send_json(&body)?;
    let created: Value = r.body_mut().read_json()?;
    let id = created["transaction_id"]
        .as_str()
        .ok_or_else(|| format!("the server refused: {created}"))?
        .to_owned();
    let link = created["authorization_request"]
        .as_str()
        .unwrap_or_default();
    let code = digital_id::web::qr::code(link).map_err(|e| e.to_string())?;
    println!(
        "{}",
        code.render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build()
    );
    println!("{link}\nscan within {} s…", created["expires_in"]);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let mut r = http
            .get(&format!("{}/verifier/requests/{id}", args.server))
            .header("Authorization", &bearer)
            .call()?;
        let status: Value = r.body_mut().read_json()?;
        match status["status"].as_str() {
            Some("pending") => continue,
            Some("verified") => {
                println!(
                    "verified:\n{}",
                    serde_json::to_string_pretty(&status["claims"])?
                );
                return Ok(());
            }
            _ => {
                println!("not verified: {}", status["error"]);
                std::process::exit(1);
            }
        }
    }
}

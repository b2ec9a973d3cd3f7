//! `/demo/verifier` in headless Chromium (the Debian package, driven by
//! playwright-core through `tests/browser/demo_verifier.mjs`): Russian for
//! a Russian browser and English for an English one (`?lang=` and the
//! switch override), the party's name, a countdown beside the QR that
//! counts down, a QR that decodes to a live request, a new QR when the
//! page's 30 s are over and when the server expires the request, and a
//! completed flow that shows the claims.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use digital_id::crypto::jws::Jws;
use digital_id::crypto::{Algorithm, SigningKey};
use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
use digital_id::verifier::transaction::NS_REQUEST;

use crate::fixture::{InProc, T0, agent};

fn decode_qr(png_b64: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png_b64)
        .unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let p = &buf[(y * w + x) * channels..];
        if channels >= 3 {
            ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8
        } else {
            p[0]
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the page");
    grids[0].decode().unwrap().1
}

fn param(link: &str, name: &str) -> String {
    let v = link
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap();
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Whether the request behind a link is live (pending), without fetching
/// (and so consuming) its request object.
fn is_live(server: &InProc, link: &str) -> bool {
    let uri = param(link, "request_uri");
    let rid = uri.rsplit('/').next().unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let now = server.state.now();
    rt.block_on(async {
        let Some(tx) = server.state.store.get(NS_REQUEST, rid, now).await.unwrap() else {
            return false;
        };
        let id = String::from_utf8(tx).unwrap();
        server
            .state
            .verifier
            .transaction(&id, now)
            .await
            .unwrap()
            .status(now)
            == digital_id::verifier::Status::Pending
    })
}

#[test]
fn demo_page_in_chromium() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/tests/browser/demo_verifier.mjs");
    assert!(
        std::path::Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is not installed: run tests/browser/install.sh (scripts/test does)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: apt-get install chromium chromium-driver (scripts/test does)"
    );
    let server = InProc::start();
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&server.base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value {
        serde_json::from_str(&out.next().expect("the browser script ended").unwrap()).unwrap()
    };

    // 1. A Russian browser gets the page in Russian, naming the party
    // (here the public URL's host: no display name is configured).
    let ru = next();
    assert_eq!(ru["lang"], "ru", "{ru}");
    assert_eq!(ru["heading"], "Проверка цифрового ID");
    let host = server.base.strip_prefix("http://").unwrap();
    assert_eq!(ru["party"], host);
    assert_eq!(
        ru["options"],
        json!([
            "Возраст 18+ (магазин)",
            "Заселение в гостиницу",
            "Пенсионная скидка",
            "Установление личности"
        ])
    );
    assert_eq!(ru["other"], json!(["?lang=en"]));

    // 2. The countdown is shown beside the QR and counts down.
    let countdown = next();
    assert_eq!(countdown["visible"], true, "{countdown}");
    assert_eq!(countdown["beside"], true, "{countdown}");
    let (first, second) = (
        countdown["first"].as_i64().unwrap(),
        countdown["second"].as_i64().unwrap(),
    );
    assert!((27..=30).contains(&first), "{countdown}");
    assert!(second < first && second >= first - 4, "{countdown}");

    // 3. The page shows a QR that decodes to a live request.
    let first = next();
    let link1 = first["link"].as_str().unwrap().to_owned();
    assert_eq!(decode_qr(first["png"].as_str().unwrap()), link1);
    assert!(is_live(&server, &link1));

    // 4. When the page's own 30 s are over it shows a fresh request (the
    // server's clock has not moved, so this is the page's countdown).
    writeln!(stdin, "tick").unwrap();
    let second = next();
    let link2 = second["link"].as_str().unwrap().to_owned();
    assert_ne!(link2, link1);
    assert_ne!(param(&link2, "request_uri"), param(&link1, "request_uri"));
    assert_eq!(decode_qr(second["png"].as_str().unwrap()), link2);
    assert!(is_live(&server, &link2));

    // 5. When the server expires the request a new QR replaces it.
    server.clock.advance(30);
    writeln!(stdin, "next").unwrap();
    let third = next();
    let link3 = third["link"].as_str().unwrap().to_owned();
    assert_ne!(link3, link2);
    assert_eq!(decode_qr(third["png"].as_str().unwrap()), link3);
    assert!(is_live(&server, &link3));
    assert!(!is_live(&server, &link2));
    let link2 = link3;

    // 6. A wallet answers; the page shows the claims.
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let cred = super::verifier::passport_for(&server, &holder);
    let jar = agent()
        .get(&param(&link2, "request_uri"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let ro = Jws::decode(&jar).unwrap().payload_json().unwrap();
    let p = HolderCredential::parse(&cred)
        .unwrap()
        .present(
            &[ClaimPath::keys(["age_equal_or_over", "18"])],
            Some(&KeyBinding {
                holder: &holder,
                aud: ro["client_id"].as_str().unwrap(),
                nonce: ro["nonce"].as_str().unwrap(),
                iat: T0 + 30,
            }),
        )
        .unwrap();
    let key = ro["client_metadata"]["jwks"]["keys"][0]
        .as_object()
        .unwrap();
    let payload = json!({"vp_token": {"credential": [p]}, "state": ro["state"]});
    let jwe = digital_id::verifier::jwe::encrypt(&payload, key, "A128GCM").unwrap();
    let resp = agent()
        .post(ro["response_uri"].as_str().unwrap())
        .send_form([("response", jwe.as_str())])
        .unwrap();
    assert_eq!(resp.status(), 200);
    writeln!(stdin, "answered").unwrap();
    let shown = next();
    assert_eq!(shown["status"], "verified");
    assert_eq!(shown["text"], "подтверждено");
    assert_eq!(
        shown["claims"],
        json!([["credential.age_equal_or_over.18", "true"]])
    );

    // 7. An English browser gets English; `?lang=ru` and the switch win.
    let en = next();
    assert_eq!(en["lang"], "en", "{en}");
    assert_eq!(en["heading"], "Verify a Digital ID");
    assert_eq!(en["party"], host);
    assert_eq!(en["options"][1], "Hotel check-in");
    assert_eq!(en["other"], json!(["?lang=ru"]));
    assert_eq!(next()["lang"], "ru", "?lang=ru");
    assert_eq!(next()["lang"], "en", "the switch");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// The page without a browser: the configured display name in the page's
/// language, `Vary: Accept-Language`.
#[test]
fn demo_page_names_the_configured_party_in_its_language() {
    let server = InProc::start_with(|s| {
        s.verifier.display_name = Some(digital_id::config::DisplayName {
            ru: "Гостиница «Космос»".into(),
            en: "Hotel Kosmos".into(),
        })
    });
    let get = |path: &str, accept: &str| {
        let mut resp = agent()
            .get(&server.url(path))
            .header("Accept-Language", accept)
            .call()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers().get("vary").unwrap(), "Accept-Language");
        resp.body_mut().read_to_string().unwrap()
    };
    let ru = get("/demo/verifier", "ru-RU,ru;q=0.9,en;q=0.8");
    assert!(ru.contains("<html lang=\"ru\">"));
    assert!(ru.contains("<strong>Гостиница «Космос»</strong>"), "{ru}");
    assert!(!ru.contains("Hotel Kosmos"));
    let en = get("/demo/verifier", "en-GB,en;q=0.9");
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains("<strong>Hotel Kosmos</strong>"));
    let forced = get("/demo/verifier?lang=en", "ru");
    assert!(forced.contains("<html lang=\"en\">"));
    let fallback = get("/demo/verifier", "de-DE");
    assert!(fallback.contains("<html lang=\"ru\">"));
}

//! `GET /demo/verifier`: the relying-party page, in Russian and English.
//! Pick a preset, show the QR with a prominent 30-second countdown beside
//! it; when the request's 30 s are over a fresh request replaces it;
//! verified claims appear through server-sent events. No external assets:
//! the script and style are inline.
//!
//! The language: `?lang=ru|en` when given, else the better of `ru` and `en`
//! in `Accept-Language`, else Russian (the service's own language); the
//! page links to the other language.

use super::super::verifier::presets::Preset;
use super::escape;

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    /// The BCP 47 tag (`lang` attribute, `?lang=`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        match tag.to_ascii_lowercase().as_str() {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `?lang=` wins when it names a language of the page; otherwise the
    /// `Accept-Language` entry (RFC 9110 §12.5.4) of `ru` or `en` (any
    /// region) with the highest weight, the first on a tie; otherwise
    /// Russian.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(Lang, u16)> = None;
        for item in accept_language.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or_default().trim();
            let primary = range.split('-').next().unwrap_or_default();
            let Some(lang) = Lang::from_tag(primary) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), qvalue);
            match (weight, best) {
                (Some(0) | None, _) => {}
                (Some(w), Some((_, b))) if w <= b => {}
                (Some(w), _) => best = Some((lang, w)),
            }
        }
        best.map_or(Lang::Ru, |(lang, _)| lang)
    }
}

/// A `qvalue` (RFC 9110 §12.4.2) in thousandths; `None` when malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(frac),
        "1" if frac == 0 => Some(1000),
        _ => None,
    }
}

/// The page's texts in one language.
struct Texts {
    title: &'static str,
    heading: &'static str,
    asks: &'static str,
    what: &'static str,
    show: &'static str,
    scan: &'static str,
    seconds_left: &'static str,
    status: &'static str,
    open_here: &'static str,
    switch: &'static str,
    /// For the script: JSON.
    script: &'static str,
}

const RU: Texts = Texts {
    title: "Проверка цифрового ID",
    heading: "Проверка цифрового ID",
    asks: "Запрашивает",
    what: "Что нужно проверить?",
    show: "Показать QR-код",
    scan: "Отсканируйте QR-код приложением-кошельком",
    seconds_left: "сек. до нового QR-кода",
    status: "Состояние",
    open_here: "Открыть в кошельке на этом устройстве",
    switch: "Язык",
    script: r#"{"pending":"ожидание ответа","verified":"подтверждено","failed":"отказ","expired":"истёк срок","answering":"кошелёк отвечает…","error":"ошибка"}"#,
};

const EN: Texts = Texts {
    title: "Verify a Digital ID",
    heading: "Verify a Digital ID",
    asks: "Requested by",
    what: "What do you need?",
    show: "Show QR",
    scan: "Scan the QR code with your wallet app",
    seconds_left: "seconds until a new code",
    status: "Status",
    open_here: "Open in a wallet on this device",
    switch: "Language",
    script: r#"{"pending":"waiting for an answer","verified":"verified","failed":"failed","expired":"expired","answering":"the wallet is answering…","error":"error"}"#,
};

/// The page in `lang`, naming the relying party `party` (the display name
/// the wallet will also show). The QR element carries the link it encodes
/// in `data-authorization-request`, and `#status` the status in
/// `data-status` (for tests and copy-paste).
pub fn page(lang: Lang, party: &str) -> String {
    let t = match lang {
        Lang::Ru => &RU,
        Lang::En => &EN,
    };
    let options: String = Preset::ALL
        .iter()
        .map(|p| {
            let label = match lang {
                Lang::Ru => p.label_ru(),
                Lang::En => p.label(),
            };
            format!("<option value=\"{}\">{}</option>", p.name(), escape(label))
        })
        .collect();
    let switch: String = [(Lang::Ru, "Русский"), (Lang::En, "English")]
        .iter()
        .map(|(l, name)| match *l == lang {
            true => format!(
                "<strong aria-current=\"true\" lang=\"{}\">{name}</strong>",
                l.tag()
            ),
            false => format!(
                "<a href=\"?lang={tag}\" hreflang=\"{tag}\" lang=\"{tag}\">{name}</a>",
                tag = l.tag()
            ),
        })
        .collect::<Vec<_>>()
        .join(" · ");
    // The party's name last: no placeholder inside it is ever filled.
    PAGE.replace("{{lang}}", lang.tag())
        .replace("{{title}}", t.title)
        .replace("{{heading}}", t.heading)
        .replace("{{asks}}", t.asks)
        .replace("{{what}}", t.what)
        .replace("{{show}}", t.show)
        .replace("{{scan}}", t.scan)
        .replace("{{seconds_left}}", t.seconds_left)
        .replace("{{status}}", t.status)
        .replace("{{open_here}}", t.open_here)
        .replace("{{switch_label}}", t.switch)
        .replace("{{switch}}", &switch)
        .replace("{{options}}", &options)
        .replace("{{texts}}", t.script)
        .replace("{{party}}", &escape(party))
}

const PAGE: &str = r##"<!doctype html>
<html lang="{{lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} — {{party}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
#party{font-size:1.1rem;margin:.2rem 0 1rem}
#party strong{font-size:1.3rem}
nav{font-size:.95rem}
#show{display:flex;align-items:center;gap:2rem;flex-wrap:wrap;margin:1rem 0}
#qr svg{width:18rem;height:18rem;display:block}
#timer{text-align:center;min-width:9rem}
#timer[hidden]{display:none}
#countdown{font-size:4.5rem;font-weight:700;line-height:1;font-variant-numeric:tabular-nums;color:#0b57d0}
#countdown.low{color:#b3261e}
#timer small{display:block;color:#555;margin-top:.3rem}
#bar{height:.5rem;background:#e3e3e3;border-radius:.25rem;margin-top:.6rem;overflow:hidden}
#bar-fill{height:100%;width:100%;background:#0b57d0;transition:width .25s linear}
#status{font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}
dt{color:#555}
</style></head>
<body>
<header><h1>{{heading}}</h1>
<nav aria-label="{{switch_label}}">{{switch}}</nav></header>
<p id="party">{{asks}}: <strong>{{party}}</strong></p>
<p><label>{{what}} <select id="preset">{{options}}</select></label>
<button id="start" type="button">{{show}}</button></p>
<div id="show">
<div id="qr" data-authorization-request="" data-transaction-id="" aria-label="{{scan}}"></div>
<div id="timer" hidden><div id="countdown" role="timer" aria-live="off"></div><small>{{seconds_left}}</small><div id="bar"><div id="bar-fill"></div></div></div>
</div>
<p>{{status}}: <span id="status" data-status="">—</span> <span id="note"></span></p>
<p><a id="link" href="#" hidden>{{open_here}}</a></p>
<dl id="claims"></dl>
<script>
"use strict";
const T = {{texts}};
let timer = null, source = null, deadline = 0, total = 30, current = null;
const $ = (id) => document.getElementById(id);
function flatten(prefix, value, out) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? prefix + "." + k : k, v, out);
  } else out.push([prefix, Array.isArray(value) ? JSON.stringify(value) : String(value)]);
  return out;
}
function showClaims(claims) {
  const dl = $("claims"); dl.textContent = "";
  for (const [k, v] of flatten("", claims, [])) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
}
function setStatus(status, text) {
  $("status").dataset.status = status;
  $("status").textContent = text || T[status] || status;
}
function stopTimer() { clearInterval(timer); $("timer").hidden = true; }
function tick() {
  const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  $("countdown").textContent = String(left);
  $("countdown").classList.toggle("low", left <= 10);
  $("bar-fill").style.width = (100 * left / total) + "%";
  if (left === 0 && $("status").dataset.status === "pending") start();
}
async function start() {
  if (source) source.close();
  stopTimer();
  $("claims").textContent = ""; $("note").textContent = "";
  const resp = await fetch("/demo/verifier/requests", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({preset: $("preset").value})});
  const body = await resp.json();
  if (!resp.ok) { setStatus("error", body.error_description || T.error); return; }
  current = body.transaction_id;
  const qr = $("qr");
  qr.innerHTML = body.qr_svg;
  qr.dataset.authorizationRequest = body.authorization_request;
  qr.dataset.transactionId = body.transaction_id;
  $("link").href = body.authorization_request; $("link").hidden = false;
  setStatus("pending");
  total = body.expires_in;
  deadline = Date.now() + body.expires_in * 1000;
  $("timer").hidden = false;
  tick();
  timer = setInterval(tick, 250);
  source = new EventSource("/demo/verifier/requests/" + encodeURIComponent(current) + "/events");
  source.addEventListener("retrieved", () => {
    // A wallet has the request: keep this QR while it answers.
    stopTimer(); $("note").textContent = T.answering;
  });
  source.addEventListener("status", (e) => {
    const view = JSON.parse(e.data);
    if (view.transaction_id !== current) return;
    if (view.status === "expired") { start(); return; }
    setStatus(view.status);
    if (view.status === "verified") { stopTimer(); $("note").textContent = ""; qr.innerHTML = ""; showClaims(view.claims || {}); source.close(); }
    if (view.status === "failed") { stopTimer(); $("note").textContent = (view.error && view.error.description) || ""; source.close(); }
  });
}
$("start").addEventListener("click", start);
start();
</script>
</body></html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_from_the_query_then_accept_language_then_russian() {
        let n = Lang::negotiate;
        assert_eq!(n(None, None), Lang::Ru);
        assert_eq!(n(None, Some("ru-RU,ru;q=0.9,en;q=0.8")), Lang::Ru);
        assert_eq!(n(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(n(None, Some("de-DE,en;q=0.5,ru;q=0.7")), Lang::Ru);
        assert_eq!(n(None, Some("de, EN-gb;q=0.2")), Lang::En);
        assert_eq!(n(None, Some("ru;q=0, en;q=0.1")), Lang::En);
        assert_eq!(n(None, Some("fr, de")), Lang::Ru);
        assert_eq!(
            n(None, Some("en;q=1.5, ru;q=0.3")),
            Lang::Ru,
            "bad q ignored"
        );
        assert_eq!(n(Some("en"), Some("ru")), Lang::En);
        assert_eq!(n(Some("RU"), Some("en")), Lang::Ru);
        assert_eq!(n(Some("de"), Some("en")), Lang::En, "unknown ?lang ignored");
    }

    #[test]
    fn page_is_in_one_language_and_names_the_party() {
        let ru = page(Lang::Ru, "Гостиница «Космос» <1>");
        assert!(ru.contains("<html lang=\"ru\">"));
        assert!(ru.contains("Заселение в гостиницу"));
        assert!(!ru.contains("Hotel check-in"));
        assert!(ru.contains("Гостиница «Космос» &lt;1&gt;"));
        assert!(ru.contains("href=\"?lang=en\""));
        assert!(!ru.contains("{{"), "every placeholder filled");
        assert!(page(Lang::Ru, "{{options}}").contains("<strong>{{options}}</strong>"));
        let en = page(Lang::En, "id.example.ru");
        assert!(en.contains("<html lang=\"en\">"));
        assert!(en.contains("Hotel check-in") && !en.contains("Заселение"));
        assert!(en.contains("href=\"?lang=ru\""));
        assert!(!en.contains("{{"));
    }
}

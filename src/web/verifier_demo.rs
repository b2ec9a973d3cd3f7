//! `GET /demo/verifier`: the relying-party page. Pick a preset, show the QR
//! with a countdown; when the request's 30 s are over a fresh request
//! replaces it; verified claims appear through server-sent events. No
//! external assets: the script and style are inline.

use super::super::verifier::presets::Preset;

/// The page. The QR element carries the link it encodes in
/// `data-authorization-request` (for tests and copy-paste).
pub fn page() -> String {
    let options: String = Preset::ALL
        .iter()
        .map(|p| format!("<option value=\"{}\">{}</option>", p.name(), p.label()))
        .collect();
    PAGE.replace("{{options}}", &options)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>digital-id — verify a Digital ID</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
#qr svg{width:18rem;height:18rem}
#status{font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}
dt{color:#555}
</style></head>
<body>
<h1>Verify a Digital ID</h1>
<p><label>What do you need? <select id="preset">{{options}}</select></label>
<button id="start" type="button">Show QR</button></p>
<div id="qr" data-authorization-request="" data-transaction-id=""></div>
<p>Status: <span id="status">—</span> <span id="countdown"></span></p>
<p><a id="link" href="#" hidden>Open in a wallet on this device</a></p>
<dl id="claims"></dl>
<script>
"use strict";
let timer = null, source = null, deadline = 0, current = null;
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
function tick() {
  const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  $("countdown").textContent = left > 0 ? "(" + left + " s)" : "";
  if (left === 0 && $("status").textContent === "pending") start();
}
async function start() {
  if (source) source.close();
  clearInterval(timer);
  $("claims").textContent = "";
  const resp = await fetch("/demo/verifier/requests", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({preset: $("preset").value})});
  const body = await resp.json();
  if (!resp.ok) { $("status").textContent = body.error_description || "error"; return; }
  current = body.transaction_id;
  const qr = $("qr");
  qr.innerHTML = body.qr_svg;
  qr.dataset.authorizationRequest = body.authorization_request;
  qr.dataset.transactionId = body.transaction_id;
  $("link").href = body.authorization_request; $("link").hidden = false;
  $("status").textContent = "pending";
  deadline = Date.now() + body.expires_in * 1000;
  timer = setInterval(tick, 250);
  source = new EventSource("/demo/verifier/requests/" + encodeURIComponent(current) + "/events");
  source.addEventListener("retrieved", () => {
    // A wallet has the request: keep this QR while it answers.
    clearInterval(timer); $("countdown").textContent = "(wallet is answering)";
  });
  source.addEventListener("status", (e) => {
    const view = JSON.parse(e.data);
    if (view.transaction_id !== current) return;
    if (view.status === "expired" ) { start(); return; }
    $("status").textContent = view.status;
    if (view.status === "verified") { clearInterval(timer); $("countdown").textContent = ""; qr.innerHTML = ""; showClaims(view.claims || {}); source.close(); }
    if (view.status === "failed") { clearInterval(timer); $("countdown").textContent = (view.error && view.error.description) || ""; source.close(); }
  });
}
$("start").addEventListener("click", start);
start();
</script>
</body></html>
"##;

//! The login and consent pages of `GET /authorize`.

use super::{escape, page};
use crate::catalogue;
use crate::issuer::authorize::{ConsentStep, Login};
use crate::registry::{IdentityProofing, Subject};

fn proofing(p: IdentityProofing) -> &'static str {
    match p {
        IdentityProofing::Biometric => "биометрия / biometrics",
        IdentityProofing::NfcPassport => "NFC-паспорт / NFC passport",
        IdentityProofing::Bank => "банк / bank",
        IdentityProofing::None => "не подтверждена / not proofed",
    }
}

fn full_name(s: &Subject) -> String {
    let p = &s.person;
    [
        Some(p.family_name.as_str()),
        Some(p.given_name.as_str()),
        p.patronymic.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

fn documents(ids: &[String]) -> String {
    ids.iter()
        .map(|id| match catalogue::find(id) {
            Some(d) => format!(
                "<li>{} <small>({})</small></li>",
                escape(d.name.ru),
                escape(d.name.en)
            ),
            None => format!("<li>{}</li>", escape(id)),
        })
        .collect()
}

/// The demo login: the citizen picks their registry record.
pub fn login(l: &Login) -> String {
    let options: String = l
        .subjects
        .iter()
        .map(|s| {
            format!(
                "<label><input type=\"radio\" name=\"subject_id\" value=\"{id}\" required> \
{name} <small>{birth} · {proof}</small></label>",
                id = escape(&s.id.0),
                name = escape(&full_name(s)),
                birth = escape(&s.person.birthdate),
                proof = proofing(s.identity_proofing),
            )
        })
        .collect();
    let body = format!(
        "<h1>Вход / Sign in</h1>\
<p>Кошелёк <b>{client}</b> запрашивает / The wallet <b>{client}</b> asks for:</p><ul>{docs}</ul>\
<p><small>Демо: выберите свою запись в реестре / Demo: pick your registry record.</small></p>\
<form method=\"post\" action=\"authorize/login\">\
<input type=\"hidden\" name=\"session\" value=\"{session}\">{options}\
<button type=\"submit\">Войти / Sign in</button></form>",
        client = escape(&l.client_name),
        docs = documents(&l.request.credential_configuration_ids),
        session = escape(&l.session_id),
    );
    page("Вход / Sign in", &body)
}

/// The consent page, showing the identity proofing method.
pub fn consent(c: &ConsentStep) -> String {
    let body = format!(
        "<h1>Согласие / Consent</h1>\
<p><b>{name}</b></p>\
<p>Личность подтверждена / Identity proofed by: <b>{proof}</b></p>\
<p>Выдать кошельку <b>{client}</b> / Issue to the wallet <b>{client}</b>:</p><ul>{docs}</ul>\
<p><small>Разрешение запоминается для этого кошелька и может быть отозвано. \
The permission is remembered for this wallet and can be withdrawn.</small></p>\
<form method=\"post\" action=\"consent\">\
<input type=\"hidden\" name=\"session\" value=\"{session}\">\
<button type=\"submit\" name=\"decision\" value=\"approve\">Разрешить / Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Отказать / Deny</button></form>",
        name = escape(&full_name(&c.subject)),
        proof = proofing(c.identity_proofing),
        client = escape(&c.client_name),
        docs = documents(&c.request.credential_configuration_ids),
        session = escape(&c.session_id),
    );
    page("Согласие / Consent", &body)
}

/// An error page: the rule (`message`: the caller hides a failure of
/// ours behind a generic sentence) and the OAuth error code.
pub fn error(message: &str, code: &str) -> String {
    let body = format!(
        "<h1>Запрос отклонён / Request refused</h1><div class=\"error\"><p>{msg}</p>\
<p><small>error: <code>{code}</code></small></p></div>",
        msg = escape(message),
        code = escape(code),
    );
    page("Запрос отклонён / Request refused", &body)
}

/// A sign-in refusal page; when the person signed in, a link takes them
/// back to the wallet with `error=access_denied`.
pub fn refused(message: &str, code: &str, back_to_wallet: Option<&str>) -> String {
    let back = back_to_wallet.map_or_else(String::new, |to| {
        format!(
            "<p><a class=\"button\" href=\"{to}\">Вернуться в кошелёк / Back to the wallet</a></p>",
            to = escape(to)
        )
    });
    let body = format!(
        "<h1>Вход не выполнен / Sign-in refused</h1><div class=\"error\"><p>{msg}</p>\
<p><small>error: <code>{code}</code></small></p></div>{back}",
        msg = escape(message),
        code = escape(code),
    );
    page("Вход не выполнен / Sign-in refused", &body)
}

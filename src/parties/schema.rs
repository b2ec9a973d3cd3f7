//! OpenAPI schemas of the registration members whose rules JSON Schema can
//! state (so a schema-valid body is one the server accepts).

use serde_json::json;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

/// `claims`: `{"<vct>": [[path element, …], …]}`.
pub fn claims() -> ObjectBuilder {
    let elem = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(128)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(1_000_000)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null));
    let path = ArrayBuilder::new().items(elem).max_items(Some(16));
    let paths = ArrayBuilder::new().items(path).max_items(Some(64));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(256))
                .pattern(Some(r"^[^\u0000-\u001f\u007f-\u009f]+$")),
        ))
        .additional_properties(Some(RefOr::T(Schema::Array(paths.build()))))
        .max_properties(Some(32))
        .description(Some(
            "`vct` → entitled claims paths (OpenID4VP 1.0 §7 pointers: strings, non-negative \
             integers, `null` for every array element); `[]` entitles the whole credential. \
             A requested path is allowed when it equals or extends an entitled one",
        ))
        .examples([
            json!({"urn:ru:digital-id:passport:1": [["family_name"], ["resident_address"]]}),
        ])
}

/// `redirect_uris` / `callback_urls`: https (http only on localhost or
/// 127.0.0.1), no user information or fragment; at most 10.
pub fn uris() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(2048))
                .pattern(Some(
                    r#"^(https://[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z][A-Za-z0-9-]*)*|http://(localhost|127\.0\.0\.1))(:[1-9][0-9]{0,3})?(/[!-"$-~]*)?$"#,
                )),
        )
        .max_items(Some(10))
        .examples([json!(["https://kosmos.example.ru/vp-result"])])
}

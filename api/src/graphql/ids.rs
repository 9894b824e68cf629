//! Global object ids (`node(id:)`): opaque, URL-safe, and typed, so a district id can never be
//! mistaken for a village id.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    State,
    Division,
    District,
    Block,
    GramPanchayat,
    Village,
    Scheme,
    Organisation,
    Assignment,
    Task,
    TaskEvent,
    WaterQualityTest,
    Webhook,
    WebhookDelivery,
    SchemeComponent,
    SchemeInspection,
}

impl Kind {
    const ALL: [Kind; 16] = [
        Self::State,
        Self::Division,
        Self::District,
        Self::Block,
        Self::GramPanchayat,
        Self::Village,
        Self::Scheme,
        Self::Organisation,
        Self::Assignment,
        Self::Task,
        Self::TaskEvent,
        Self::WaterQualityTest,
        Self::Webhook,
        Self::WebhookDelivery,
        Self::SchemeComponent,
        Self::SchemeInspection,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::State => "State",
            Self::Division => "Division",
            Self::District => "District",
            Self::Block => "Block",
            Self::GramPanchayat => "GramPanchayat",
            Self::Village => "Village",
            Self::Scheme => "Scheme",
            Self::Organisation => "Organisation",
            Self::Assignment => "Assignment",
            Self::Task => "Task",
            Self::TaskEvent => "TaskEvent",
            Self::WaterQualityTest => "WaterQualityTest",
            Self::Webhook => "Webhook",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::SchemeComponent => "SchemeComponent",
            Self::SchemeInspection => "SchemeInspection",
        }
    }
}

pub fn encode(kind: Kind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Decodes a global id; `argument` names the argument for the error.
pub fn decode(argument: &str, id: &ID) -> ApiResult<(Kind, i64)> {
    let bad = || ApiError::bad_input(argument, format!("`{argument}` is not a valid Sangam id"));
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_str().trim_end_matches('='))
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (name, raw) = text.split_once(':').ok_or_else(bad)?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(bad)?;
    let n: i64 = raw.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    Ok((kind, n))
}

/// Decodes a global id that must be of one of `kinds`.
pub fn decode_as(argument: &str, id: &ID, kinds: &[Kind]) -> ApiResult<(Kind, i64)> {
    let (kind, n) = decode(argument, id)?;
    if !kinds.contains(&kind) {
        let expected: Vec<_> = kinds.iter().map(|k| k.name()).collect();
        return Err(ApiError::bad_input(
            argument,
            format!(
                "`{argument}` must be the id of a {}, not a {}",
                expected.join(" or "),
                kind.name()
            ),
        ));
    }
    Ok((kind, n))
}

/// Decodes a global id that must be of `kind`, returning the database id.
pub fn decode_one(argument: &str, id: &ID, kind: Kind) -> ApiResult<i64> {
    decode_as(argument, id, &[kind]).map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;

    #[test]
    fn ids_round_trip() {
        for kind in Kind::ALL {
            let id = encode(kind, 42);
            assert_eq!(decode("id", &id).expect("decodes"), (kind, 42));
        }
    }

    #[test]
    fn malformed_ids_are_bad_input_naming_the_argument() {
        for raw in [
            "",
            "!!",
            "VmlsbGFnZQ",
            "Tm9wZTox",
            "VmlsbGFnZTphYmM",
            "VmlsbGFnZTotMQ",
        ] {
            let err = decode("within", &ID(raw.to_owned())).expect_err(raw);
            assert_eq!(err.code(), code::BAD_USER_INPUT, "{raw}");
            assert!(matches!(err, ApiError::BadInput { ref argument, .. } if argument == "within"));
        }
    }

    #[test]
    fn wrong_kind_is_refused() {
        let err =
            decode_one("village", &encode(Kind::District, 3), Kind::Village).expect_err("kind");
        assert!(err.to_string().contains("Village"), "{err}");
    }
}

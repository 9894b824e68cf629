//! From verified token claims to a [`Principal`]. One mapping for all three token sources; which
//! claim carries what is configuration (`ClaimNames`), so an identity provider's conventions
//! (e.g. Keycloak's `realm_access.roles`) need no code.

use std::collections::BTreeSet;

use entities::enums::Department;
use serde_json::{Map, Value};

use super::{AuthError, organisations::Organisations};
use crate::principal::{Jurisdiction, Principal, Role, Scope};

/// Claim names (dotted paths into nested objects).
#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub role: String,
    pub organisation: String,
    pub department: String,
    pub states: String,
    pub districts: String,
    pub scope: String,
}

impl Default for ClaimNames {
    /// The names Sangam's own tokens use.
    fn default() -> Self {
        Self {
            role: "role".into(),
            organisation: "org".into(),
            department: "department".into(),
            states: "states".into(),
            districts: "districts".into(),
            scope: "scope".into(),
        }
    }
}

fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    Some(v)
}

/// A string claim, or the strings of an array claim, or a space/comma-separated string.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn codes(v: Option<&Value>, claim: &str) -> Result<Vec<i32>, AuthError> {
    strings(v)
        .into_iter()
        .map(|c| {
            c.parse().map_err(|_| {
                AuthError::invalid(format!("claim {claim} holds a non-numeric LGD code"))
            })
        })
        .collect()
}

/// Builds the principal for verified `claims`. `sub` and `client_id` come from the token.
pub async fn principal(
    organisations: &Organisations,
    names: &ClaimNames,
    claims: &Map<String, Value>,
) -> Result<Principal, AuthError> {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::invalid("no sub claim"))?;
    let client_id = claims
        .get("client_id")
        .or_else(|| claims.get("azp"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let role = strings(lookup(claims, &names.role))
        .iter()
        .find_map(|r| Role::parse(r))
        .ok_or_else(|| AuthError::invalid("the token names no Sangam role"))?;
    // Unknown scopes (openid, profile…) are another application's; scopes the role may not hold
    // are dropped whatever the token says.
    let scopes: BTreeSet<Scope> =
        strings(lookup(claims, &names.scope).or_else(|| claims.get("scp")))
            .iter()
            .filter_map(|s| Scope::parse(s))
            .filter(|s| role.allowed_scopes().contains(s))
            .collect();
    let org_code = strings(lookup(claims, &names.organisation))
        .into_iter()
        .next();
    let org = match &org_code {
        Some(code) => Some(
            organisations
                .by_code(code)
                .await?
                .ok_or_else(|| AuthError::invalid("the token's organisation is unknown"))?,
        ),
        None => None,
    };
    if matches!(
        role,
        Role::Department | Role::Partner | Role::InspectionAgency
    ) && org.is_none()
    {
        return Err(AuthError::invalid("the token names no organisation"));
    }
    let department = match lookup(claims, &names.department) {
        Some(v) => {
            let claimed = serde_json::from_value::<Department>(v.clone())
                .map_err(|_| AuthError::invalid("the token's department is unknown"))?;
            // The organisation is the authority on its department: a token may repeat it, never
            // contradict it (nor give one to an organisation that is no department).
            if let Some(o) = &org
                && o.department != Some(claimed)
            {
                return Err(AuthError::invalid(
                    "the token's department contradicts its organisation's",
                ));
            }
            Some(claimed)
        }
        None => org.as_ref().and_then(|o| o.department),
    };
    if role == Role::Department && department.is_none() {
        return Err(AuthError::invalid(
            "a department token must name its department",
        ));
    }
    let states = codes(lookup(claims, &names.states), &names.states)?;
    let districts = codes(lookup(claims, &names.districts), &names.districts)?;
    let jurisdiction = match (states.is_empty(), districts.is_empty()) {
        (true, true) if role.needs_jurisdiction() => {
            return Err(AuthError::invalid("the token carries no jurisdiction"));
        }
        (true, true) => Jurisdiction::All,
        (_, false) => Jurisdiction::Districts(districts),
        (false, true) => Jurisdiction::States(states),
    };
    if role == Role::DistrictCoordinator && !matches!(jurisdiction, Jurisdiction::Districts(_)) {
        return Err(AuthError::invalid(
            "a district coordinator's token must name its districts",
        ));
    }
    Ok(Principal {
        sub: sub.to_owned(),
        client_id,
        role,
        organisation_id: org.map(|o| o.id),
        department,
        jurisdiction,
        scopes,
        expires_at: claims.get("exp").and_then(Value::as_i64),
    })
}

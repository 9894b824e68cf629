//! Handover of a commissioned scheme to the Gram Panchayat for operation and maintenance.
//!
//! The Village Water and Sanitation Committee that will run it must follow the Operational
//! Guidelines (DOMAIN.md §4.1): 10 to 15 members, at least half of them women. A handover to
//! a committee outside those rules is **refused** (not flagged): the Gram Sabha reconstitutes
//! the committee first, and the scheme stays COMMISSIONED meanwhile. A scheme with an open
//! CRITICAL inspection finding is not handed over either.

use chrono::{NaiveDate, Utc};
use entities::{
    enums::{Department, SchemeStatus},
    scheme, scheme_handover,
    works::OmFundsSource,
};
use sea_orm::{ActiveModelTrait, Set, sea_query::Expr};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{bump, components::check_url, finish};
use crate::{
    error::{ApiError, ApiResult},
    principal::{Role, Scope},
    service::{
        Service,
        text::{self, at_most, at_most_opt},
    },
};

/// Smallest and largest VWSC (DOMAIN.md §4.1).
pub const VWSC_MEMBERS: std::ops::RangeInclusive<i32> = 10..=15;

pub struct NewHandover {
    pub scheme: i64,
    pub handed_over_on: NaiveDate,
    pub resolution_date: NaiveDate,
    pub resolution_number: String,
    pub resolution_evidence_url: Option<String>,
    pub vwsc_members: i32,
    pub vwsc_women_members: i32,
    pub operator_trained: bool,
    pub operator_name: Option<String>,
    pub user_charge_paise: i64,
    pub om_funds_source: OmFundsSource,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandedOver {
    pub scheme: scheme::Model,
    pub handover: scheme_handover::Model,
}

/// BAD_USER_INPUT naming the field unless the VWSC follows the guidelines.
pub fn check_vwsc(members: i32, women: i32) -> ApiResult<()> {
    if !VWSC_MEMBERS.contains(&members) {
        return Err(ApiError::bad_input(
            "input.vwsc.members",
            format!(
                "a VWSC has {} to {} members (it has {members}); the Gram Sabha reconstitutes it \
                 before the handover",
                VWSC_MEMBERS.start(),
                VWSC_MEMBERS.end()
            ),
        ));
    }
    if women < 0 || women > members || women * 2 < members {
        return Err(ApiError::bad_input(
            "input.vwsc.womenMembers",
            format!(
                "at least half of a VWSC's members are women ({women} of {members}); the Gram \
                 Sabha reconstitutes it before the handover"
            ),
        ));
    }
    Ok(())
}

impl Service {
    pub async fn hand_over_scheme(
        &self,
        new: NewHandover,
        expected: i32,
        key: Option<&str>,
    ) -> ApiResult<HandedOver> {
        self.write("handOverScheme", key, move |tx| {
            Box::pin(async move {
                let svc = tx.svc();
                svc.require(Scope::SchemesWrite)?;
                let who = svc.principal();
                let ok = match who.role {
                    Role::StateAdmin | Role::DistrictCoordinator => true,
                    Role::Department => matches!(
                        who.department,
                        Some(Department::Phed | Department::PanchayatiRaj)
                    ),
                    _ => false,
                };
                if !ok {
                    return Err(ApiError::Forbidden {
                        needs: "PHED or Panchayati Raj to record a handover".into(),
                    });
                }
                let today = svc.today();
                let sub = who.sub.clone();
                if new.handed_over_on > today {
                    return Err(ApiError::bad_input(
                        "input.handedOverOn",
                        "a handover cannot be recorded for a future day",
                    ));
                }
                if new.resolution_date > new.handed_over_on {
                    return Err(ApiError::bad_input(
                        "input.gramPanchayatResolution.date",
                        "the Gram Panchayat resolves to take the scheme over before the handover",
                    ));
                }
                if new.resolution_number.trim().is_empty() {
                    return Err(ApiError::bad_input(
                        "input.gramPanchayatResolution.number",
                        "give the resolution's number",
                    ));
                }
                at_most(
                    "input.gramPanchayatResolution.number",
                    &new.resolution_number,
                    text::NAME,
                )?;
                check_url(
                    "input.gramPanchayatResolution.evidenceUrl",
                    new.resolution_evidence_url.as_deref(),
                )?;
                check_vwsc(new.vwsc_members, new.vwsc_women_members)?;
                at_most_opt(
                    "input.operator.name",
                    new.operator_name.as_deref(),
                    text::NAME,
                )?;
                if new.user_charge_paise < 0 {
                    return Err(ApiError::bad_input(
                        "input.omArrangement.userChargePerHouseholdPerMonth",
                        "a user charge is zero or more",
                    ));
                }
                let before = tx.visible::<scheme::Entity>(new.scheme, "scheme").await?;
                if before.status != SchemeStatus::Commissioned {
                    return Err(ApiError::bad_input(
                        "input.id",
                        format!(
                            "only a COMMISSIONED scheme is handed over; this one is {}",
                            super::name(before.status)
                        ),
                    ));
                }
                if before.open_findings_critical > 0 {
                    return Err(ApiError::bad_input(
                        "input.id",
                        format!(
                            "{} CRITICAL inspection finding(s) are open; a passing re-inspection \
                             closes them before the handover",
                            before.open_findings_critical
                        ),
                    ));
                }
                if before
                    .commissioned_on
                    .is_some_and(|c| new.handed_over_on < c)
                {
                    return Err(ApiError::bad_input(
                        "input.handedOverOn",
                        "a scheme is handed over after it is commissioned",
                    ));
                }
                let set = vec![
                    (
                        scheme::Column::Status,
                        Expr::value(SchemeStatus::HandedOverToGp),
                    ),
                    (
                        scheme::Column::HandedOverOn,
                        Expr::value(new.handed_over_on),
                    ),
                ];
                let after = bump(tx, &before, Some(expected), set).await?;
                let handover = scheme_handover::ActiveModel {
                    scheme_id: Set(after.id),
                    handed_over_on: Set(new.handed_over_on),
                    resolution_date: Set(new.resolution_date),
                    resolution_number: Set(new.resolution_number.trim().to_owned()),
                    resolution_evidence_url: Set(new.resolution_evidence_url),
                    vwsc_members: Set(new.vwsc_members),
                    vwsc_women_members: Set(new.vwsc_women_members),
                    operator_trained: Set(new.operator_trained),
                    operator_name: Set(new
                        .operator_name
                        .map(|n| n.trim().to_owned())
                        .filter(|n| !n.is_empty())),
                    user_charge_paise: Set(new.user_charge_paise),
                    om_funds_source: Set(new.om_funds_source),
                    recorded_by: Set(sub),
                    created_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(tx.conn())
                .await?;
                tx.audit(
                    "scheme_handover",
                    handover.id,
                    Some(after.district_id),
                    None::<&scheme_handover::Model>,
                    Some(&handover),
                )
                .await?;
                // The operator's name is personal data: it stays out of the event.
                finish(
                    tx,
                    &before,
                    &after,
                    "scheme.handed_over",
                    json!({
                        "resolution_date": handover.resolution_date,
                        "resolution_number": handover.resolution_number,
                        "vwsc_members": handover.vwsc_members,
                        "vwsc_women_members": handover.vwsc_women_members,
                        "operator_trained": handover.operator_trained,
                        "user_charge_paise": handover.user_charge_paise,
                        "om_funds_source": handover.om_funds_source,
                    }),
                )
                .await?;
                Ok(HandedOver {
                    scheme: after,
                    handover,
                })
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vwsc_has_ten_to_fifteen_members_at_least_half_women() {
        assert!(check_vwsc(10, 5).is_ok());
        assert!(check_vwsc(15, 8).is_ok());
        assert!(check_vwsc(15, 7).is_err());
        assert!(check_vwsc(9, 9).is_err());
        assert!(check_vwsc(16, 16).is_err());
        assert!(check_vwsc(12, 13).is_err());
    }
}

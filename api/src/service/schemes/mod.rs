//! Scheme works: the lifecycle of a scheme (`transitionScheme`), its components and physical
//! progress (`components`), quality inspections and their rectification tasks
//! (`inspections`), and the handover to the Gram Panchayat (`handover`). Every write goes
//! through the one write path (`Service::write`) with a version-checked update of the scheme,
//! an audit record, an event and the rollups (`rollup`), in one transaction.

pub mod components;
pub mod filter;
pub mod handover;
pub mod inspections;
pub mod progress;
pub mod rollup;

use chrono::NaiveDate;
use entities::{
    district,
    enums::{Department, SchemeStatus},
    scheme,
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};
use serde_json::{Value, json};

use super::{
    Service,
    text::{self, at_most_opt},
    write::Tx,
};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        change::{changed_fields, with},
        log::NewEvent,
    },
    principal::{Role, Scope},
};

/// Stage dates given with a transition.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageDates {
    /// The day the scheme reached the new stage (today when omitted).
    pub on: Option<NaiveDate>,
    /// A new target completion date.
    pub target_completion_on: Option<NaiveDate>,
}

/// The scheme statuses a scheme may move to from `from`, in lifecycle order. A commissioned
/// scheme is handed over with `handOverScheme`, not moved.
pub fn legal_next(from: SchemeStatus) -> &'static [SchemeStatus] {
    use SchemeStatus::*;
    match from {
        Proposed => &[DprPrepared, Cancelled],
        DprPrepared => &[TechSanctioned, Cancelled],
        TechSanctioned => &[AdminApproved, Cancelled],
        AdminApproved => &[Tendered, Cancelled],
        Tendered => &[WorkOrderIssued, Cancelled],
        WorkOrderIssued => &[InProgress, Cancelled],
        InProgress => &[OnHold, Completed, Cancelled],
        OnHold => &[InProgress, Cancelled],
        Completed => &[Commissioned],
        Commissioned => &[HandedOverToGp],
        HandedOverToGp | Cancelled => &[],
    }
}

/// The status as the API spells it.
pub fn name(s: SchemeStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{s:?}"))
}

/// BAD_USER_INPUT on `to` unless `from → to` is a legal move, naming the legal ones; on `note`
/// when a hold or a cancellation has no reason.
pub fn check_move(from: SchemeStatus, to: SchemeStatus, note: Option<&str>) -> ApiResult<()> {
    let legal = legal_next(from);
    if !legal.contains(&to) {
        let names: Vec<_> = legal
            .iter()
            .map(|s| {
                if *s == SchemeStatus::HandedOverToGp {
                    format!("{} (with handOverScheme)", name(*s))
                } else {
                    name(*s)
                }
            })
            .collect();
        let options = if names.is_empty() {
            "none: the scheme is closed".to_owned()
        } else {
            names.join(", ")
        };
        return Err(ApiError::bad_input(
            "to",
            format!(
                "a scheme cannot move from {} to {}; legal moves: {options}",
                name(from),
                name(to)
            ),
        ));
    }
    if to == SchemeStatus::HandedOverToGp {
        return Err(ApiError::bad_input(
            "to",
            "a commissioned scheme is handed over with handOverScheme, which records the Gram \
             Panchayat's resolution and the VWSC",
        ));
    }
    let needs_reason = matches!(to, SchemeStatus::OnHold | SchemeStatus::Cancelled);
    if needs_reason && note.is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::bad_input(
            "note",
            format!("moving a scheme to {} needs a reason in `note`", name(to)),
        ));
    }
    Ok(())
}

/// PHED moves schemes and records their progress: an administrator, a district coordinator, or
/// a PHED officer, with `schemes:write`.
pub(crate) fn phed_writer(svc: &Service) -> ApiResult<()> {
    svc.require(Scope::SchemesWrite)?;
    let who = svc.principal();
    let ok = match who.role {
        Role::StateAdmin | Role::DistrictCoordinator => true,
        Role::Department => who.department == Some(Department::Phed),
        _ => false,
    };
    if !ok {
        return Err(ApiError::Forbidden {
            needs: "PHED (an administrator, a district coordinator or a PHED officer) to move \
                    schemes and record their progress"
                .into(),
        });
    }
    Ok(())
}

fn stale(current: i32) -> ApiError {
    ApiError::Conflict {
        message: format!("the scheme changed since you read it; it is now at version {current}"),
        current_version: Some(current),
    }
}

/// The version-checked update of a scheme (`expected` `None`: no check, the version still
/// moves on): one statement that both checks and writes.
pub(crate) async fn bump(
    tx: &Tx<'_>,
    s: &scheme::Model,
    expected: Option<i32>,
    set: Vec<(scheme::Column, SimpleExpr)>,
) -> ApiResult<scheme::Model> {
    let mut q = scheme::Entity::update_many()
        .col_expr(
            scheme::Column::Version,
            Expr::col(scheme::Column::Version).add(1),
        )
        .filter(scheme::Column::Id.eq(s.id));
    for (col, value) in set {
        q = q.col_expr(col, value);
    }
    if let Some(v) = expected {
        q = q.filter(scheme::Column::Version.eq(v));
    }
    let done = q.exec(tx.conn()).await?;
    let now = scheme::Entity::find_by_id(s.id)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("scheme"))?;
    if done.rows_affected == 0 {
        return Err(stale(now.version));
    }
    Ok(now)
}

/// The event of a scheme change.
pub(crate) async fn scheme_event(
    tx: &Tx<'_>,
    kind: &'static str,
    s: &scheme::Model,
    payload: Value,
) -> ApiResult<NewEvent> {
    let d = district::Entity::find_by_id(s.district_id)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("district"))?;
    Ok(NewEvent {
        kind,
        entity: "scheme",
        entity_id: s.id,
        version: s.version,
        state_id: d.state_id,
        district_id: Some(s.district_id),
        village_id: None,
        payload,
    })
}

/// The end of every scheme write: audit, rollups and event.
pub(crate) async fn finish(
    tx: &mut Tx<'_>,
    before: &scheme::Model,
    after: &scheme::Model,
    kind: &'static str,
    extra: Value,
) -> ApiResult<()> {
    tx.audit(
        "scheme",
        after.id,
        Some(after.district_id),
        Some(before),
        Some(after),
    )
    .await?;
    rollup::scheme_changed(tx.conn(), before, after).await?;
    let payload = with(changed_fields(before, after), extra);
    let event = scheme_event(tx, kind, after, payload).await?;
    tx.emit(event);
    Ok(())
}

/// The physical progress of components, weighted by cost, in basis points (see
/// `components::physical_progress`); `None` without components.
pub use components::physical_progress;

impl Service {
    /// Moves a scheme through its lifecycle (`legal_next`), recording the stage date.
    pub async fn transition_scheme(
        &self,
        id: i64,
        expected: i32,
        to: SchemeStatus,
        note: Option<String>,
        dates: StageDates,
        key: Option<&str>,
    ) -> ApiResult<scheme::Model> {
        self.write("transitionScheme", key, move |tx| {
            Box::pin(async move {
                phed_writer(tx.svc())?;
                at_most_opt("note", note.as_deref(), text::NOTE)?;
                let today = tx.svc().today();
                let on = dates.on.unwrap_or(today);
                if on > today {
                    return Err(ApiError::bad_input(
                        "dates.on",
                        "a stage cannot be reached in the future",
                    ));
                }
                let before = tx.visible::<scheme::Entity>(id, "scheme").await?;
                check_move(before.status, to, note.as_deref())?;
                let target = dates.target_completion_on.or(before.target_completion_on);
                if let (Some(t), Some(s)) = (dates.target_completion_on, before.sanctioned_on)
                    && t < s
                {
                    return Err(ApiError::bad_input(
                        "dates.targetCompletionOn",
                        "the target completion date cannot be before the sanction",
                    ));
                }
                if to == SchemeStatus::WorkOrderIssued && target.is_none() {
                    return Err(ApiError::bad_input(
                        "dates.targetCompletionOn",
                        "a work order needs a target completion date",
                    ));
                }
                if to == SchemeStatus::Completed
                    && let Some(bp) = before.physical_progress_bp
                    && bp < 10_000
                {
                    return Err(ApiError::bad_input(
                        "to",
                        format!(
                            "a scheme is completed when every component is done; physical \
                             progress is {:.2} %",
                            f64::from(bp) / 100.0
                        ),
                    ));
                }
                let mut set = vec![(scheme::Column::Status, Expr::value(to))];
                let stage = match to {
                    SchemeStatus::TechSanctioned => Some(scheme::Column::SanctionedOn),
                    SchemeStatus::WorkOrderIssued => Some(scheme::Column::WorkOrderOn),
                    SchemeStatus::Completed => Some(scheme::Column::CompletedOn),
                    SchemeStatus::Commissioned => Some(scheme::Column::CommissionedOn),
                    _ => None,
                };
                if let Some(col) = stage {
                    set.push((col, Expr::value(on)));
                }
                if let Some(t) = dates.target_completion_on {
                    set.push((scheme::Column::TargetCompletionOn, Expr::value(t)));
                }
                let reason = matches!(to, SchemeStatus::OnHold | SchemeStatus::Cancelled)
                    .then(|| note.clone().map(|n| n.trim().to_owned()))
                    .flatten();
                set.push((scheme::Column::StatusReason, Expr::value(reason)));
                let after = bump(tx, &before, Some(expected), set).await?;
                finish(
                    tx,
                    &before,
                    &after,
                    "scheme.transitioned",
                    json!({ "note": note, "on": on }),
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;

    #[test]
    fn holds_and_cancellations_need_a_reason_and_closed_schemes_do_not_move() {
        use SchemeStatus::*;
        assert!(check_move(InProgress, OnHold, None).is_err());
        assert!(check_move(InProgress, OnHold, Some("  ")).is_err());
        assert!(check_move(InProgress, OnHold, Some("monsoon")).is_ok());
        assert!(check_move(Tendered, Cancelled, Some("no bids")).is_ok());
        assert!(check_move(Completed, Cancelled, Some("late")).is_err());
        assert!(check_move(Commissioned, HandedOverToGp, None).is_err());
        for to in SchemeStatus::iter() {
            assert!(check_move(HandedOverToGp, to, Some("x")).is_err());
            assert!(check_move(Cancelled, to, Some("x")).is_err());
        }
        // Every open state may be cancelled; none after completion.
        for from in SchemeStatus::iter() {
            let open = rollup::BUILDING.contains(&from);
            assert_eq!(legal_next(from).contains(&Cancelled), open, "{from:?}");
        }
    }
}

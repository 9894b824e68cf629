//! A scheme's components and their physical progress. Progress records are append-only: the
//! latest is current, an earlier date cannot be recorded after a later one, and a decrease
//! needs a reason.
//!
//! **Weighting.** A scheme's physical progress is the cost-weighted share of its components
//! done: `Σ cost_i × min(done_i / planned_i, 1) / Σ cost_i`, kept in basis points on the scheme
//! (`physical_progress_bp`, 10 000 = complete). Cost is each component's estimated cost, so a
//! 100 kL overhead tank half built moves the scheme as far as half its cost, not as far as
//! half a household connection. A scheme is 100 % only when every component is done (a
//! rounding never makes an unfinished scheme complete); a scheme without components has no
//! physical progress (null), and is left out of averages.

use chrono::Utc;
use entities::{
    enums::SchemeStatus,
    scheme, scheme_component, scheme_progress,
    works::{ComponentKind, ComponentUnit},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{bump, finish, phed_writer};
use crate::{
    error::{ApiError, ApiResult},
    service::{
        Service,
        text::{self, at_most_opt},
        write::Tx,
    },
};

/// The unit a component kind is planned and measured in.
pub fn unit_of(kind: ComponentKind) -> ComponentUnit {
    match kind {
        ComponentKind::SourceWorks | ComponentKind::PumpHouse => ComponentUnit::Number,
        ComponentKind::WaterTreatmentPlant => ComponentUnit::Mld,
        ComponentKind::OverheadReservoir | ComponentKind::GroundServiceReservoir => {
            ComponentUnit::Kl
        }
        ComponentKind::RisingMain | ComponentKind::DistributionPipeline => ComponentUnit::Km,
        ComponentKind::HouseholdTapConnections => ComponentUnit::Connections,
        ComponentKind::SolarPumping => ComponentUnit::Kwp,
    }
}

/// Physical progress of these components in basis points (see the module's weighting);
/// `None` when there are none.
pub fn physical_progress(components: &[scheme_component::Model]) -> Option<i32> {
    if components.is_empty() {
        return None;
    }
    let done = |c: &scheme_component::Model| {
        if c.planned_quantity > 0.0 {
            (c.quantity_done / c.planned_quantity).clamp(0.0, 1.0)
        } else {
            1.0
        }
    };
    if components.iter().all(|c| done(c) >= 1.0) {
        return Some(10_000);
    }
    let total: f64 = components.iter().map(|c| c.cost_paise as f64).sum();
    let share = if total > 0.0 {
        components
            .iter()
            .map(|c| c.cost_paise as f64 * done(c))
            .sum::<f64>()
            / total
    } else {
        components.iter().map(done).sum::<f64>() / components.len() as f64
    };
    Some(((share * 10_000.0).round() as i32).clamp(0, 9_999))
}

/// Whether `to` is less than `from` by more than floating-point noise (a quantity held as
/// `10.360000000000001` and reported as `10.36` is the same quantity, not a decrease).
pub(crate) fn decreases(from: f64, to: f64) -> bool {
    to < from - 1e-9 * from.abs().max(1.0)
}

pub struct NewComponent {
    pub scheme: i64,
    pub kind: ComponentKind,
    pub planned_quantity: f64,
    pub cost_paise: i64,
}

pub struct NewProgress {
    pub scheme: i64,
    pub component: i64,
    pub quantity_done: f64,
    pub as_of: chrono::NaiveDate,
    pub evidence_url: Option<String>,
    pub reason: Option<String>,
}

/// A changed scheme and the component the write was about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComponentWritten {
    pub scheme: scheme::Model,
    pub component: scheme_component::Model,
}

/// BAD_USER_INPUT on `argument` unless `url` is an http(s) URL of bounded length.
pub(crate) fn check_url(argument: &str, url: Option<&str>) -> ApiResult<()> {
    if let Some(u) = url
        && (!(u.starts_with("https://") || u.starts_with("http://"))
            || u.chars().count() > text::URL)
    {
        return Err(ApiError::bad_input(
            argument,
            format!(
                "evidence must be an http(s) URL of at most {} characters",
                text::URL
            ),
        ));
    }
    Ok(())
}

/// The scheme's components, in id order, read in the write's transaction.
async fn components_of(tx: &Tx<'_>, scheme: i64) -> ApiResult<Vec<scheme_component::Model>> {
    Ok(scheme_component::Entity::find()
        .filter(scheme_component::Column::SchemeId.eq(scheme))
        .order_by_asc(scheme_component::Column::Id)
        .all(tx.conn())
        .await?)
}

/// Locks the scheme for a write that needs no expected version (its version still moves on),
/// and returns the row as it was before the write, read under the lock.
pub(crate) async fn lock(tx: &Tx<'_>, s: &scheme::Model) -> ApiResult<scheme::Model> {
    let mut before = bump(tx, s, None, Vec::new()).await?;
    before.version -= 1;
    Ok(before)
}

/// Stores the scheme's physical progress from its components; returns the scheme after.
async fn store_progress(tx: &Tx<'_>, scheme: i64) -> ApiResult<scheme::Model> {
    let bp = physical_progress(&components_of(tx, scheme).await?);
    scheme::Entity::update_many()
        .col_expr(scheme::Column::PhysicalProgressBp, Expr::value(bp))
        .filter(scheme::Column::Id.eq(scheme))
        .exec(tx.conn())
        .await?;
    scheme::Entity::find_by_id(scheme)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("scheme"))
}

/// Statuses in which components may be added (the works are not finished).
const PLANNABLE: [SchemeStatus; 8] = super::rollup::BUILDING;

/// Statuses in which progress is recorded.
const BUILDING_NOW: [SchemeStatus; 2] = [SchemeStatus::WorkOrderIssued, SchemeStatus::InProgress];

impl Service {
    /// Adds a component to a scheme's plan (the scheme's physical progress is recomputed).
    pub async fn add_scheme_component(
        &self,
        new: NewComponent,
        expected: i32,
        key: Option<&str>,
    ) -> ApiResult<ComponentWritten> {
        self.write("addSchemeComponent", key, move |tx| {
            Box::pin(async move {
                phed_writer(tx.svc())?;
                if !new.planned_quantity.is_finite() || new.planned_quantity <= 0.0 {
                    return Err(ApiError::bad_input(
                        "input.plannedQuantity",
                        "a planned quantity is a positive number",
                    ));
                }
                if new.cost_paise <= 0 {
                    return Err(ApiError::bad_input(
                        "input.estimatedCost",
                        "a component's estimated cost is positive (it weights physical progress)",
                    ));
                }
                let before = tx.visible::<scheme::Entity>(new.scheme, "scheme").await?;
                if !PLANNABLE.contains(&before.status) {
                    return Err(ApiError::bad_input(
                        "input.scheme",
                        format!(
                            "components are planned before a scheme is completed; it is {}",
                            super::name(before.status)
                        ),
                    ));
                }
                bump(tx, &before, Some(expected), Vec::new()).await?;
                let component = scheme_component::ActiveModel {
                    scheme_id: Set(before.id),
                    kind: Set(new.kind),
                    planned_quantity: Set(new.planned_quantity),
                    unit: Set(unit_of(new.kind)),
                    cost_paise: Set(new.cost_paise),
                    quantity_done: Set(0.0),
                    progress_as_of: Set(None),
                    created_at: Set(Utc::now()),
                    version: Set(1),
                    ..Default::default()
                }
                .insert(tx.conn())
                .await?;
                let after = store_progress(tx, before.id).await?;
                tx.audit(
                    "scheme_component",
                    component.id,
                    Some(after.district_id),
                    None::<&scheme_component::Model>,
                    Some(&component),
                )
                .await?;
                finish(
                    tx,
                    &before,
                    &after,
                    "scheme.component_added",
                    json!({ "component": component }),
                )
                .await?;
                Ok(ComponentWritten {
                    scheme: after,
                    component,
                })
            })
        })
        .await
    }

    /// Records a component's progress (append-only; the latest is current): the body is
    /// [`record_progress`], which imports of progress files run too.
    pub async fn record_scheme_progress(
        &self,
        new: NewProgress,
        key: Option<&str>,
    ) -> ApiResult<ComponentWritten> {
        self.write("recordSchemeProgress", key, move |tx| {
            Box::pin(record_progress(tx, new))
        })
        .await
    }
}

/// Records a component's progress in `tx`: the body of `recordSchemeProgress`, and what imports
/// of progress files (`sangam import scheme-progress`) call for each new row, so both apply the
/// same rules: PHED only, while the works are under way; append-only, never for a day before
/// the latest record; at most the planned quantity; a decrease needs a reason; then the
/// component's current quantity, the scheme's physical progress, audit records, rollups and
/// the `scheme.progress_recorded` event.
pub async fn record_progress(tx: &mut Tx<'_>, new: NewProgress) -> ApiResult<ComponentWritten> {
    phed_writer(tx.svc())?;
    let today = tx.svc().today();
    if !new.quantity_done.is_finite() || new.quantity_done < 0.0 {
        return Err(ApiError::bad_input(
            "input.quantityDone",
            "a quantity done is zero or more",
        ));
    }
    if new.as_of > today {
        return Err(ApiError::bad_input(
            "input.asOf",
            "progress cannot be recorded for a future day",
        ));
    }
    check_url("input.evidenceUrl", new.evidence_url.as_deref())?;
    at_most_opt("input.reason", new.reason.as_deref(), text::NOTE)?;
    let seen = tx.visible::<scheme::Entity>(new.scheme, "scheme").await?;
    if !BUILDING_NOW.contains(&seen.status) {
        return Err(ApiError::bad_input(
            "input.scheme",
            format!(
                "progress is recorded while the works are under way (WORK_ORDER_ISSUED \
                 or IN_PROGRESS); the scheme is {}",
                super::name(seen.status)
            ),
        ));
    }
    let before = lock(tx, &seen).await?;
    let component = scheme_component::Entity::find_by_id(new.component)
        .filter(scheme_component::Column::SchemeId.eq(before.id))
        .one(tx.conn())
        .await?
        .ok_or_else(|| {
            ApiError::bad_input("input.component", "the scheme has no such component")
        })?;
    if new.quantity_done > component.planned_quantity * (1.0 + 1e-9) {
        return Err(ApiError::bad_input(
            "input.quantityDone",
            format!(
                "more than the {} planned; add a component for the extra work",
                component.planned_quantity
            ),
        ));
    }
    if component.progress_as_of.is_some_and(|d| new.as_of < d) {
        return Err(ApiError::bad_input(
            "input.asOf",
            "progress is already recorded for a later day; records only move forward \
             in time",
        ));
    }
    let reason = new
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if decreases(component.quantity_done, new.quantity_done) && reason.is_none() {
        return Err(ApiError::bad_input(
            "input.reason",
            format!(
                "the quantity done falls from {} to {}: give the reason (a \
                 measurement corrected, work dismantled)",
                component.quantity_done, new.quantity_done
            ),
        ));
    }
    let record = scheme_progress::ActiveModel {
        scheme_id: Set(before.id),
        component_id: Set(component.id),
        quantity_done: Set(new.quantity_done),
        previous_quantity: Set(component.quantity_done),
        as_of: Set(new.as_of),
        evidence_url: Set(new.evidence_url),
        reason: Set(reason),
        recorded_by: Set(tx.svc().principal().sub.clone()),
        recorded_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?;
    scheme_component::Entity::update_many()
        .col_expr(
            scheme_component::Column::QuantityDone,
            Expr::value(new.quantity_done),
        )
        .col_expr(
            scheme_component::Column::ProgressAsOf,
            Expr::value(new.as_of),
        )
        .col_expr(
            scheme_component::Column::Version,
            Expr::col(scheme_component::Column::Version).add(1),
        )
        .filter(scheme_component::Column::Id.eq(component.id))
        .exec(tx.conn())
        .await?;
    let updated = scheme_component::Entity::find_by_id(component.id)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("component"))?;
    let after = store_progress(tx, before.id).await?;
    tx.audit(
        "scheme_progress",
        record.id,
        Some(after.district_id),
        None::<&scheme_progress::Model>,
        Some(&record),
    )
    .await?;
    finish(
        tx,
        &before,
        &after,
        "scheme.progress_recorded",
        json!({
            "component_id": updated.id,
            "component_kind": updated.kind,
            "quantity_done": updated.quantity_done,
            "previous_quantity": record.previous_quantity,
            "as_of": record.as_of,
        }),
    )
    .await?;
    Ok(ComponentWritten {
        scheme: after,
        component: updated,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn part(planned: f64, done: f64, cost: i64) -> scheme_component::Model {
        scheme_component::Model {
            id: 1,
            scheme_id: 1,
            kind: ComponentKind::OverheadReservoir,
            planned_quantity: planned,
            unit: ComponentUnit::Kl,
            cost_paise: cost,
            quantity_done: done,
            progress_as_of: None,
            created_at: Utc::now(),
            version: 1,
        }
    }

    #[test]
    fn physical_progress_is_the_cost_weighted_share_done() {
        assert_eq!(physical_progress(&[]), None);
        // A tank worth 3/4 of the cost half built, a pipeline worth 1/4 fully laid:
        // 0.75 × 0.5 + 0.25 × 1 = 62.5 %.
        let parts = [part(100.0, 50.0, 300), part(4.0, 4.0, 100)];
        assert_eq!(physical_progress(&parts), Some(6_250));
        // Quantities beyond the plan count as done, not more.
        assert_eq!(physical_progress(&[part(10.0, 10.0, 1)]), Some(10_000));
        // Nearly done is not done.
        let parts = [part(1000.0, 999.99, 1_000_000), part(1.0, 1.0, 1)];
        assert_eq!(physical_progress(&parts), Some(9_999));
        assert_eq!(physical_progress(&[part(8.0, 0.0, 5)]), Some(0));
    }
}

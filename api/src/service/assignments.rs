//! Assigning sector partners to villages, and ending assignments.

use chrono::{Days, NaiveDate, Utc};
use entities::{
    assignment,
    enums::{OrganisationKind, Theme},
    organisation, village,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};

use super::{Service, filters::active_assignment_on};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        change::{all_fields, changed_fields},
        log::NewEvent,
    },
    principal::{Role, Scope},
};

/// Most villages one `assignPartner` may cover.
const MAX_VILLAGES: usize = 5000;

pub enum AssignmentTarget {
    Villages(Vec<i64>),
    GramPanchayat(i64),
    Block(i64),
}

pub struct NewAssignment {
    pub organisation: i64,
    pub target: AssignmentTarget,
    pub theme: Theme,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

fn assignment_writer(svc: &Service) -> ApiResult<()> {
    svc.require(Scope::AssignmentsWrite)?;
    if !matches!(
        svc.principal().role,
        Role::StateAdmin | Role::DistrictCoordinator
    ) {
        return Err(ApiError::Forbidden {
            needs: "a coordinator or administrator to manage assignments".into(),
        });
    }
    Ok(())
}

fn stale(current: i32) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "the assignment changed since you read it; it is now at version {current}"
        ),
        current_version: Some(current),
    }
}

impl Service {
    /// Assigns a partner to villages (listed, or every village of a GP or block within reach).
    /// Villages it already holds for the theme over the period are returned, not duplicated.
    pub async fn assign_partner(
        &self,
        new: NewAssignment,
        key: Option<&str>,
    ) -> ApiResult<Vec<assignment::Model>> {
        self.write("assignPartner", key, move |tx| {
            Box::pin(async move {
                assignment_writer(tx.svc())?;
                if new.ends_on.is_some_and(|e| e < new.starts_on) {
                    return Err(ApiError::bad_input(
                        "input.endsOn",
                        "an assignment cannot end before it starts",
                    ));
                }
                let org = organisation::Entity::find_by_id(new.organisation)
                    .one(tx.conn())
                    .await?
                    .ok_or_else(|| {
                        ApiError::bad_input("input.organisation", "no such organisation")
                    })?;
                if org.kind != OrganisationKind::SectorPartner {
                    return Err(ApiError::bad_input(
                        "input.organisation",
                        "only sector partners are assigned to villages",
                    ));
                }
                let cond = match &new.target {
                    AssignmentTarget::Villages(ids) => {
                        if ids.is_empty() || ids.len() > MAX_VILLAGES {
                            return Err(ApiError::bad_input(
                                "input.villages",
                                format!("give 1 to {MAX_VILLAGES} villages"),
                            ));
                        }
                        Condition::all().add(village::Column::Id.is_in(ids.iter().copied()))
                    }
                    AssignmentTarget::GramPanchayat(gp) => {
                        Condition::all().add(village::Column::GramPanchayatId.eq(*gp))
                    }
                    AssignmentTarget::Block(b) => {
                        Condition::all().add(village::Column::BlockId.eq(*b))
                    }
                };
                let villages = tx
                    .svc()
                    .scoped::<village::Entity>()?
                    .filter(cond)
                    .all(tx.conn())
                    .await?;
                match &new.target {
                    AssignmentTarget::Villages(ids) if villages.len() != ids.len() => {
                        return Err(ApiError::NotFound("village"));
                    }
                    _ if villages.is_empty() => return Err(ApiError::NotFound("village")),
                    _ if villages.len() > MAX_VILLAGES => {
                        return Err(ApiError::bad_input(
                            "input",
                            format!("at most {MAX_VILLAGES} villages at once"),
                        ));
                    }
                    _ => {}
                }
                let existing = assignment::Entity::find()
                    .filter(assignment::Column::OrganisationId.eq(org.id))
                    .filter(assignment::Column::Theme.eq(new.theme))
                    .filter(assignment::Column::VillageId.is_in(villages.iter().map(|v| v.id)))
                    .all(tx.conn())
                    .await?;
                let overlaps = |a: &assignment::Model| {
                    a.ends_on.is_none_or(|e| e >= new.starts_on)
                        && new.ends_on.is_none_or(|e| a.starts_on <= e)
                };
                let mut out = Vec::with_capacity(villages.len());
                for v in &villages {
                    if let Some(a) = existing
                        .iter()
                        .find(|a| a.village_id == v.id && overlaps(a))
                    {
                        out.push(a.clone());
                        continue;
                    }
                    let a = assignment::ActiveModel {
                        organisation_id: Set(org.id),
                        village_id: Set(v.id),
                        theme: Set(new.theme),
                        starts_on: Set(new.starts_on),
                        ends_on: Set(new.ends_on),
                        created_at: Set(Utc::now()),
                        version: Set(1),
                        ..Default::default()
                    }
                    .insert(tx.conn())
                    .await?;
                    tx.audit(
                        "assignment",
                        a.id,
                        Some(v.district_id),
                        None::<&assignment::Model>,
                        Some(&a),
                    )
                    .await?;
                    tx.emit(NewEvent::assignment(
                        "assignment.created",
                        &a,
                        v,
                        all_fields(&a),
                    ));
                    out.push(a);
                }
                Ok(out)
            })
        })
        .await
    }

    /// Ends an assignment: by default yesterday was its last day, so the partner loses the
    /// village at once.
    pub async fn end_assignment(
        &self,
        id: i64,
        expected: i32,
        ends_on: Option<NaiveDate>,
        key: Option<&str>,
    ) -> ApiResult<assignment::Model> {
        self.write("endAssignment", key, move |tx| {
            Box::pin(async move {
                assignment_writer(tx.svc())?;
                let before = tx.visible::<assignment::Entity>(id, "assignment").await?;
                let today = tx.svc().today();
                let last_day = ends_on
                    .unwrap_or_else(|| today.checked_sub_days(Days::new(1)).unwrap_or(today));
                if before
                    .starts_on
                    .checked_sub_days(Days::new(1))
                    .is_some_and(|d| last_day < d)
                {
                    return Err(ApiError::bad_input(
                        "endsOn",
                        "an assignment cannot end before the day before it starts",
                    ));
                }
                if !active_assignment_on(&before, today)
                    && before.ends_on.is_some_and(|e| e < today)
                {
                    return Err(ApiError::bad_input(
                        "id",
                        "the assignment has already ended",
                    ));
                }
                if expected != before.version {
                    return Err(stale(before.version));
                }
                let done = assignment::Entity::update_many()
                    .col_expr(assignment::Column::EndsOn, Expr::value(last_day))
                    .col_expr(
                        assignment::Column::Version,
                        Expr::col(assignment::Column::Version).add(1),
                    )
                    .filter(assignment::Column::Id.eq(id))
                    .filter(assignment::Column::Version.eq(expected))
                    .exec(tx.conn())
                    .await?;
                let after = assignment::Entity::find_by_id(id)
                    .one(tx.conn())
                    .await?
                    .ok_or(ApiError::NotFound("assignment"))?;
                if done.rows_affected == 0 {
                    return Err(stale(after.version));
                }
                let v = village::Entity::find_by_id(after.village_id)
                    .one(tx.conn())
                    .await?
                    .ok_or(ApiError::NotFound("village"))?;
                tx.audit(
                    "assignment",
                    id,
                    Some(v.district_id),
                    Some(&before),
                    Some(&after),
                )
                .await?;
                tx.emit(NewEvent::assignment(
                    "assignment.ended",
                    &after,
                    &v,
                    changed_fields(&before, &after),
                ));
                Ok(after)
            })
        })
        .await
    }
}

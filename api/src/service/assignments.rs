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

use super::{Service, filters::active_assignment_on, write::Begun};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        Event,
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

impl Service {
    fn assignment_writer(&self) -> ApiResult<()> {
        self.require(Scope::AssignmentsWrite)?;
        if !matches!(
            self.principal().role,
            Role::StateAdmin | Role::DistrictCoordinator
        ) {
            return Err(ApiError::Forbidden {
                needs: "a coordinator or administrator to manage assignments".into(),
            });
        }
        Ok(())
    }

    /// Assigns a partner to villages (listed, or every village of a GP or block within reach).
    /// Villages it already holds for the theme over the period are returned, not duplicated.
    pub async fn assign_partner(
        &self,
        new: NewAssignment,
        key: Option<&str>,
    ) -> ApiResult<Vec<assignment::Model>> {
        self.assignment_writer()?;
        if new.ends_on.is_some_and(|e| e < new.starts_on) {
            return Err(ApiError::bad_input(
                "input.endsOn",
                "an assignment cannot end before it starts",
            ));
        }
        let org = organisation::Entity::find_by_id(new.organisation)
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::bad_input("input.organisation", "no such organisation"))?;
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
            AssignmentTarget::Block(b) => Condition::all().add(village::Column::BlockId.eq(*b)),
        };
        let villages = self
            .scoped::<village::Entity>()?
            .filter(cond)
            .all(self.db())
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
        let mut tx = match self
            .begin::<Vec<assignment::Model>>("assignPartner", key)
            .await?
        {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
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
            tx.emit(Event::Village {
                village_id: v.id,
                version: v.version,
                change: "assigned".into(),
            });
            tx.record(NewEvent::assignment(
                "assignment.created",
                &a,
                v,
                all_fields(&a),
            ));
            out.push(a);
        }
        tx.commit(&out).await?;
        Ok(out)
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
        self.assignment_writer()?;
        let before = self
            .by_id::<assignment::Entity>(id)
            .await?
            .ok_or(ApiError::NotFound("assignment"))?;
        let last_day = ends_on.unwrap_or_else(|| {
            self.today()
                .checked_sub_days(Days::new(1))
                .unwrap_or(self.today())
        });
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
        if !active_assignment_on(&before, self.today())
            && before.ends_on.is_some_and(|e| e < self.today())
        {
            return Err(ApiError::bad_input(
                "id",
                "the assignment has already ended",
            ));
        }
        if expected != before.version {
            return Err(ApiError::Conflict {
                message: format!(
                    "the assignment changed since you read it; it is now at version {}",
                    before.version
                ),
                current_version: Some(before.version),
            });
        }
        let mut tx = match self
            .begin::<assignment::Model>("endAssignment", key)
            .await?
        {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
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
            return Err(ApiError::Conflict {
                message: format!(
                    "the assignment changed since you read it; it is now at version {}",
                    after.version
                ),
                current_version: Some(after.version),
            });
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
        tx.record(NewEvent::assignment(
            "assignment.ended",
            &after,
            &v,
            changed_fields(&before, &after),
        ));
        tx.emit(Event::Village {
            village_id: after.village_id,
            version: 0,
            change: "assignment ended".into(),
        });
        tx.commit(&after).await?;
        Ok(after)
    }
}

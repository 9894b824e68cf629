//! Row scope: the one place that decides which rows a principal can reach (`ACCESS.md`).
//!
//! Every query in the service layer starts from [`Service::scoped`](super::Service::scoped),
//! which applies [`Scoped::reach`]. Lists, `node(id)` lookups, DataLoaders, aggregates and
//! searches all go through it, so a row outside a principal's reach does not exist for it.

use chrono::NaiveDate;
use entities::*;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};

use crate::principal::{Jurisdiction, Principal, Role};

/// An entity whose rows are limited by row scope.
pub trait Scoped: EntityTrait<Model: Clone + Send + Sync> {
    fn id_column() -> Self::Column;
    fn row_id(model: &Self::Model) -> i64;
    /// The condition that keeps this table's rows within `reach`.
    fn reach(reach: &Reach<'_>) -> Condition;
}

/// A principal's reach on a given day (assignments are active by date).
pub struct Reach<'a> {
    who: &'a Principal,
    today: NaiveDate,
}

fn nothing() -> Condition {
    Condition::all().add(Expr::val(1).eq(0))
}

fn select_where<C: ColumnTrait>(column: C, cond: Condition) -> SelectStatement {
    Query::select()
        .column(column)
        .from(column.entity_name())
        .cond_where(cond)
        .to_owned()
}

impl<'a> Reach<'a> {
    pub fn new(who: &'a Principal, today: NaiveDate) -> Self {
        Self { who, today }
    }

    pub fn principal(&self) -> &Principal {
        self.who
    }

    fn partner(&self) -> bool {
        self.who.role == Role::Partner
    }

    /// Villages covered today by an active assignment of the partner's organisation.
    fn assigned_villages(&self) -> Condition {
        let Some(org) = self.who.organisation_id else {
            return nothing();
        };
        let active = Condition::all()
            .add(assignment::Column::OrganisationId.eq(org))
            .add(assignment::Column::StartsOn.lte(self.today))
            .add(
                Condition::any()
                    .add(assignment::Column::EndsOn.is_null())
                    .add(assignment::Column::EndsOn.gte(self.today)),
            );
        Condition::all().add(
            village::Column::Id.in_subquery(select_where(assignment::Column::VillageId, active)),
        )
    }

    /// Which villages this principal reaches; empty when it reaches all of them.
    pub fn villages(&self) -> Condition {
        let mut cond = match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(village::Column::StateId.is_in(s.iter().copied()))
            }
            Jurisdiction::Districts(d) => {
                Condition::all().add(village::Column::DistrictId.is_in(d.iter().copied()))
            }
        };
        if self.partner() {
            cond = cond.add(self.assigned_villages());
        }
        cond
    }

    /// `column IN (ids of reachable villages)`, or no condition when every village is reachable.
    fn via_villages<C: ColumnTrait>(&self, column: C) -> Condition {
        let villages = self.villages();
        if villages.is_empty() {
            return Condition::all();
        }
        Condition::all().add(column.in_subquery(select_where(village::Column::Id, villages)))
    }

    /// Areas are reachable to a partner when they hold one of its villages.
    fn area_via_villages<C: ColumnTrait, V: ColumnTrait>(&self, id: C, village_col: V) -> Condition {
        Condition::all().add(id.in_subquery(select_where(village_col, self.villages())))
    }

    fn districts(&self) -> Condition {
        if self.partner() {
            return self.area_via_villages(district::Column::Id, village::Column::DistrictId);
        }
        match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(district::Column::StateId.is_in(s.iter().copied()))
            }
            Jurisdiction::Districts(d) => {
                Condition::all().add(district::Column::Id.is_in(d.iter().copied()))
            }
        }
    }

    /// `column IN (ids of reachable districts)`.
    fn via_districts<C: ColumnTrait>(&self, column: C) -> Condition {
        let districts = self.districts();
        if districts.is_empty() {
            return Condition::all();
        }
        Condition::all().add(column.in_subquery(select_where(district::Column::Id, districts)))
    }

    fn tasks(&self) -> Condition {
        let mut cond = match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(task::Column::StateId.is_in(s.iter().copied()))
            }
            Jurisdiction::Districts(d) => {
                Condition::all().add(task::Column::DistrictId.is_in(d.iter().copied()))
            }
        };
        let org = self.who.organisation_id;
        match (self.who.role, org) {
            (Role::Department, Some(org)) => {
                cond = cond.add(
                    Condition::any()
                        .add(task::Column::AssigneeOrganisationId.eq(org))
                        .add(task::Column::RaisedByOrganisationId.eq(org)),
                );
            }
            (Role::Partner, Some(org)) => {
                let on_assigned = select_where(village::Column::Id, self.villages());
                cond = cond.add(
                    Condition::any()
                        .add(task::Column::AssigneeOrganisationId.eq(org))
                        .add(task::Column::VillageId.in_subquery(on_assigned)),
                );
            }
            (Role::Department | Role::Partner, None) => cond = nothing(),
            _ => {}
        }
        cond
    }
}

macro_rules! keyed {
    ($($m:ident),* $(,)?) => {$(
        impl Scoped for $m::Entity {
            fn id_column() -> Self::Column {
                $m::Column::Id
            }
            fn row_id(model: &Self::Model) -> i64 {
                model.id
            }
            fn reach(reach: &Reach<'_>) -> Condition {
                reach.$m()
            }
        }
    )*};
}

keyed!(
    state,
    division,
    district,
    block,
    gram_panchayat,
    village,
    scheme,
    organisation,
    assignment,
    task,
    task_event,
    water_quality_test,
    water_quality_result,
    hgj_report,
    hgj_certification,
    audit_log,
);

/// Per-table reach, named after the entity modules so `keyed!` can find them.
impl Reach<'_> {
    fn state(&self) -> Condition {
        if self.partner() {
            return self.area_via_villages(state::Column::Id, village::Column::StateId);
        }
        match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(state::Column::Id.is_in(s.iter().copied()))
            }
            Jurisdiction::Districts(_) => Condition::all().add(
                state::Column::Id
                    .in_subquery(select_where(district::Column::StateId, self.districts())),
            ),
        }
    }

    fn division(&self) -> Condition {
        match (&self.who.jurisdiction, self.partner()) {
            (Jurisdiction::All, false) => Condition::all(),
            (Jurisdiction::States(s), false) => {
                Condition::all().add(division::Column::StateId.is_in(s.iter().copied()))
            }
            _ => Condition::all().add(
                division::Column::Id
                    .in_subquery(select_where(district::Column::DivisionId, self.districts())),
            ),
        }
    }

    fn district(&self) -> Condition {
        self.districts()
    }

    fn block(&self) -> Condition {
        if self.partner() {
            return self.area_via_villages(block::Column::Id, village::Column::BlockId);
        }
        self.via_districts(block::Column::DistrictId)
    }

    fn gram_panchayat(&self) -> Condition {
        if self.partner() {
            return self
                .area_via_villages(gram_panchayat::Column::Id, village::Column::GramPanchayatId);
        }
        let blocks = self.block();
        if blocks.is_empty() {
            return Condition::all();
        }
        Condition::all().add(
            gram_panchayat::Column::BlockId.in_subquery(select_where(block::Column::Id, blocks)),
        )
    }

    fn village(&self) -> Condition {
        self.villages()
    }

    fn scheme(&self) -> Condition {
        if self.partner() {
            let links = select_where(
                scheme_village::Column::SchemeId,
                self.via_villages(scheme_village::Column::VillageId),
            );
            return Condition::all().add(scheme::Column::Id.in_subquery(links));
        }
        self.via_districts(scheme::Column::DistrictId)
    }

    /// Organisations (departments and partners) are public facts; their contact details are
    /// personal data and hidden field by field.
    fn organisation(&self) -> Condition {
        Condition::all()
    }

    fn assignment(&self) -> Condition {
        let mut cond = self.via_villages(assignment::Column::VillageId);
        if self.partner() {
            // A partner sees its own assignments, not its peers' on the same village.
            cond = cond.add(match self.who.organisation_id {
                Some(org) => assignment::Column::OrganisationId.eq(org),
                None => Expr::val(1).eq(0),
            });
        }
        cond
    }

    fn task(&self) -> Condition {
        self.tasks()
    }

    fn task_event(&self) -> Condition {
        let tasks = self.tasks();
        if tasks.is_empty() {
            return Condition::all();
        }
        Condition::all()
            .add(task_event::Column::TaskId.in_subquery(select_where(task::Column::Id, tasks)))
    }

    fn water_quality_test(&self) -> Condition {
        self.via_villages(water_quality_test::Column::VillageId)
    }

    fn water_quality_result(&self) -> Condition {
        let tests = self.water_quality_test();
        if tests.is_empty() {
            return Condition::all();
        }
        Condition::all().add(
            water_quality_result::Column::TestId
                .in_subquery(select_where(water_quality_test::Column::Id, tests)),
        )
    }

    fn hgj_report(&self) -> Condition {
        self.via_villages(hgj_report::Column::VillageId)
    }

    fn hgj_certification(&self) -> Condition {
        self.via_villages(hgj_certification::Column::VillageId)
    }

    /// State administrators read the whole trail; everyone else reads its own actions.
    fn audit_log(&self) -> Condition {
        if self.who.role == Role::StateAdmin {
            return Condition::all();
        }
        Condition::all().add(audit_log::Column::ActorSub.eq(self.who.sub.clone()))
    }
}

/// Organisation themes hang off public organisations; scheme-village links off villages.
impl Scoped for organisation_theme::Entity {
    fn id_column() -> Self::Column {
        organisation_theme::Column::OrganisationId
    }
    fn row_id(model: &Self::Model) -> i64 {
        model.organisation_id
    }
    fn reach(_: &Reach<'_>) -> Condition {
        Condition::all()
    }
}

impl Scoped for scheme_village::Entity {
    fn id_column() -> Self::Column {
        scheme_village::Column::VillageId
    }
    fn row_id(model: &Self::Model) -> i64 {
        model.village_id
    }
    fn reach(reach: &Reach<'_>) -> Condition {
        reach.via_villages(scheme_village::Column::VillageId)
    }
}

/// Whether the principal may read personal data (names, phone numbers, free-text comments).
pub fn sees_personal_data(who: &Principal) -> bool {
    who.role != Role::Dashboard
}

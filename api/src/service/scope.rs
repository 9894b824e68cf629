//! Row scope: the one place that decides which rows a principal can reach (`ACCESS.md`).
//!
//! Every query in the service layer starts from [`Service::scoped`](super::Service::scoped),
//! which applies [`Scoped::reach`]. Lists, `node(id)` lookups, DataLoaders, aggregates and
//! searches all go through it, so a row outside a principal's reach does not exist for it.

use chrono::NaiveDate;
use entities::*;
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait,
    sea_query::{Expr, ExprTrait, Query, SelectStatement},
};

use crate::{
    error::ApiError,
    principal::{Jurisdiction, Principal, Role, Scope},
};

/// An entity whose rows are limited by row scope.
pub trait Scoped: EntityTrait<Model: Clone + Send + Sync> {
    /// The scope a token needs to read these rows.
    const READ: Scope;
    fn id_column() -> Self::Column;
    fn row_id(model: &Self::Model) -> i64;
    /// The condition that keeps this table's rows within `reach`.
    fn reach(reach: &Reach<'_>) -> Condition;
    /// Whether the role may read rows of this table at all (ACCESS.md's matrix).
    fn readable_by(role: Role) -> bool {
        let _ = role;
        true
    }
}

/// Role and scope allow reading `E` (the first two of ACCESS.md's three tests; `reach` is the third).
pub fn may_read<E: Scoped>(who: &Principal) -> Result<(), ApiError> {
    if !E::readable_by(who.role) {
        return Err(ApiError::Forbidden {
            needs: format!("a role other than {}", who.role.as_str()),
        });
    }
    if !who.has_scope(E::READ) {
        return Err(ApiError::Forbidden {
            needs: E::READ.as_str().to_owned(),
        });
    }
    Ok(())
}

/// A principal's reach on a given day (assignments are active by date).
pub struct Reach<'a> {
    who: &'a Principal,
    today: NaiveDate,
    backend: DbBackend,
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

/// `outer` refers to a row of `key`'s table that meets `cond`: a correlated `EXISTS`, answered
/// by one key lookup per outer row. For a large reach (a state's villages or tasks) this is
/// what both backends need: given `outer IN (SELECT key …)`, SQLite first lists the whole reach
/// (16 ms at state scale to scope one water-quality result, against 0.01 ms this way).
fn exists_where<O: ColumnTrait, K: ColumnTrait>(outer: O, key: K, cond: Condition) -> Condition {
    let lookup = Query::select()
        .expr(Expr::val(1))
        .from(key.entity_name())
        .cond_where(
            Condition::all()
                .add(Expr::col(key.as_column_ref()).equals(outer.as_column_ref()))
                .add(cond),
        )
        .to_owned();
    Condition::all().add(Expr::exists(lookup))
}

/// Database ids of the states (or districts) with these LGD codes.
fn state_ids(codes: &[i32]) -> SelectStatement {
    select_where(
        state::Column::Id,
        Condition::all().add(state::Column::LgdCode.is_in(codes.iter().copied())),
    )
}

fn district_ids(codes: &[i32]) -> SelectStatement {
    select_where(
        district::Column::Id,
        Condition::all().add(district::Column::LgdCode.is_in(codes.iter().copied())),
    )
}

impl<'a> Reach<'a> {
    pub fn new(who: &'a Principal, today: NaiveDate, backend: DbBackend) -> Self {
        Self {
            who,
            today,
            backend,
        }
    }

    fn partner(&self) -> bool {
        self.who.role == Role::Partner
    }

    /// An inspection agency reaches the schemes it is assigned to inspect, and no village.
    fn inspector(&self) -> bool {
        self.who.role == Role::InspectionAgency
    }

    /// Whether the principal reaches whole districts: every village and scheme of each
    /// district it reaches, so per-district rollups can answer for it.
    pub fn whole_districts(&self) -> bool {
        !self.partner() && !self.inspector()
    }

    /// Whether it also sees every task of those districts (a department sees only its own).
    pub fn all_tasks_of_districts(&self) -> bool {
        !matches!(
            self.who.role,
            Role::Department | Role::Partner | Role::InspectionAgency
        )
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
        let assigned = select_where(assignment::Column::VillageId, active);
        if self.backend == DbBackend::Postgres {
            // Under a page's LIMIT, PostgreSQL answers `id IN (SELECT …)` with a merge join that
            // walks the village key from the start until the page is full (1.8 ms for a
            // partner's first 50 of 245 villages at state scale). An array of the partner's
            // villages, built once and probed through the key in order, takes 0.25 ms.
            let list = Expr::SubQuery(None, Box::new(assigned.into()));
            let id = Expr::col((village::Entity, village::Column::Id));
            return Condition::all().add(Expr::cust_with_exprs("$1 = ANY(ARRAY $2)", [id, list]));
        }
        Condition::all().add(village::Column::Id.in_subquery(assigned))
    }

    /// Which villages this principal reaches; empty when it reaches all of them.
    pub fn villages(&self) -> Condition {
        let mut cond = match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(village::Column::StateId.in_subquery(state_ids(s)))
            }
            Jurisdiction::Districts(d) => {
                Condition::all().add(village::Column::DistrictId.in_subquery(district_ids(d)))
            }
        };
        if self.partner() {
            cond = cond.add(self.assigned_villages());
        }
        if self.inspector() {
            cond = nothing();
        }
        cond
    }

    /// `column` names a reachable village (no condition when every village is reachable).
    fn via_villages<C: ColumnTrait>(&self, column: C) -> Condition {
        let villages = self.villages();
        if villages.is_empty() {
            return Condition::all();
        }
        if self.partner() {
            // A partner's villages are a short list (its assignments): list them once.
            return Condition::all()
                .add(column.in_subquery(select_where(village::Column::Id, villages)));
        }
        exists_where(column, village::Column::Id, villages)
    }

    /// Areas are reachable to a partner when they hold one of its villages.
    fn area_via_villages<C: ColumnTrait, V: ColumnTrait>(
        &self,
        id: C,
        village_col: V,
    ) -> Condition {
        Condition::all().add(id.in_subquery(select_where(village_col, self.villages())))
    }

    fn districts(&self) -> Condition {
        if self.partner() {
            return self.area_via_villages(district::Column::Id, village::Column::DistrictId);
        }
        if self.inspector() {
            let of_schemes = select_where(scheme::Column::DistrictId, self.inspected_schemes());
            return Condition::all().add(district::Column::Id.in_subquery(of_schemes));
        }
        match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(district::Column::StateId.in_subquery(state_ids(s)))
            }
            Jurisdiction::Districts(d) => {
                Condition::all().add(district::Column::LgdCode.is_in(d.iter().copied()))
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
        let jurisdiction = match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(task::Column::StateId.in_subquery(state_ids(s)))
            }
            Jurisdiction::Districts(d) => {
                Condition::all().add(task::Column::DistrictId.in_subquery(district_ids(d)))
            }
        };
        if let (Role::Partner, Some(org)) = (self.who.role, self.who.organisation_id) {
            let on_assigned = select_where(village::Column::Id, self.villages());
            return jurisdiction.add(
                Condition::any()
                    .add(task::Column::AssigneeOrganisationId.eq(org))
                    .add(task::Column::VillageId.in_subquery(on_assigned)),
            );
        }
        let own = self.own_tasks();
        // An empty condition added is no longer empty: `task_event` asks `is_empty()`.
        if own.is_empty() {
            return jurisdiction;
        }
        jurisdiction.add(own)
    }

    /// What a role that sees only its organisation's tasks adds to the jurisdiction: a
    /// department (or inspection agency) the tasks assigned to it or raised by it; nothing at
    /// all without an organisation. No condition for the roles that see every task of their
    /// districts. (A partner's rule, which also looks at its villages, is in [`Self::tasks`].)
    fn own_tasks(&self) -> Condition {
        match (self.who.role, self.who.organisation_id) {
            (Role::Department | Role::InspectionAgency, Some(org)) => Condition::any()
                .add(task::Column::AssigneeOrganisationId.eq(org))
                .add(task::Column::RaisedByOrganisationId.eq(org)),
            (Role::Department | Role::Partner | Role::InspectionAgency, None) => nothing(),
            _ => Condition::all(),
        }
    }
}

/// Rows that hang off a village (directly, or through a row that does), read together with a
/// village the principal has just been found to reach: the look-ahead's reads
/// (`service/preload.rs`) join them to a village selected under [`Scoped::reach`], or read
/// them for the villages of a page read so. For such a row, `reach_beneath` is what is left of
/// [`Scoped::reach`] once its village is known to be reachable, so that the reads do not
/// repeat the village's test on every child (PostgreSQL planned S1's two statements in
/// 1–3 ms, and re-planned them on each request, with the test repeated).
pub trait BeneathVillage: Scoped {
    fn reach_beneath(reach: &Reach<'_>) -> Condition;
}

/// Tests are reached through their village and nothing else.
impl BeneathVillage for water_quality_test::Entity {
    fn reach_beneath(_: &Reach<'_>) -> Condition {
        Condition::all()
    }
}

/// Results are reached through their test, so through the test's village.
impl BeneathVillage for water_quality_result::Entity {
    fn reach_beneath(_: &Reach<'_>) -> Condition {
        Condition::all()
    }
}

/// A village's scheme links are reached through the village.
impl BeneathVillage for scheme_village::Entity {
    fn reach_beneath(_: &Reach<'_>) -> Condition {
        Condition::all()
    }
}

/// A scheme linked to a reached village: a partner reaches every scheme of its villages; for
/// every other role a scheme is reached by its implementing district, which need not be the
/// village's (a multi-village scheme run from the next district), so the whole rule stays.
impl BeneathVillage for scheme::Entity {
    fn reach_beneath(reach: &Reach<'_>) -> Condition {
        if reach.partner() {
            return Condition::all();
        }
        reach.scheme()
    }
}

/// A village's task carries the village's state and district (task creation copies them, and
/// imports that move a village move its tasks in the same transaction: the integration test
/// `imports::tasks_and_schemes_follow_villages_that_lgd_moved`), so the jurisdiction
/// test on the village is the test on the task; a partner's tasks of its own villages are its
/// own. What remains is a department's (or agency's) "assigned to or raised by us".
impl BeneathVillage for task::Entity {
    fn reach_beneath(reach: &Reach<'_>) -> Condition {
        if reach.partner() && reach.who.organisation_id.is_some() {
            return Condition::all();
        }
        reach.own_tasks()
    }
}

macro_rules! keyed {
    ($($m:ident: $scope:ident),* $(,)?) => {$(
        impl Scoped for $m::Entity {
            const READ: Scope = Scope::$scope;
            fn readable_by(role: Role) -> bool {
                readable(stringify!($m), role)
            }
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
    state: VillagesRead,
    division: VillagesRead,
    district: VillagesRead,
    block: VillagesRead,
    gram_panchayat: VillagesRead,
    village: VillagesRead,
    scheme: VillagesRead,
    organisation: VillagesRead,
    assignment: AssignmentsRead,
    task: TasksRead,
    task_event: TasksRead,
    task_evidence: TasksRead,
    water_quality_test: QualityRead,
    water_quality_result: QualityRead,
    hgj_report: VillagesRead,
    hgj_certification: VillagesRead,
    audit_log: AuditRead,
    scheme_component: VillagesRead,
    scheme_progress: VillagesRead,
    scheme_inspection: VillagesRead,
    inspection_finding: VillagesRead,
    scheme_handover: VillagesRead,
    scheme_inspector: VillagesRead,
);

/// Dashboards read aggregates and public facts: task rows (they get counts), who works where,
/// and the audit trail are not theirs. The anonymous public reader gets less still: the areas
/// and their villages (names and coverage, what national JJM dashboards publish) and the
/// progress aggregates; no scheme, organisation, test, report or task.
fn readable(table: &str, role: Role) -> bool {
    match role {
        Role::Dashboard => !matches!(
            table,
            "task"
                | "task_event"
                | "task_evidence"
                | "assignment"
                | "audit_log"
                | "scheme_inspector"
        ),
        Role::Public => matches!(
            table,
            "state" | "division" | "district" | "block" | "gram_panchayat" | "village"
        ),
        // An inspection agency reads its schemes, their works and the tasks it raised; no
        // village, test, report or partner assignment.
        Role::InspectionAgency => !matches!(
            table,
            "block"
                | "gram_panchayat"
                | "village"
                | "scheme_village"
                | "assignment"
                | "water_quality_test"
                | "water_quality_result"
                | "hgj_report"
                | "hgj_certification"
        ),
        _ => true,
    }
}

/// Per-table reach, named after the entity modules so `keyed!` can find them.
impl Reach<'_> {
    fn state(&self) -> Condition {
        if self.partner() {
            return self.area_via_villages(state::Column::Id, village::Column::StateId);
        }
        if self.inspector() {
            return Condition::all().add(
                state::Column::Id
                    .in_subquery(select_where(district::Column::StateId, self.districts())),
            );
        }
        match &self.who.jurisdiction {
            Jurisdiction::All => Condition::all(),
            Jurisdiction::States(s) => {
                Condition::all().add(state::Column::LgdCode.is_in(s.iter().copied()))
            }
            Jurisdiction::Districts(_) => Condition::all().add(
                state::Column::Id
                    .in_subquery(select_where(district::Column::StateId, self.districts())),
            ),
        }
    }

    fn division(&self) -> Condition {
        match (&self.who.jurisdiction, self.partner() || self.inspector()) {
            (Jurisdiction::All, false) => Condition::all(),
            (Jurisdiction::States(s), false) => {
                Condition::all().add(division::Column::StateId.in_subquery(state_ids(s)))
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
        if self.inspector() {
            return self.inspected_schemes();
        }
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
        exists_where(task_event::Column::TaskId, task::Column::Id, tasks)
    }

    fn task_evidence(&self) -> Condition {
        let tasks = self.tasks();
        if tasks.is_empty() {
            return Condition::all();
        }
        exists_where(task_evidence::Column::TaskId, task::Column::Id, tasks)
    }

    fn water_quality_test(&self) -> Condition {
        self.via_villages(water_quality_test::Column::VillageId)
    }

    fn water_quality_result(&self) -> Condition {
        let tests = self.water_quality_test();
        if tests.is_empty() {
            return Condition::all();
        }
        exists_where(
            water_quality_result::Column::TestId,
            water_quality_test::Column::Id,
            tests,
        )
    }

    fn hgj_report(&self) -> Condition {
        self.via_villages(hgj_report::Column::VillageId)
    }

    fn hgj_certification(&self) -> Condition {
        self.via_villages(hgj_certification::Column::VillageId)
    }

    /// Administrators and coordinators read the trail of their jurisdiction; everyone else
    /// reads its own actions.
    fn audit_log(&self) -> Condition {
        match self.who.role {
            Role::StateAdmin | Role::DistrictCoordinator => {
                let districts = self.districts();
                if districts.is_empty() {
                    return Condition::all();
                }
                Condition::all().add(
                    audit_log::Column::DistrictId
                        .in_subquery(select_where(district::Column::Id, districts)),
                )
            }
            _ => Condition::all().add(audit_log::Column::ActorSub.eq(self.who.sub.clone())),
        }
    }
}

/// Scheme works (components, progress, inspections, findings, handover) hang off their scheme;
/// an inspection agency reaches the schemes of its active inspection assignments.
impl Reach<'_> {
    /// Schemes the inspection agency is assigned to inspect today, within its jurisdiction.
    fn inspected_schemes(&self) -> Condition {
        let Some(org) = self.who.organisation_id else {
            return nothing();
        };
        let active = Condition::all()
            .add(scheme_inspector::Column::OrganisationId.eq(org))
            .add(scheme_inspector::Column::StartsOn.lte(self.today))
            .add(
                Condition::any()
                    .add(scheme_inspector::Column::EndsOn.is_null())
                    .add(scheme_inspector::Column::EndsOn.gte(self.today)),
            );
        let mut cond = Condition::all().add(
            scheme::Column::Id
                .in_subquery(select_where(scheme_inspector::Column::SchemeId, active)),
        );
        match &self.who.jurisdiction {
            Jurisdiction::All => {}
            Jurisdiction::States(s) => {
                let in_states = select_where(
                    district::Column::Id,
                    Condition::all().add(district::Column::StateId.in_subquery(state_ids(s))),
                );
                cond = cond.add(scheme::Column::DistrictId.in_subquery(in_states));
            }
            Jurisdiction::Districts(d) => {
                cond = cond.add(scheme::Column::DistrictId.in_subquery(district_ids(d)));
            }
        }
        cond
    }

    /// `column` names a reachable scheme (no condition when every scheme is reachable).
    fn via_schemes<C: ColumnTrait>(&self, column: C) -> Condition {
        let schemes = self.scheme();
        if schemes.is_empty() {
            return Condition::all();
        }
        exists_where(column, scheme::Column::Id, schemes)
    }

    fn scheme_component(&self) -> Condition {
        self.via_schemes(scheme_component::Column::SchemeId)
    }

    fn scheme_progress(&self) -> Condition {
        self.via_schemes(scheme_progress::Column::SchemeId)
    }

    fn scheme_inspection(&self) -> Condition {
        self.via_schemes(scheme_inspection::Column::SchemeId)
    }

    fn inspection_finding(&self) -> Condition {
        self.via_schemes(inspection_finding::Column::SchemeId)
    }

    fn scheme_handover(&self) -> Condition {
        self.via_schemes(scheme_handover::Column::SchemeId)
    }

    /// Who inspects a scheme: everyone who reads the scheme, except that an agency sees only
    /// its own assignments.
    fn scheme_inspector(&self) -> Condition {
        let mut cond = self.via_schemes(scheme_inspector::Column::SchemeId);
        if self.inspector() {
            cond = cond.add(match self.who.organisation_id {
                Some(org) => scheme_inspector::Column::OrganisationId.eq(org),
                None => Expr::val(1).eq(0),
            });
        }
        cond
    }
}

/// Organisation themes hang off public organisations; scheme-village links off villages.
impl Scoped for organisation_theme::Entity {
    const READ: Scope = Scope::VillagesRead;
    fn readable_by(role: Role) -> bool {
        readable("organisation_theme", role)
    }
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

/// A water-quality task's links to its tests are read with the task.
impl Scoped for task_test_link::Entity {
    const READ: Scope = Scope::TasksRead;
    fn readable_by(role: Role) -> bool {
        readable("task", role)
    }
    fn id_column() -> Self::Column {
        task_test_link::Column::TaskId
    }
    fn row_id(model: &Self::Model) -> i64 {
        model.task_id
    }
    fn reach(reach: &Reach<'_>) -> Condition {
        Condition::all().add(
            task_test_link::Column::TaskId
                .in_subquery(select_where(task::Column::Id, reach.task())),
        )
    }
}

impl Scoped for scheme_village::Entity {
    const READ: Scope = Scope::VillagesRead;
    fn readable_by(role: Role) -> bool {
        readable("scheme_village", role)
    }
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

/// A webhook, its deliveries and their attempts belong to the principal that registered it
/// (ACCESS.md: "a webhook belongs to the client that registered it"), whatever its role.
impl Reach<'_> {
    fn own_webhooks(&self) -> SelectStatement {
        select_where(
            webhook::Column::Id,
            Condition::all().add(webhook::Column::OwnerSub.eq(self.who.sub.clone())),
        )
    }

    fn own_deliveries(&self) -> SelectStatement {
        select_where(
            webhook_delivery::Column::Id,
            Condition::all()
                .add(webhook_delivery::Column::WebhookId.in_subquery(self.own_webhooks())),
        )
    }
}

impl Scoped for webhook::Entity {
    const READ: Scope = Scope::WebhooksWrite;
    fn id_column() -> Self::Column {
        webhook::Column::Id
    }
    fn row_id(model: &Self::Model) -> i64 {
        model.id
    }
    fn reach(reach: &Reach<'_>) -> Condition {
        Condition::all().add(webhook::Column::OwnerSub.eq(reach.who.sub.clone()))
    }
}

impl Scoped for webhook_delivery::Entity {
    const READ: Scope = Scope::WebhooksWrite;
    fn id_column() -> Self::Column {
        webhook_delivery::Column::Id
    }
    fn row_id(model: &Self::Model) -> i64 {
        model.id
    }
    fn reach(reach: &Reach<'_>) -> Condition {
        Condition::all().add(webhook_delivery::Column::WebhookId.in_subquery(reach.own_webhooks()))
    }
}

impl Scoped for webhook_attempt::Entity {
    const READ: Scope = Scope::WebhooksWrite;
    fn id_column() -> Self::Column {
        webhook_attempt::Column::Id
    }
    fn row_id(model: &Self::Model) -> i64 {
        model.id
    }
    fn reach(reach: &Reach<'_>) -> Condition {
        Condition::all()
            .add(webhook_attempt::Column::DeliveryId.in_subquery(reach.own_deliveries()))
    }
}

/// Whether a row in the state and district with these LGD codes is within the principal's
/// jurisdiction, for writes that name rows by code (imports); `district` is `None` for a row
/// above the districts (a state, or a district being created).
pub fn may_write_in(who: &Principal, state: i32, district: Option<i32>) -> bool {
    match &who.jurisdiction {
        Jurisdiction::All => true,
        Jurisdiction::States(s) => s.contains(&state),
        Jurisdiction::Districts(d) => district.is_some_and(|x| d.contains(&x)),
    }
}

/// Whether the principal may read personal data (names, phone numbers, free-text comments).
pub fn sees_personal_data(who: &Principal) -> bool {
    !matches!(who.role, Role::Dashboard | Role::Public)
}

#[cfg(test)]
mod tests {
    use sea_orm::{QueryFilter, QueryTrait};

    use super::*;

    fn partner_villages_sql(backend: DbBackend) -> String {
        let mut who = Principal::all_access();
        who.role = Role::Partner;
        who.organisation_id = Some(7);
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        let reach = Reach::new(&who, today, backend);
        village::Entity::find()
            .filter(reach.villages())
            .build(backend)
            .to_string()
    }

    #[test]
    fn a_partners_villages_are_an_array_probe_on_postgres_and_a_subquery_on_sqlite() {
        let pg = partner_villages_sql(DbBackend::Postgres);
        assert!(
            pg.contains(r#""village"."id" = ANY(ARRAY (SELECT "village_id" FROM "assignment""#),
            "{pg}"
        );
        let lite = partner_villages_sql(DbBackend::Sqlite);
        assert!(
            lite.contains(r#""village"."id" IN (SELECT "village_id" FROM "assignment""#),
            "{lite}"
        );
    }
}

//! Areas of the administrative hierarchy, and what lies within one.

use entities::*;
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Query, SelectStatement},
};

/// A level of the hierarchy, from the top down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, async_graphql::Enum)]
pub enum AreaLevel {
    State,
    Division,
    District,
    Block,
    GramPanchayat,
}

/// One area: a state, division, district, block or gram panchayat (by database id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Area {
    pub level: AreaLevel,
    pub id: i64,
}

fn ids<C: ColumnTrait>(column: C, cond: Condition) -> SelectStatement {
    Query::select()
        .column(column)
        .from(column.entity_name())
        .cond_where(cond)
        .to_owned()
}

fn one<C: ColumnTrait>(column: C, id: i64) -> Condition {
    Condition::all().add(column.eq(id))
}

impl Area {
    pub fn new(level: AreaLevel, id: i64) -> Self {
        Self { level, id }
    }

    /// Villages within this area.
    pub fn villages(&self) -> Condition {
        match self.level {
            AreaLevel::State => one(village::Column::StateId, self.id),
            AreaLevel::Division => {
                Condition::all().add(village::Column::DistrictId.in_subquery(ids(
                    district::Column::Id,
                    one(district::Column::DivisionId, self.id),
                )))
            }
            AreaLevel::District => one(village::Column::DistrictId, self.id),
            AreaLevel::Block => one(village::Column::BlockId, self.id),
            AreaLevel::GramPanchayat => one(village::Column::GramPanchayatId, self.id),
        }
    }

    /// Districts within this area (or, for a lower area, the district that holds it).
    pub fn districts(&self) -> Condition {
        match self.level {
            AreaLevel::State => one(district::Column::StateId, self.id),
            AreaLevel::Division => one(district::Column::DivisionId, self.id),
            AreaLevel::District => one(district::Column::Id, self.id),
            _ => Condition::all().add(
                district::Column::Id.in_subquery(ids(village::Column::DistrictId, self.villages())),
            ),
        }
    }

    pub fn states(&self) -> Condition {
        match self.level {
            AreaLevel::State => one(state::Column::Id, self.id),
            _ => Condition::all().add(
                state::Column::Id.in_subquery(ids(district::Column::StateId, self.districts())),
            ),
        }
    }

    pub fn divisions(&self) -> Condition {
        match self.level {
            AreaLevel::State => one(division::Column::StateId, self.id),
            AreaLevel::Division => one(division::Column::Id, self.id),
            _ => Condition::all().add(
                division::Column::Id
                    .in_subquery(ids(district::Column::DivisionId, self.districts())),
            ),
        }
    }

    pub fn blocks(&self) -> Condition {
        match self.level {
            AreaLevel::State | AreaLevel::Division => Condition::all().add(
                block::Column::DistrictId.in_subquery(ids(district::Column::Id, self.districts())),
            ),
            AreaLevel::District => one(block::Column::DistrictId, self.id),
            AreaLevel::Block => one(block::Column::Id, self.id),
            AreaLevel::GramPanchayat => Condition::all().add(
                block::Column::Id
                    .in_subquery(ids(gram_panchayat::Column::BlockId, self.gram_panchayats())),
            ),
        }
    }

    pub fn gram_panchayats(&self) -> Condition {
        match self.level {
            AreaLevel::GramPanchayat => one(gram_panchayat::Column::Id, self.id),
            AreaLevel::Block => one(gram_panchayat::Column::BlockId, self.id),
            _ => Condition::all().add(
                gram_panchayat::Column::BlockId.in_subquery(ids(block::Column::Id, self.blocks())),
            ),
        }
    }

    /// Schemes serving at least one village of this area (district-wide for larger areas).
    pub fn schemes(&self) -> Condition {
        match self.level {
            AreaLevel::State | AreaLevel::Division | AreaLevel::District => Condition::all().add(
                scheme::Column::DistrictId.in_subquery(ids(district::Column::Id, self.districts())),
            ),
            AreaLevel::Block | AreaLevel::GramPanchayat => {
                Condition::all().add(scheme::Column::Id.in_subquery(self.scheme_ids_via_villages()))
            }
        }
    }

    fn scheme_ids_via_villages(&self) -> SelectStatement {
        ids(
            scheme_village::Column::SchemeId,
            Condition::all().add(
                scheme_village::Column::VillageId
                    .in_subquery(ids(village::Column::Id, self.villages())),
            ),
        )
    }

    /// Tasks located in this area: on one of its villages, or on a scheme that serves one.
    pub fn tasks(&self) -> Condition {
        match self.level {
            AreaLevel::State => one(task::Column::StateId, self.id),
            AreaLevel::Division | AreaLevel::District => Condition::all().add(
                task::Column::DistrictId.in_subquery(ids(district::Column::Id, self.districts())),
            ),
            AreaLevel::Block | AreaLevel::GramPanchayat => Condition::any()
                .add(task::Column::VillageId.in_subquery(ids(village::Column::Id, self.villages())))
                .add(task::Column::SchemeId.in_subquery(self.scheme_ids_via_villages())),
        }
    }
}

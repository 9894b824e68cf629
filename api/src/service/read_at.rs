//! Reading a model from a result row by column position, for the look-ahead's wide rows
//! (`preload.rs`: a village with its test and results, a page's schemes and tasks).
//!
//! sea-orm's derived `FromQueryResult` finds each column by name: it formats `{prefix}{column}`
//! and hashes it into the row's name map, once per column of every row. For S1's 200 rows of
//! 41 columns that was a quarter of the server's CPU per request (perf, BENCHMARKS.md). These
//! statements select every column of each table in `Column::iter()` order, so the position is
//! known; the test below holds each field list to that order.

use entities::{scheme, task, village, water_quality_result, water_quality_test};
use sea_orm::{DbErr, QueryResult, TryGetable};

/// A model whose columns were selected in `Column::iter()` order, starting at some position.
pub trait ReadAt: Sized {
    /// The model's fields, in the order they are read: `Column::iter()`'s.
    const FIELDS: &'static [&'static str];

    /// The model whose first column (`id`) is at `first`.
    fn read_at(row: &QueryResult, first: usize) -> Result<Self, DbErr>;

    /// As [`ReadAt::read_at`], or `None` when the row holds no such model there (its `id` is
    /// null: an outer join that found nothing, or another branch of a union). A row that is
    /// there but does not decode is an error, never `None`.
    fn optional_at(row: &QueryResult, first: usize) -> Result<Option<Self>, DbErr> {
        match row.try_get_by_index::<Option<i64>>(first)? {
            Some(_) => Self::read_at(row, first).map(Some),
            None => Ok(None),
        }
    }
}

/// The next column of a row.
struct Columns<'r> {
    row: &'r QueryResult,
    at: usize,
}

impl Columns<'_> {
    fn next<T: TryGetable>(&mut self) -> Result<T, DbErr> {
        let value = self.row.try_get_by_index(self.at);
        self.at += 1;
        value
    }
}

macro_rules! read_at {
    ($($m:ident { $($field:ident),* $(,)? })*) => {$(
        impl ReadAt for $m::Model {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn read_at(row: &QueryResult, first: usize) -> Result<Self, DbErr> {
                let mut c = Columns { row, at: first };
                // Struct fields are evaluated in the order written: FIELDS's.
                Ok(Self { $($field: c.next()?),* })
            }
        }
    )*};
}

read_at! {
    village {
        id, lgd_code, imis_id, gram_panchayat_id, block_id, district_id, state_id, name, name_hi,
        search_key, households, tap_connections, hgj_status, latitude, longitude, version,
        updated_at,
    }
    scheme {
        id, code, name, name_hi, scheme_type, status, district_id, implementing_agency,
        estimated_cost_paise, expenditure_paise, sanctioned_on, target_completion_on,
        completed_on, fhtc_target, version, work_order_on, commissioned_on, handed_over_on,
        status_reason, physical_progress_bp, open_findings_minor, open_findings_major,
        open_findings_critical,
    }
    task {
        id, kind, title, description, village_id, scheme_id, district_id, state_id,
        assignee_organisation_id, raised_by_organisation_id, status, priority, due_on,
        created_at, updated_at, version,
    }
    water_quality_test {
        id, village_id, source_name, source_type, sampled_on, method, lab_name, tested_by,
        contaminated, created_at, sample_id,
    }
    water_quality_result {
        id, test_id, parameter, value, unit, exceeds,
    }
}

/// How many columns `M` takes in a row.
pub const fn width<M: ReadAt>() -> usize {
    M::FIELDS.len()
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, IdenStatic, Iterable};

    use super::*;

    fn columns<E: EntityTrait>() -> Vec<&'static str> {
        E::Column::iter().map(|c| c.as_str()).collect()
    }

    /// A field read out of place would take another column's value (two `i32` columns swap
    /// silently), so each list must be the entity's columns in order, `id` first.
    #[test]
    fn fields_are_the_columns_in_select_order() {
        assert_eq!(village::Model::FIELDS, columns::<village::Entity>());
        assert_eq!(scheme::Model::FIELDS, columns::<scheme::Entity>());
        assert_eq!(task::Model::FIELDS, columns::<task::Entity>());
        assert_eq!(
            water_quality_test::Model::FIELDS,
            columns::<water_quality_test::Entity>()
        );
        assert_eq!(
            water_quality_result::Model::FIELDS,
            columns::<water_quality_result::Entity>()
        );
    }
}

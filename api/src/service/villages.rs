//! Village coverage and Har Ghar Jal: reported once every household has a tap, certified by
//! the Gram Sabha after that. The village's status follows these writes.

use chrono::{NaiveDate, Utc};
use entities::{
    enums::{Department, HgjStatus},
    hgj_certification, hgj_report, village, water_quality_result, water_quality_test,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use super::{Service, rollup, write::Tx};
use crate::{
    error::{ApiError, ApiResult},
    events::{change::changed_fields, log::NewEvent},
    principal::{Role, Scope},
};

pub struct CoverageUpdate {
    pub households: i32,
    pub tap_connections: i32,
}

pub struct Report {
    pub reported_on: NaiveDate,
    pub completion_certificate_url: Option<String>,
}

pub struct Certification {
    pub gram_sabha_resolution_date: NaiveDate,
    pub resolution_url: Option<String>,
    pub video_url: Option<String>,
}

fn check_url(field: &str, url: &Option<String>) -> ApiResult<()> {
    match url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() > 2000 => {
            Err(ApiError::bad_input(
                field,
                format!("`{field}` must be an http(s) URL"),
            ))
        }
        _ => Ok(()),
    }
}

/// Coverage and reporting are the implementing side's: coordinators and administrators.
fn certifier(svc: &Service, certify: bool) -> ApiResult<()> {
    svc.require(Scope::CertificationWrite)?;
    let who = svc.principal();
    let ok = match who.role {
        Role::StateAdmin | Role::DistrictCoordinator => true,
        Role::Department => certify && who.department == Some(Department::PanchayatiRaj),
        _ => false,
    };
    if ok {
        Ok(())
    } else if certify {
        Err(ApiError::Forbidden {
            needs: "a coordinator, an administrator or Panchayati Raj to certify".into(),
        })
    } else {
        Err(ApiError::Forbidden {
            needs: "a coordinator or an administrator".into(),
        })
    }
}

fn stale(current: i32) -> ApiError {
    ApiError::Conflict {
        message: format!("the village changed since you read it; it is now at version {current}"),
        current_version: Some(current),
    }
}

/// Why a village's water is not potable now: its latest water-quality test (by sample date,
/// then the order recorded) was contaminated; `None` when it was clean or there is none.
/// Har Ghar Jal means every household has a tap giving water of the prescribed quality (BIS
/// 10500, DOMAIN.md §2.6), and the Gram Sabha certifies potable water (§3): neither reporting
/// nor certifying may claim it while the latest sample says otherwise. Imports of Har Ghar Jal
/// flags ask the same question.
pub async fn latest_contamination<C: ConnectionTrait>(
    conn: &C,
    village: i64,
) -> Result<Option<String>, DbErr> {
    let latest = water_quality_test::Entity::find()
        .filter(water_quality_test::Column::VillageId.eq(village))
        .order_by_desc(water_quality_test::Column::SampledOn)
        .order_by_desc(water_quality_test::Column::Id)
        .one(conn)
        .await?;
    let Some(test) = latest.filter(|t| t.contaminated) else {
        return Ok(None);
    };
    let exceeded: Vec<String> = water_quality_result::Entity::find()
        .filter(water_quality_result::Column::TestId.eq(test.id))
        .filter(water_quality_result::Column::Exceeds.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| format!("{:?}", r.parameter))
        .collect();
    let what = if exceeded.is_empty() {
        String::new()
    } else {
        format!(" ({})", exceeded.join(", "))
    };
    Ok(Some(format!(
        "its latest water-quality test ({}, sampled on {}) exceeds BIS 10500{what}",
        test.source_name, test.sampled_on
    )))
}

/// BAD_USER_INPUT on `input.village` while the village's latest water-quality test is
/// contaminated ([`latest_contamination`]). A village never tested is not refused (nothing
/// contradicts the claim).
async fn potable(tx: &Tx<'_>, village: &village::Model, doing: &str) -> ApiResult<()> {
    match latest_contamination(tx.conn(), village.id).await? {
        None => Ok(()),
        Some(why) => Err(ApiError::bad_input(
            "input.village",
            format!(
                "{} cannot be {doing} Har Ghar Jal: {why}; record a clean retest first",
                village.name
            ),
        )),
    }
}

impl Service {
    pub async fn update_village_coverage(
        &self,
        id: i64,
        expected: i32,
        update: CoverageUpdate,
        key: Option<&str>,
    ) -> ApiResult<village::Model> {
        self.write("updateVillageCoverage", key, move |tx| {
            Box::pin(async move {
                certifier(tx.svc(), false)?;
                if update.households < 0 {
                    return Err(ApiError::bad_input(
                        "input.households",
                        "households cannot be negative",
                    ));
                }
                if update.tap_connections < 0 {
                    return Err(ApiError::bad_input(
                        "input.tapConnections",
                        "tap connections cannot be negative",
                    ));
                }
                if update.tap_connections > update.households {
                    return Err(ApiError::bad_input(
                        "input.tapConnections",
                        "a village cannot have more taps than households",
                    ));
                }
                let before = tx.visible::<village::Entity>(id, "village").await?;
                let mut set = vec![
                    (village::Column::Households, Expr::value(update.households)),
                    (
                        village::Column::TapConnections,
                        Expr::value(update.tap_connections),
                    ),
                ];
                // A village that is no longer saturated (new households) is no longer Har Ghar
                // Jal; its report and certification stay as history.
                if update.tap_connections < update.households
                    && before.hgj_status != HgjStatus::NotSaturated
                {
                    set.push((
                        village::Column::HgjStatus,
                        Expr::value(HgjStatus::NotSaturated),
                    ));
                }
                let after = bump_village(tx, &before, expected, set).await?;
                village_done(tx, &before, &after, "village.coverage_updated").await?;
                Ok(after)
            })
        })
        .await
    }

    pub async fn report_har_ghar_jal(
        &self,
        id: i64,
        expected: i32,
        report: Report,
        key: Option<&str>,
    ) -> ApiResult<village::Model> {
        self.write("reportHarGharJal", key, move |tx| Box::pin(async move {
            certifier(tx.svc(), false)?;
            check_url(
                "input.completionCertificateUrl",
                &report.completion_certificate_url,
            )?;
            if report.reported_on > tx.svc().today() {
                return Err(ApiError::bad_input(
                    "input.reportedOn",
                    "a report cannot be dated in the future",
                ));
            }
            let before = tx.visible::<village::Entity>(id, "village").await?;
            if before.households == 0 || before.tap_connections < before.households {
                return Err(ApiError::bad_input(
                    "village",
                    format!(
                        "only a village where every household has a tap can be reported; {} of {} have one",
                        before.tap_connections, before.households
                    ),
                ));
            }
            if before.hgj_status != HgjStatus::NotSaturated {
                return Err(ApiError::bad_input(
                    "village",
                    "the village is already reported Har Ghar Jal",
                ));
            }
            potable(tx, &before, "reported").await?;
            // The coverage checked above must still hold when the status changes.
            let set = vec![(village::Column::HgjStatus, Expr::value(HgjStatus::Reported))];
            let after = bump_village(tx, &before, expected, set).await?;
            let existing = hgj_report::Entity::find()
                .filter(hgj_report::Column::VillageId.eq(id))
                .one(tx.conn())
                .await?;
            let mut row = match existing {
                Some(r) => r.into_active_model(),
                None => hgj_report::ActiveModel {
                    village_id: Set(id),
                    ..Default::default()
                },
            };
            row.reported_on = Set(report.reported_on);
            row.completion_certificate_url = Set(report.completion_certificate_url);
            row.reported_by = Set(tx.svc().principal().sub.clone());
            row.save(tx.conn()).await?;
            village_done(tx, &before, &after, "village.hgj_reported").await?;
            Ok(after)
        }))
        .await
    }

    pub async fn certify_har_ghar_jal(
        &self,
        id: i64,
        expected: i32,
        cert: Certification,
        key: Option<&str>,
    ) -> ApiResult<village::Model> {
        self.write("certifyHarGharJal", key, move |tx| Box::pin(async move {
            certifier(tx.svc(), true)?;
            check_url("input.resolutionUrl", &cert.resolution_url)?;
            check_url("input.videoUrl", &cert.video_url)?;
            let today = tx.svc().today();
            if cert.gram_sabha_resolution_date > today {
                return Err(ApiError::bad_input(
                    "input.gramSabhaResolutionDate",
                    "the Gram Sabha cannot have met in the future",
                ));
            }
            let before = tx.visible::<village::Entity>(id, "village").await?;
            if before.hgj_status != HgjStatus::Reported {
                return Err(ApiError::bad_input(
                    "village",
                    "only a village reported Har Ghar Jal (and not yet certified) can be certified",
                ));
            }
            potable(tx, &before, "certified").await?;
            let report = hgj_report::Entity::find()
                .filter(hgj_report::Column::VillageId.eq(id))
                .one(tx.conn())
                .await?;
            if report.is_some_and(|r| cert.gram_sabha_resolution_date < r.reported_on) {
                return Err(ApiError::bad_input(
                    "input.gramSabhaResolutionDate",
                    "the Gram Sabha's resolution cannot precede the report it certifies",
                ));
            }
            let set = vec![(
                village::Column::HgjStatus,
                Expr::value(HgjStatus::Certified),
            )];
            let after = bump_village(tx, &before, expected, set).await?;
            let existing = hgj_certification::Entity::find()
                .filter(hgj_certification::Column::VillageId.eq(id))
                .one(tx.conn())
                .await?;
            let mut row = match existing {
                Some(r) => r.into_active_model(),
                None => hgj_certification::ActiveModel {
                    village_id: Set(id),
                    ..Default::default()
                },
            };
            row.gram_sabha_resolution_date = Set(cert.gram_sabha_resolution_date);
            row.resolution_url = Set(cert.resolution_url);
            row.video_url = Set(cert.video_url);
            row.certified_on = Set(today);
            row.certified_by = Set(tx.svc().principal().sub.clone());
            row.save(tx.conn()).await?;
            village_done(tx, &before, &after, "village.hgj_certified").await?;
            Ok(after)
        }))
        .await
    }
}

/// The end of every village write: its audit record, the counts it moves and its event.
async fn village_done(
    tx: &mut Tx<'_>,
    before: &village::Model,
    after: &village::Model,
    kind: &'static str,
) -> ApiResult<()> {
    tx.audit(
        "village",
        after.id,
        Some(after.district_id),
        Some(before),
        Some(after),
    )
    .await?;
    rollup::village_changed(tx.conn(), before, after).await?;
    tx.emit(NewEvent::village(
        kind,
        after,
        changed_fields(before, after),
    ));
    Ok(())
}

/// The version-checked village update (one statement that checks and writes).
async fn bump_village(
    tx: &Tx<'_>,
    v: &village::Model,
    expected: i32,
    set: Vec<(village::Column, SimpleExpr)>,
) -> ApiResult<village::Model> {
    let mut q = village::Entity::update_many()
        .col_expr(
            village::Column::Version,
            Expr::col(village::Column::Version).add(1),
        )
        .col_expr(village::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(village::Column::Id.eq(v.id))
        .filter(village::Column::Version.eq(expected));
    for (col, value) in set {
        q = q.col_expr(col, value);
    }
    let done = q.exec(tx.conn()).await?;
    let now = village::Entity::find_by_id(v.id)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("village"))?;
    if done.rows_affected == 0 {
        return Err(stale(now.version));
    }
    Ok(now)
}

//! Village coverage and Har Ghar Jal: reported once every household has a tap, certified by
//! the Gram Sabha after that. The village's status follows these writes.

use chrono::{NaiveDate, Utc};
use entities::{
    enums::{Department, HgjStatus},
    hgj_certification, hgj_report, village,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use super::{
    Service, rollup,
    write::{Begun, Tx},
};
use crate::{
    error::{ApiError, ApiResult},
    events::{Event, change::changed_fields, log::NewEvent},
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

impl Service {
    /// Coverage and reporting are the implementing side's: coordinators and administrators.
    fn certifier(&self, certify: bool) -> ApiResult<()> {
        self.require(Scope::CertificationWrite)?;
        let who = self.principal();
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

    async fn visible_village(&self, id: i64) -> ApiResult<village::Model> {
        self.by_id::<village::Entity>(id)
            .await?
            .ok_or(ApiError::NotFound("village"))
    }

    pub async fn update_village_coverage(
        &self,
        id: i64,
        expected: i32,
        update: CoverageUpdate,
        key: Option<&str>,
    ) -> ApiResult<village::Model> {
        self.certifier(false)?;
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
        let before = self.visible_village(id).await?;
        let mut set = vec![
            (village::Column::Households, Expr::value(update.households)),
            (
                village::Column::TapConnections,
                Expr::value(update.tap_connections),
            ),
        ];
        // A village that is no longer saturated (new households) is no longer Har Ghar Jal; its
        // report and certification stay as history.
        if update.tap_connections < update.households
            && before.hgj_status != HgjStatus::NotSaturated
        {
            set.push((
                village::Column::HgjStatus,
                Expr::value(HgjStatus::NotSaturated),
            ));
        }
        let tx = match self
            .begin::<village::Model>("updateVillageCoverage", key)
            .await?
        {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let after = bump_village(&tx, &before, expected, set).await?;
        self.village_done(tx, &before, &after, "coverage").await
    }

    pub async fn report_har_ghar_jal(
        &self,
        id: i64,
        expected: i32,
        report: Report,
        key: Option<&str>,
    ) -> ApiResult<village::Model> {
        self.certifier(false)?;
        check_url(
            "input.completionCertificateUrl",
            &report.completion_certificate_url,
        )?;
        if report.reported_on > self.today() {
            return Err(ApiError::bad_input(
                "input.reportedOn",
                "a report cannot be dated in the future",
            ));
        }
        let before = self.visible_village(id).await?;
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
        let tx = match self
            .begin::<village::Model>("reportHarGharJal", key)
            .await?
        {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        // The coverage checked above must still hold when the status changes.
        let set = vec![(village::Column::HgjStatus, Expr::value(HgjStatus::Reported))];
        let after = bump_village(&tx, &before, expected, set).await?;
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
        row.reported_by = Set(self.principal().sub.clone());
        row.save(tx.conn()).await?;
        self.village_done(tx, &before, &after, "reported").await
    }

    pub async fn certify_har_ghar_jal(
        &self,
        id: i64,
        expected: i32,
        cert: Certification,
        key: Option<&str>,
    ) -> ApiResult<village::Model> {
        self.certifier(true)?;
        check_url("input.resolutionUrl", &cert.resolution_url)?;
        check_url("input.videoUrl", &cert.video_url)?;
        if cert.gram_sabha_resolution_date > self.today() {
            return Err(ApiError::bad_input(
                "input.gramSabhaResolutionDate",
                "the Gram Sabha cannot have met in the future",
            ));
        }
        let before = self.visible_village(id).await?;
        if before.hgj_status != HgjStatus::Reported {
            return Err(ApiError::bad_input(
                "village",
                "only a village reported Har Ghar Jal (and not yet certified) can be certified",
            ));
        }
        let report = hgj_report::Entity::find()
            .filter(hgj_report::Column::VillageId.eq(id))
            .one(self.db())
            .await?;
        if report.is_some_and(|r| cert.gram_sabha_resolution_date < r.reported_on) {
            return Err(ApiError::bad_input(
                "input.gramSabhaResolutionDate",
                "the Gram Sabha's resolution cannot precede the report it certifies",
            ));
        }
        let tx = match self
            .begin::<village::Model>("certifyHarGharJal", key)
            .await?
        {
            Begun::Replay(v) => return Ok(v),
            Begun::Fresh(tx) => tx,
        };
        let set = vec![(
            village::Column::HgjStatus,
            Expr::value(HgjStatus::Certified),
        )];
        let after = bump_village(&tx, &before, expected, set).await?;
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
        row.certified_on = Set(self.today());
        row.certified_by = Set(self.principal().sub.clone());
        row.save(tx.conn()).await?;
        self.village_done(tx, &before, &after, "certified").await
    }

    async fn village_done(
        &self,
        mut tx: Tx<'_>,
        before: &village::Model,
        after: &village::Model,
        change: &str,
    ) -> ApiResult<village::Model> {
        tx.audit(
            "village",
            after.id,
            Some(after.district_id),
            Some(before),
            Some(after),
        )
        .await?;
        rollup::village_changed(tx.conn(), before, after).await?;
        tx.emit(Event::Village {
            village_id: after.id,
            version: after.version,
            change: change.to_owned(),
        });
        let kind = match change {
            "reported" => "village.hgj_reported",
            "certified" => "village.hgj_certified",
            _ => "village.coverage_updated",
        };
        tx.record(NewEvent::village(
            kind,
            after,
            changed_fields(before, after),
        ));
        tx.commit(after).await?;
        Ok(after.clone())
    }
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
        return Err(ApiError::Conflict {
            message: format!(
                "the village changed since you read it; it is now at version {}",
                now.version
            ),
            current_version: Some(now.version),
        });
    }
    Ok(now)
}

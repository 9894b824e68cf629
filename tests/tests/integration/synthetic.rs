//! The synthetic load-test dataset: deterministic, consistent, and served like any other data.

use std::collections::BTreeMap;

use api::principal::Role;
use api::seed::synthetic::{Scale, synthetic};
use api::service::schemes::components::physical_progress;
use entities::enums::SchemeStatus;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::json;
use tests::{ClientSpec, TestApp, TestDb, each_backend};

async fn scalar(t: &TestDb, sql: &str) -> i64 {
    let row =
        t.db.query_one_raw(Statement::from_string(
            t.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("integer")
}

#[tokio::test]
async fn the_district_scale_loads_consistently_on_both_databases() {
    each_backend(|backend| async move {
        let t = TestDb::new(backend).await;
        let today = api::service::today_ist();
        let summary = synthetic(&t.db, Scale::District, 7, today).await.expect("load");
        assert!(summary.villages > 300, "{summary:?}");
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM village").await, summary.villages as i64);
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM village WHERE tap_connections > households OR households < 20 OR households > 2000").await, 0);
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM task t WHERE t.version <> (SELECT COUNT(*) FROM task_event e WHERE e.task_id = t.id)").await,
            0,
            "each task's version counts its history"
        );
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM scheme_village").await, summary.villages as i64, "every village has a scheme");
        let again = TestDb::new(t.backend.clone()).await;
        let second = synthetic(&again.db, Scale::District, 7, today).await.expect("load");
        assert_eq!(format!("{summary:?}"), format!("{second:?}"), "the same seed gives the same data");

        let app = TestApp::over(t).await;
        let national = app.token(ClientSpec::new(Role::Dashboard)).await;
        let res = app.post_as(&national, "{ progress(level: STATE) { parent { villages } } }", json!({})).await;
        assert_eq!(res["data"]["progress"]["parent"]["villages"], summary.villages, "{res:#}");
    })
    .await;
}

/// The works of the synthetic schemes: components with progress on every scheme past its work
/// order, inspections (some RECTIFY with their rectification tasks still open), handovers only
/// of schemes handed over, the scheme's works columns equal to a recount from the rows, and the
/// works rollups equal to recounts (from the scheme columns and from the rows themselves).
#[tokio::test]
async fn the_synthetic_schemes_have_works_consistent_with_their_rollups() {
    each_backend(|backend| async move {
        let t = TestDb::new(backend).await;
        let db = t.backend.name();
        let today = api::service::today_ist();
        synthetic(&t.db, Scale::District, 11, today).await.expect("load");
        let count = |sql: &'static str| scalar(&t, sql);
        const BUILDING: &str = "('WORK_ORDER_ISSUED', 'IN_PROGRESS', 'ON_HOLD', 'COMPLETED', 'COMMISSIONED', 'HANDED_OVER_TO_GP')";
        assert!(count("SELECT COUNT(*) FROM scheme_component").await > 100, "[{db}] components");
        assert!(count("SELECT COUNT(*) FROM scheme_progress").await > 100, "[{db}] progress history");
        assert_eq!(
            scalar(&t, &format!("SELECT COUNT(*) FROM scheme s WHERE s.status IN {BUILDING} AND NOT EXISTS (SELECT 1 FROM scheme_component c WHERE c.scheme_id = s.id)")).await,
            0,
            "[{db}] every scheme past its work order has components"
        );
        assert_eq!(
            scalar(&t, &format!("SELECT COUNT(*) FROM scheme s WHERE s.status IN {BUILDING} AND NOT EXISTS (SELECT 1 FROM scheme_inspector a JOIN organisation o ON o.id = a.organisation_id WHERE a.scheme_id = s.id AND o.kind = 'INSPECTION_AGENCY')")).await,
            0,
            "[{db}] every scheme past its work order has an inspection agency"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM scheme_component c WHERE c.version <> 1 + (SELECT COUNT(*) FROM scheme_progress p WHERE p.component_id = c.id) OR c.quantity_done <> COALESCE((SELECT p.quantity_done FROM scheme_progress p WHERE p.component_id = c.id ORDER BY p.id DESC LIMIT 1), 0)").await,
            0,
            "[{db}] a component's quantity is its latest progress record, its version counts them"
        );
        let inspections = count("SELECT COUNT(*) FROM scheme_inspection").await;
        let failing = count("SELECT COUNT(*) FROM scheme_inspection WHERE verdict IN ('RECTIFY', 'FAIL')").await;
        assert!(inspections > 50, "[{db}] {inspections} inspections");
        assert!(
            failing * 10 > inspections && failing * 2 < inspections,
            "[{db}] a realistic share fails: {failing} of {inspections}"
        );
        assert!(
            count("SELECT COUNT(*) FROM scheme_inspection i JOIN task t ON t.id = i.rectification_task_id WHERE i.verdict = 'RECTIFY' AND t.kind = 'SCHEME_WORK' AND t.status IN ('OPEN', 'IN_PROGRESS')").await > 0,
            "[{db}] some RECTIFY inspections have their rectification task open"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM scheme_inspection WHERE verdict IN ('RECTIFY', 'FAIL') AND rectification_task_id IS NULL").await,
            0,
            "[{db}] every failing inspection opened a task"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM inspection_finding f JOIN scheme_inspection i ON i.id = f.inspection_id JOIN task t ON t.id = i.rectification_task_id WHERE (f.open AND t.status NOT IN ('OPEN', 'IN_PROGRESS')) OR (NOT f.open AND t.status <> 'VERIFIED')").await,
            0,
            "[{db}] open findings have their task open, closed ones a verified task"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM inspection_finding f WHERE NOT f.open AND f.closed_by_inspection_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM scheme_inspection i WHERE i.id = f.closed_by_inspection_id AND i.verdict = 'PASS' AND i.scheme_id = f.scheme_id)").await,
            0,
            "[{db}] a closed finding names the passing re-inspection that closed it"
        );
        let handovers = count("SELECT COUNT(*) FROM scheme_handover").await;
        assert!(handovers > 0, "[{db}] handovers");
        assert_eq!(
            handovers,
            count("SELECT COUNT(*) FROM scheme WHERE status = 'HANDED_OVER_TO_GP'").await,
            "[{db}] every scheme handed over has its handover"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM scheme_handover h JOIN scheme s ON s.id = h.scheme_id WHERE s.status <> 'HANDED_OVER_TO_GP' OR s.handed_over_on <> h.handed_over_on OR s.commissioned_on > h.handed_over_on OR s.open_findings_critical > 0 OR h.vwsc_members NOT BETWEEN 10 AND 15 OR 2 * h.vwsc_women_members < h.vwsc_members").await,
            0,
            "[{db}] handovers only of schemes handed over, after commissioning, with no critical finding open, VWSC rules kept"
        );
        assert!(
            count("SELECT COUNT(*) FROM scheme WHERE status = 'COMMISSIONED' AND open_findings_critical + open_findings_major + open_findings_minor > 0").await
                + count("SELECT COUNT(*) FROM scheme WHERE status IN ('IN_PROGRESS', 'ON_HOLD') AND open_findings_critical + open_findings_major + open_findings_minor > 0").await
                > 0,
            "[{db}] some schemes have findings open"
        );
        for severity in ["MINOR", "MAJOR", "CRITICAL"] {
            let column = format!("open_findings_{}", severity.to_lowercase());
            let rollup = format!("findings_{}", severity.to_lowercase());
            assert_eq!(
                scalar(&t, &format!("SELECT COUNT(*) FROM scheme s WHERE s.{column} <> (SELECT COUNT(*) FROM inspection_finding f WHERE f.scheme_id = s.id AND f.open AND f.severity = '{severity}')")).await,
                0,
                "[{db}] the scheme's {column} counts its open findings"
            );
            assert_eq!(
                scalar(&t, &format!("SELECT COUNT(*) FROM district d LEFT JOIN district_works_rollup r ON r.district_id = d.id WHERE COALESCE(r.{rollup}, 0) <> (SELECT COUNT(*) FROM inspection_finding f JOIN scheme s ON s.id = f.scheme_id WHERE s.district_id = d.id AND f.open AND f.severity = '{severity}')")).await,
                0,
                "[{db}] the district's {rollup} counts the open findings"
            );
        }
        assert_eq!(
            count("SELECT COUNT(*) FROM scheme s WHERE s.status IN ('COMPLETED', 'COMMISSIONED', 'HANDED_OVER_TO_GP') AND s.completed_on IS NULL OR s.status IN ('COMMISSIONED', 'HANDED_OVER_TO_GP') AND s.commissioned_on IS NULL OR s.status IN ('WORK_ORDER_ISSUED', 'IN_PROGRESS', 'ON_HOLD') AND (s.completed_on IS NOT NULL OR s.work_order_on IS NULL) OR s.status = 'ON_HOLD' AND s.status_reason IS NULL OR s.target_completion_on IS NULL AND s.status <> 'PROPOSED'").await,
            0,
            "[{db}] stage dates follow the status"
        );

        // Physical progress: each scheme's as the service computes it from its components, and
        // each district's rollup from those.
        let components = entities::scheme_component::Entity::find()
            .all(&t.db)
            .await
            .expect("components");
        let mut by_scheme: BTreeMap<i64, Vec<entities::scheme_component::Model>> = BTreeMap::new();
        for c in components {
            by_scheme.entry(c.scheme_id).or_default().push(c);
        }
        let schemes = entities::scheme::Entity::find().all(&t.db).await.expect("schemes");
        let mut per_district: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
        let mut below_half = 0;
        for s in &schemes {
            let parts = by_scheme.get(&s.id).map(Vec::as_slice).unwrap_or_default();
            let bp = physical_progress(parts);
            assert_eq!(s.physical_progress_bp, bp, "[{db}] progress of scheme {}", s.id);
            let row = per_district.entry(s.district_id).or_default();
            if let (Some(bp), false) = (bp, s.status == SchemeStatus::Cancelled) {
                row[0] += 1;
                row[1] += i64::from(bp);
                row[2] += i64::from(bp < 5_000);
                row[3] += i64::from(bp >= 10_000);
                below_half += i64::from(bp < 5_000);
            }
        }
        assert!(below_half > 0, "[{db}] some schemes are below half");
        let rollups = entities::district_works_rollup::Entity::find()
            .all(&t.db)
            .await
            .expect("works rollups");
        assert_eq!(rollups.len(), per_district.len(), "[{db}] a works rollup per district with schemes");
        for r in rollups {
            assert_eq!(
                [r.schemes_measured, r.progress_bp_sum, r.below_half, r.complete],
                per_district[&r.district_id],
                "[{db}] works rollup of district {}",
                r.district_id
            );
        }
        crate::scheme_works::assert_rollups_fresh(&t.db, "the synthetic seed").await;
        crate::imports::assert_rollups_exact(&t.db).await;
        assert_eq!(
            count("SELECT COUNT(*) FROM task t WHERE t.version <> (SELECT COUNT(*) FROM task_event e WHERE e.task_id = t.id)").await,
            0,
            "[{db}] each task's version counts its history, rectification tasks included"
        );

        let app = TestApp::over(t).await;
        let national = app.token(ClientSpec::new(Role::Dashboard)).await;
        let res = app
            .post_as(
                &national,
                "{ progress(level: STATE) { parent { works { schemesMeasured openFindings { total } schemesHandedOver } } } }",
                json!({}),
            )
            .await;
        let w = &res["data"]["progress"]["parent"]["works"];
        assert_eq!(w["schemesHandedOver"], handovers, "[{db}] {res:#}");
        assert!(w["openFindings"]["total"].as_i64().unwrap_or(0) > 0, "[{db}] {res:#}");
    })
    .await;
}

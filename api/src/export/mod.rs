//! `GET /export/{villages|tasks|assignments|water-quality-tests|progress}.{csv|xlsx}`: a list
//! as officers use it, with the GraphQL list filter as query parameters (`?within=…&hgjStatus=
//! REPORTED,CERTIFIED`). Rows come through the service layer, so an export holds exactly the
//! rows and fields reading the list would (a partner only its villages, a dashboard no personal
//! data). Rows are streamed from the database to the client in chunks, so six lakh villages
//! never sit in memory. CSV is UTF-8 with a byte-order mark, so Excel shows Hindi names.
//!
//! The villages export doubles as the coverage file: importing it back with
//! `sangam import coverage` changes nothing.

pub mod xlsx;

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};

use async_graphql::InputType;
use axum::{
    body::{Body, Bytes},
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use entities::{assignment, enums::HgjStatus, task, village, water_quality_test};
use futures_util::StreamExt;
use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseConnection, QueryFilter, QueryOrder, Statement,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    error::ApiError,
    graphql::inputs::{
        AssignmentFilterInput, TaskFilterInput, VillageFilterInput, WaterQualityFilterInput,
    },
    http::AppState,
    ingest::parse::display_name,
    service::{
        Service,
        area::AreaLevel,
        progress::Parts,
        scope::{Scoped, sees_personal_data},
    },
};

/// Bytes gathered before a chunk is sent to the client.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dataset {
    Villages,
    Tasks,
    Assignments,
    WaterQualityTests,
    Progress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
}

fn parse_file(file: &str) -> Option<(Dataset, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    let dataset = match name {
        "villages" => Dataset::Villages,
        "tasks" => Dataset::Tasks,
        "assignments" => Dataset::Assignments,
        "water-quality-tests" => Dataset::WaterQualityTests,
        "progress" => Dataset::Progress,
        _ => return None,
    };
    let format = match ext {
        "csv" => Format::Csv,
        "xlsx" => Format::Xlsx,
        _ => return None,
    };
    Some((dataset, format))
}

/// A cell of an exported row.
enum Val {
    Text(String),
    Int(i64),
    Float(f64),
    Empty,
}

/// The bytes written so far, shared with the task that sends them.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn len(&self) -> usize {
        self.0.lock().map_or(0, |b| b.len())
    }
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

enum Writer {
    Csv(Box<csv::Writer<Buffer>>),
    Xlsx(Box<xlsx::Sheet<Buffer>>),
}

impl Writer {
    fn new(format: Format, sheet: &str, buf: Buffer) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Csv => {
                let mut b = buf;
                b.write_all("\u{feff}".as_bytes())?;
                Writer::Csv(Box::new(csv::Writer::from_writer(b)))
            }
            Format::Xlsx => Writer::Xlsx(Box::new(xlsx::Sheet::new(buf, sheet)?)),
        })
    }

    fn header(&mut self, names: &[&str]) -> anyhow::Result<()> {
        let cells: Vec<Val> = names.iter().map(|n| Val::Text((*n).to_owned())).collect();
        self.row(&cells)
    }

    fn row(&mut self, cells: &[Val]) -> anyhow::Result<()> {
        match self {
            Writer::Csv(w) => {
                for c in cells {
                    match c {
                        Val::Text(s) => w.write_field(s)?,
                        Val::Int(n) => w.write_field(n.to_string())?,
                        Val::Float(x) => w.write_field(format!("{x:.2}"))?,
                        Val::Empty => w.write_field("")?,
                    }
                }
                w.write_record(None::<&[u8]>)?;
            }
            Writer::Xlsx(s) => {
                let cells: Vec<xlsx::XCell<'_>> = cells
                    .iter()
                    .map(|c| match c {
                        Val::Text(t) => xlsx::XCell::Text(t),
                        Val::Int(n) => xlsx::XCell::Number(*n as f64),
                        Val::Float(x) => xlsx::XCell::Number((x * 100.0).round() / 100.0),
                        Val::Empty => xlsx::XCell::Empty,
                    })
                    .collect();
                s.row(&cells)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if let Writer::Csv(w) = self {
            w.flush()?;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Writer::Csv(mut w) => w.flush()?,
            Writer::Xlsx(s) => {
                s.finish()?;
            }
        }
        Ok(())
    }
}

/// An export request's answer when it cannot start: a status and a GraphQL-style error body.
fn refuse(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Response {
    let mut ext = json!({ "code": code });
    if let Some(f) = field {
        ext["field"] = json!(f);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "errors": [{ "message": message, "extensions": ext }] }).to_string(),
    )
        .into_response()
}

fn api_error(e: ApiError) -> Response {
    let (status, code) = match &e {
        ApiError::BadInput { .. } => (StatusCode::BAD_REQUEST, "BAD_USER_INPUT"),
        ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "FORBIDDEN"),
        ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    };
    let field = match &e {
        ApiError::BadInput { argument, .. } => Some(argument.clone()),
        _ => None,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = ?e, "export failed");
    }
    refuse(status, code, e.to_string(), field.as_deref())
}

fn boxed(e: ApiError) -> Box<Response> {
    Box::new(api_error(e))
}

/// The query string as a GraphQL input object: repeated or comma-separated values make a list,
/// `true`/`false` and numbers their own types, anything else a string (enums parse from it).
fn params(uri: &Uri) -> Result<async_graphql::Value, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| e.to_string())?;
    let mut map: async_graphql::indexmap::IndexMap<async_graphql::Name, Vec<async_graphql::Value>> =
        Default::default();
    for (k, v) in pairs {
        let values = map.entry(async_graphql::Name::new(k)).or_default();
        for part in v.split(',') {
            let part = part.trim();
            let value = if part == "true" || part == "false" {
                async_graphql::Value::Boolean(part == "true")
            } else if let Ok(x) = part.parse::<f64>().map(serde_json::Number::from_f64) {
                x.map_or_else(
                    || async_graphql::Value::String(part.to_owned()),
                    async_graphql::Value::Number,
                )
            } else {
                async_graphql::Value::String(part.to_owned())
            };
            values.push(value);
        }
    }
    Ok(async_graphql::Value::Object(
        map.into_iter()
            .map(|(k, mut v)| {
                let value = if v.len() == 1 {
                    v.remove(0)
                } else {
                    async_graphql::Value::List(v)
                };
                (k, value)
            })
            .collect(),
    ))
}

fn filter<T: InputType>(value: async_graphql::Value) -> Result<T, Box<Response>> {
    T::parse(Some(value)).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            format!(
                "bad filter: {}",
                e.into_server_error(Default::default()).message
            ),
            Some("filter"),
        ))
    })
}

/// `GET /export/{file}`.
pub async fn download(
    State(st): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some((dataset, format)) = parse_file(&file) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "exports are villages, tasks, assignments, water-quality-tests and progress, as .csv or .xlsx".into(),
            None,
        );
    };
    // The same bearer-token rules as GraphQL (one parser: `caller`).
    let who = match crate::caller::authorization(&headers) {
        Ok(value) => match crate::caller::Caller::from_authorization(&st.auth, value).await {
            Ok(crate::caller::Caller(Some(who))) => who,
            Ok(crate::caller::Caller(None)) => {
                return crate::error::ApiError::Unauthenticated.into_response();
            }
            Err(e) => return e.into_response(),
        },
        Err(e) => return e.into_response(),
    };
    let svc = Service::new(st.db.clone(), who);
    let value = match params(&uri) {
        Ok(v) => v,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", e, None),
    };
    let rows = match plan(&svc, dataset, value).await {
        Ok(p) => p,
        Err(res) => return *res,
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let sheet = file
        .rsplit_once('.')
        .map_or("export", |(n, _)| n)
        .to_owned();
    tokio::spawn(async move {
        if let Err(e) = stream(st.db.clone(), rows, format, &sheet, &tx).await {
            tracing::warn!(error = ?e, "export stopped");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// What to stream: the statement (row scope and filter applied) and how to write its rows.
enum Rows {
    Villages(sea_orm::Select<village::Entity>),
    Tasks(sea_orm::Select<task::Entity>),
    Assignments(sea_orm::Select<assignment::Entity>),
    Tests(sea_orm::Select<water_quality_test::Entity>, bool),
    Progress(AreaLevel, Vec<crate::service::progress::Totals>),
}

fn scoped<E: Scoped>(
    svc: &Service,
    cond: sea_orm::Condition,
) -> Result<sea_orm::Select<E>, Box<Response>> {
    Ok(svc
        .scoped::<E>()
        .map_err(boxed)?
        .filter(cond)
        .order_by_asc(E::id_column()))
}

async fn plan(
    svc: &Service,
    dataset: Dataset,
    value: async_graphql::Value,
) -> Result<Rows, Box<Response>> {
    let today = svc.today();
    Ok(match dataset {
        Dataset::Villages => {
            let f: VillageFilterInput = filter(value)?;
            let c = f
                .into_filter()
                .map_err(boxed)?
                .condition(svc)
                .map_err(boxed)?;
            Rows::Villages(scoped::<village::Entity>(svc, c)?)
        }
        Dataset::Tasks => {
            let f: TaskFilterInput = filter(value)?;
            let c = f.into_filter().map_err(boxed)?.condition(today);
            Rows::Tasks(scoped::<task::Entity>(svc, c)?)
        }
        Dataset::Assignments => {
            let f: AssignmentFilterInput = filter(value)?;
            let c = f.into_filter().map_err(boxed)?.condition(today);
            Rows::Assignments(scoped::<assignment::Entity>(svc, c)?)
        }
        Dataset::WaterQualityTests => {
            let f: WaterQualityFilterInput = filter(value)?;
            let c = f.into_filter().map_err(boxed)?.condition();
            let personal = sees_personal_data(svc.principal());
            Rows::Tests(scoped::<water_quality_test::Entity>(svc, c)?, personal)
        }
        Dataset::Progress => {
            let mut level = AreaLevel::District;
            let mut within = None;
            if let async_graphql::Value::Object(o) = &value {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("level", async_graphql::Value::String(s)) => {
                            level = match s.as_str() {
                                "STATE" => AreaLevel::State,
                                "DIVISION" => AreaLevel::Division,
                                "DISTRICT" => AreaLevel::District,
                                "BLOCK" => AreaLevel::Block,
                                "GRAM_PANCHAYAT" => AreaLevel::GramPanchayat,
                                _ => {
                                    return Err(Box::new(refuse(
                                        StatusCode::BAD_REQUEST,
                                        "BAD_USER_INPUT",
                                        format!("unknown level {s}"),
                                        Some("level"),
                                    )));
                                }
                            }
                        }
                        ("within", v) => {
                            let id = match v {
                                async_graphql::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            let area =
                                crate::graphql::inputs::area("within", &async_graphql::ID(id))
                                    .map_err(boxed)?;
                            within = Some(area);
                        }
                        (other, _) => {
                            return Err(Box::new(refuse(
                                StatusCode::BAD_REQUEST,
                                "BAD_USER_INPUT",
                                format!(
                                    "unknown parameter {other}; progress takes level and within"
                                ),
                                Some(other),
                            )));
                        }
                    }
                }
            }
            let parts = Parts {
                villages: true,
                schemes: false,
                tasks: true,
                works: false,
            };
            let report = svc
                .progress(level, within, parts)
                .await
                .map_err(boxed)?
                .ok_or_else(|| boxed(ApiError::NotFound("area")))?;
            Rows::Progress(level, report.rows)
        }
    })
}

/// Id → LGD code of a small table (to write parents by code).
async fn codes(db: &DatabaseConnection, table: &str) -> anyhow::Result<HashMap<i64, i64>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id, CAST(lgd_code AS BIGINT) AS code FROM {table}"),
        ))
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "code")?)))
        .collect()
}

/// Streams `rows` as `format` into `tx`, a chunk at a time.
async fn stream(
    db: DatabaseConnection,
    rows: Rows,
    format: Format,
    sheet: &str,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let buf = Buffer::default();
    let mut w = Writer::new(format, sheet, buf.clone())?;
    let send = |force: bool| {
        let buf = buf.clone();
        async move {
            if force || buf.len() >= CHUNK {
                let bytes = buf.take();
                if !bytes.is_empty() {
                    tx.send(Ok(Bytes::from(bytes)))
                        .await
                        .map_err(|_| anyhow::anyhow!("the client went away"))?;
                }
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    let fmt = |v: Option<i64>| v.map_or(Val::Empty, Val::Int);
    match rows {
        Rows::Villages(q) => {
            let (states, districts, blocks, gps) = (
                codes(&db, "state").await?,
                codes(&db, "district").await?,
                codes(&db, "block").await?,
                codes(&db, "gram_panchayat").await?,
            );
            w.header(&[
                "Village LGD Code",
                "Village Name",
                "Village Name (Local)",
                "State Code",
                "District Code",
                "Block Code",
                "Gram Panchayat Code",
                "Total Households",
                "Households with FHTC",
                "Coverage %",
                "Har Ghar Jal Reported",
                "Har Ghar Jal Stage",
            ])?;
            let mut s = q.stream(&db).await?;
            while let Some(v) = s.next().await {
                let v = v?;
                let cov = (v.households > 0)
                    .then(|| f64::from(v.tap_connections) * 100.0 / f64::from(v.households));
                let reported = matches!(v.hgj_status, HgjStatus::Reported | HgjStatus::Certified);
                w.row(&[
                    Val::Int(i64::from(v.lgd_code)),
                    Val::Text(display_name(&v.name).into_owned()),
                    Val::Text(v.name_hi),
                    fmt(states.get(&v.state_id).copied()),
                    fmt(districts.get(&v.district_id).copied()),
                    fmt(blocks.get(&v.block_id).copied()),
                    fmt(gps.get(&v.gram_panchayat_id).copied()),
                    Val::Int(i64::from(v.households)),
                    Val::Int(i64::from(v.tap_connections)),
                    cov.map_or(Val::Empty, Val::Float),
                    Val::Text(if reported { "Yes" } else { "No" }.into()),
                    Val::Text(ActiveEnum::to_value(&v.hgj_status)),
                ])?;
                send(false).await?;
            }
        }
        Rows::Tasks(q) => {
            let villages = codes(&db, "village").await?;
            let districts = codes(&db, "district").await?;
            w.header(&[
                "Task Id",
                "Kind",
                "Title",
                "Status",
                "Priority",
                "Village LGD Code",
                "District Code",
                "Scheme Id",
                "Assignee Organisation Id",
                "Due On",
                "Created At",
                "Updated At",
            ])?;
            let mut s = q.stream(&db).await?;
            while let Some(t) = s.next().await {
                let t = t?;
                w.row(&[
                    Val::Int(t.id),
                    Val::Text(ActiveEnum::to_value(&t.kind)),
                    Val::Text(t.title),
                    Val::Text(ActiveEnum::to_value(&t.status)),
                    Val::Text(ActiveEnum::to_value(&t.priority)),
                    fmt(t.village_id.and_then(|v| villages.get(&v).copied())),
                    fmt(districts.get(&t.district_id).copied()),
                    fmt(t.scheme_id),
                    Val::Int(t.assignee_organisation_id),
                    t.due_on.map_or(Val::Empty, |d| Val::Text(d.to_string())),
                    Val::Text(t.created_at.to_rfc3339()),
                    Val::Text(t.updated_at.to_rfc3339()),
                ])?;
                send(false).await?;
            }
        }
        Rows::Assignments(q) => {
            let villages = codes(&db, "village").await?;
            w.header(&[
                "Assignment Id",
                "Organisation Id",
                "Village LGD Code",
                "Theme",
                "Starts On",
                "Ends On",
            ])?;
            let mut s = q.stream(&db).await?;
            while let Some(a) = s.next().await {
                let a = a?;
                w.row(&[
                    Val::Int(a.id),
                    Val::Int(a.organisation_id),
                    fmt(villages.get(&a.village_id).copied()),
                    Val::Text(ActiveEnum::to_value(&a.theme)),
                    Val::Text(a.starts_on.to_string()),
                    a.ends_on.map_or(Val::Empty, |d| Val::Text(d.to_string())),
                ])?;
                send(false).await?;
            }
        }
        Rows::Tests(q, personal) => {
            let villages = codes(&db, "village").await?;
            let mut names = vec![
                "Test Id",
                "Village LGD Code",
                "Source Name",
                "Source Type",
                "Sampled On",
                "Method",
                "Laboratory",
                "Contaminated",
            ];
            if personal {
                names.push("Tested By");
            }
            w.header(&names)?;
            let mut s = q.stream(&db).await?;
            while let Some(t) = s.next().await {
                let t = t?;
                let mut row = vec![
                    Val::Int(t.id),
                    fmt(villages.get(&t.village_id).copied()),
                    Val::Text(t.source_name),
                    Val::Text(ActiveEnum::to_value(&t.source_type)),
                    Val::Text(t.sampled_on.to_string()),
                    Val::Text(ActiveEnum::to_value(&t.method)),
                    t.lab_name.map_or(Val::Empty, Val::Text),
                    Val::Text(if t.contaminated { "Yes" } else { "No" }.into()),
                ];
                if personal {
                    row.push(t.tested_by.map_or(Val::Empty, Val::Text));
                }
                w.row(&row)?;
                send(false).await?;
            }
        }
        Rows::Progress(level, totals) => {
            let table = match level {
                AreaLevel::State => "state",
                AreaLevel::Division => "division",
                AreaLevel::District => "district",
                AreaLevel::Block => "block",
                AreaLevel::GramPanchayat => "gram_panchayat",
            };
            let code = if level == AreaLevel::Division {
                "code"
            } else {
                "CAST(lgd_code AS TEXT)"
            };
            let names: HashMap<i64, (String, String)> = db
                .query_all_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT id, {code} AS code, name FROM {table}"),
                ))
                .await?
                .into_iter()
                .map(|r| {
                    Ok((
                        r.try_get("", "id")?,
                        (r.try_get("", "code")?, r.try_get("", "name")?),
                    ))
                })
                .collect::<Result<_, sea_orm::DbErr>>()?;
            w.header(&[
                "Code",
                "Name",
                "Villages",
                "Total Households",
                "Households with FHTC",
                "Coverage %",
                "Villages Reported",
                "Villages Certified",
                "Open Tasks",
                "Overdue Tasks",
            ])?;
            for t in totals {
                let (code, name) = t
                    .area
                    .and_then(|a| names.get(&a.id).cloned())
                    .unwrap_or_default();
                w.row(&[
                    Val::Text(code),
                    Val::Text(display_name(&name).into_owned()),
                    Val::Int(t.villages),
                    Val::Int(t.households),
                    Val::Int(t.tap_connections),
                    t.coverage_percent().map_or(Val::Empty, Val::Float),
                    Val::Int(t.villages_reported),
                    Val::Int(t.villages_certified),
                    Val::Int(t.tasks_open),
                    Val::Int(t.tasks_overdue),
                ])?;
                send(false).await?;
            }
        }
    }
    w.flush()?;
    w.finish()?;
    send(true).await?;
    Ok(())
}

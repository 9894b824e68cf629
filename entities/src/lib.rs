//! sea-orm entities for Sangam. Row types only: the GraphQL types live in `api`.

pub mod assignment;
pub mod audit_log;
pub mod block;
pub mod district;
pub mod district_rollup;
pub mod district_scheme_rollup;
pub mod division;
pub mod enums;
pub mod event_log;
pub mod gram_panchayat;
pub mod hgj_certification;
pub mod hgj_report;
pub mod idempotency_record;
pub mod oauth_client;
pub mod organisation;
pub mod organisation_theme;
pub mod persisted_query;
pub mod revoked_token;
pub mod scheme;
pub mod scheme_village;
pub mod signing_key;
pub mod state;
pub mod task;
pub mod task_event;
pub mod task_evidence;
pub mod task_test_link;
pub mod village;
pub mod water_quality_result;
pub mod water_quality_test;
pub mod webhook;
pub mod webhook_attempt;
pub mod webhook_cursor;
pub mod webhook_delivery;
// Scheme works and handover.
pub mod district_scheme_due_rollup;
pub mod district_works_rollup;
pub mod inspection_finding;
pub mod scheme_component;
pub mod scheme_handover;
pub mod scheme_inspection;
pub mod scheme_inspector;
pub mod scheme_progress;
pub mod works;

pub use sea_orm;

//! Registering webhooks and reading their deliveries. A webhook, its deliveries and their
//! attempts are reachable only by the principal that registered it (`scope`).

use std::collections::HashMap;

use chrono::{TimeDelta, Utc};
use entities::{
    webhook, webhook_attempt,
    webhook_delivery::{self, WebhookDeliveryStatus},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use super::{Service, page, scope::may_read};
use crate::{
    error::{ApiError, ApiResult},
    events::log,
    principal::Scope,
    webhooks::{Entity, EventKind, Filter, Settings, owner::Owner, signing, ssrf},
};

/// Most webhooks one client may hold.
pub const MAX_WEBHOOKS: u64 = 100;

pub struct NewWebhook {
    pub url: String,
    pub kinds: Vec<EventKind>,
    pub filter: Option<Filter>,
}

#[derive(Default)]
pub struct WebhookEdit {
    pub id: i64,
    pub expected_version: Option<i32>,
    pub url: Option<String>,
    pub kinds: Option<Vec<EventKind>>,
    /// `Some(None)` removes the filter.
    pub filter: Option<Option<Filter>>,
    pub enabled: Option<bool>,
}

/// A webhook with the secret that signs its deliveries: returned by creation and rotation only
/// (and by their replays, so a client whose response was lost still learns it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WithSecret {
    pub webhook: webhook::Model,
    pub secret: String,
}

/// What the audit trail records of a webhook: never its secret.
#[derive(Serialize)]
struct Audited<'a> {
    url: &'a str,
    event_kinds: &'a str,
    filter: Option<&'a str>,
    enabled: bool,
    secret_rotated: bool,
}

fn audited(w: &webhook::Model, secret_rotated: bool) -> Audited<'_> {
    Audited {
        url: &w.url,
        event_kinds: &w.event_kinds,
        filter: w.filter.as_deref(),
        enabled: w.enabled,
        secret_rotated,
    }
}

/// Checks a webhook URL for `argument`: its form, and, when its host resolves now, every
/// address (a name that does not resolve yet is checked again on every delivery).
pub async fn check_target(argument: &str, url: &str, reach: ssrf::Reach) -> ApiResult<String> {
    let parsed = ssrf::check_url(url, reach).map_err(|e| ApiError::bad_input(argument, e.0))?;
    if let Some(host) = parsed.host_str()
        && host.parse::<std::net::IpAddr>().is_err()
        && !host.starts_with('[')
    {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let lookup = tokio::net::lookup_host((host, port));
        if let Ok(Ok(addrs)) = tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await
        {
            for a in addrs {
                if !reach.allow_private && !ssrf::is_public(a.ip()) {
                    return Err(ApiError::bad_input(
                        argument,
                        format!(
                            "the webhook URL's host {host} resolves to {}, which is not a public address",
                            a.ip()
                        ),
                    ));
                }
            }
        }
    }
    Ok(parsed.to_string())
}

impl Service {
    /// The kinds, each one of rows the principal may read (a dashboard: no task or assignment
    /// events; scheme events without personal data, as `payload.rs` reads them); `argument`
    /// names the input field.
    fn check_kinds(&self, argument: &str, kinds: &[EventKind]) -> ApiResult<String> {
        use entities::{assignment, scheme, task, village, water_quality_test};
        if kinds.is_empty() {
            return Err(ApiError::bad_input(
                argument,
                "name at least one event kind",
            ));
        }
        let who = self.principal();
        for k in kinds {
            match k.entity() {
                Entity::Task => may_read::<task::Entity>(who)?,
                Entity::Assignment => may_read::<assignment::Entity>(who)?,
                Entity::WaterQualityTest => may_read::<water_quality_test::Entity>(who)?,
                Entity::Village => may_read::<village::Entity>(who)?,
                Entity::Scheme => may_read::<scheme::Entity>(who)?,
            }
        }
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        Ok(EventKind::join(&kinds))
    }

    fn filter_text(filter: Option<&Filter>) -> ApiResult<Option<String>> {
        filter
            .filter(|f| **f != Filter::default())
            .map(|f| serde_json::to_string(f).map_err(ApiError::internal))
            .transpose()
    }

    /// One of the principal's webhooks (others do not exist for it), read in the write's
    /// transaction (in-memory SQLite has one connection).
    async fn own_webhook(&self, conn: &impl ConnectionTrait, id: i64) -> ApiResult<webhook::Model> {
        self.scoped::<webhook::Entity>()?
            .filter(webhook::Column::Id.eq(id))
            .one(conn)
            .await?
            .ok_or(ApiError::NotFound("webhook"))
    }

    pub async fn create_webhook(
        &self,
        new: NewWebhook,
        settings: &Settings,
        key: Option<&str>,
    ) -> ApiResult<WithSecret> {
        self.require(Scope::WebhooksWrite)?;
        let kinds = self.check_kinds("input.eventKinds", &new.kinds)?;
        let url = check_target("input.url", &new.url, settings.reach).await?;
        let filter = Self::filter_text(new.filter.as_ref())?;
        let held = self.scoped::<webhook::Entity>()?.count(self.db()).await?;
        if held >= MAX_WEBHOOKS {
            return Err(ApiError::bad_input(
                "input",
                format!("a client may hold at most {MAX_WEBHOOKS} webhooks"),
            ));
        }
        self.write("createWebhook", key, move |tx| {
            Box::pin(async move {
                let who = self.principal();
                let owner = serde_json::to_string(&Owner::of(who)).map_err(ApiError::internal)?;
                let secret = signing::new_secret();
                let now = Utc::now();
                let row = webhook::ActiveModel {
                    owner_sub: Set(who.sub.clone()),
                    owner_client_id: Set(who.client_id.clone()),
                    owner: Set(owner),
                    url: Set(url),
                    event_kinds: Set(kinds),
                    filter: Set(filter),
                    secret: Set(secret.clone()),
                    previous_secret: Set(None),
                    previous_secret_until: Set(None),
                    enabled: Set(true),
                    disabled_reason: Set(None),
                    failing_since: Set(None),
                    // After the log's head (final), not the dispatcher's cursor: it gets every
                    // event committed after it and none from before, however far behind the
                    // dispatcher is (it reads nothing while no webhook is enabled).
                    after_event: Set(log::head(tx.conn()).await?),
                    created_at: Set(now),
                    updated_at: Set(now),
                    version: Set(1),
                    ..Default::default()
                }
                .insert(tx.conn())
                .await?;
                tx.audit(
                    "webhook",
                    row.id,
                    None,
                    None::<&()>,
                    Some(&audited(&row, false)),
                )
                .await?;
                let out = WithSecret {
                    webhook: row,
                    secret,
                };
                Ok(out)
            })
        })
        .await
    }

    pub async fn update_webhook(
        &self,
        edit: WebhookEdit,
        settings: &Settings,
        key: Option<&str>,
    ) -> ApiResult<webhook::Model> {
        self.require(Scope::WebhooksWrite)?;
        let kinds = edit
            .kinds
            .as_deref()
            .map(|k| self.check_kinds("input.eventKinds", k))
            .transpose()?;
        let url = match &edit.url {
            Some(u) => Some(check_target("input.url", u, settings.reach).await?),
            None => None,
        };
        let filter = edit
            .filter
            .as_ref()
            .map(|f| Self::filter_text(f.as_ref()))
            .transpose()?;
        self.write("updateWebhook", key, move |tx| {
            Box::pin(async move {
                let before = self.own_webhook(tx.conn(), edit.id).await?;
                if let Some(v) = edit.expected_version
                    && v != before.version
                {
                    return Err(ApiError::Conflict {
                        message: format!(
                            "the webhook is at version {}, not {v}; reload it and retry",
                            before.version
                        ),
                        current_version: Some(before.version),
                    });
                }
                let mut row = before.clone().into_active_model();
                if let Some(u) = url {
                    row.url = Set(u);
                }
                if let Some(k) = kinds {
                    row.event_kinds = Set(k);
                }
                if let Some(f) = filter {
                    row.filter = Set(f);
                }
                if let Some(on) = edit.enabled {
                    row.enabled = Set(on);
                    row.disabled_reason = Set((!on).then(|| "disabled by its owner".to_owned()));
                    if on {
                        // A fresh start: the failures that disabled it no longer count.
                        row.failing_since = Set(None);
                    }
                }
                row.updated_at = Set(Utc::now());
                row.version = Set(before.version + 1);
                // Conditional on the version read, so a concurrent change is not overwritten.
                let res = webhook::Entity::update_many()
                    .set(row)
                    .filter(webhook::Column::Id.eq(before.id))
                    .filter(webhook::Column::Version.eq(before.version))
                    .exec(tx.conn())
                    .await?;
                if res.rows_affected != 1 {
                    return Err(ApiError::Conflict {
                        message: "the webhook changed meanwhile; reload it and retry".into(),
                        current_version: None,
                    });
                }
                let after = webhook::Entity::find_by_id(before.id)
                    .one(tx.conn())
                    .await?
                    .ok_or(ApiError::NotFound("webhook"))?;
                tx.audit(
                    "webhook",
                    after.id,
                    None,
                    Some(&audited(&before, false)),
                    Some(&audited(&after, false)),
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }

    /// Deletes a webhook with its deliveries; returns its id.
    pub async fn delete_webhook(&self, id: i64, key: Option<&str>) -> ApiResult<i64> {
        self.require(Scope::WebhooksWrite)?;
        self.write("deleteWebhook", key, move |tx| {
            Box::pin(async move {
                let before = self.own_webhook(tx.conn(), id).await?;
                webhook::Entity::delete_by_id(before.id)
                    .exec(tx.conn())
                    .await?;
                tx.audit(
                    "webhook",
                    id,
                    None,
                    Some(&audited(&before, false)),
                    None::<&()>,
                )
                .await?;
                Ok(id)
            })
        })
        .await
    }

    /// A new secret; the previous one keeps signing (a second signature) for `overlap`, so
    /// receivers can switch without missing a delivery.
    pub async fn rotate_webhook_secret(
        &self,
        id: i64,
        settings: &Settings,
        key: Option<&str>,
    ) -> ApiResult<WithSecret> {
        self.require(Scope::WebhooksWrite)?;
        let overlap = TimeDelta::from_std(settings.rotation_overlap).unwrap_or(TimeDelta::days(1));
        self.write("rotateWebhookSecret", key, move |tx| {
            Box::pin(async move {
                let before = self.own_webhook(tx.conn(), id).await?;
                let secret = signing::new_secret();
                let now = Utc::now();
                let mut row = before.clone().into_active_model();
                row.previous_secret = Set(Some(before.secret.clone()));
                row.previous_secret_until = Set(Some(now + overlap));
                row.secret = Set(secret.clone());
                row.updated_at = Set(now);
                row.version = Set(before.version + 1);
                let after = row.update(tx.conn()).await?;
                tx.audit(
                    "webhook",
                    id,
                    None,
                    Some(&audited(&before, false)),
                    Some(&audited(&after, true)),
                )
                .await?;
                let out = WithSecret {
                    webhook: after,
                    secret,
                };
                Ok(out)
            })
        })
        .await
    }

    /// Sends a delivery again (a failed one, or a delivered one the receiver lost), with the
    /// same `webhook-id` and body, under a fresh retry window.
    pub async fn redeliver_webhook_event(
        &self,
        delivery: i64,
        settings: &Settings,
        key: Option<&str>,
    ) -> ApiResult<webhook_delivery::Model> {
        self.require(Scope::WebhooksWrite)?;
        let window = TimeDelta::from_std(settings.retry_window).unwrap_or(TimeDelta::days(1));
        self.write("redeliverWebhookEvent", key, move |tx| {
            Box::pin(async move {
                let before = self
                    .scoped::<webhook_delivery::Entity>()?
                    .filter(webhook_delivery::Column::Id.eq(delivery))
                    .one(tx.conn())
                    .await?
                    .ok_or(ApiError::NotFound("webhook delivery"))?;
                let now = Utc::now();
                let mut row = before.clone().into_active_model();
                row.status = Set(WebhookDeliveryStatus::Pending);
                row.next_attempt_at = Set(now);
                row.retry_until = Set(now + window);
                row.finished_at = Set(None);
                // A lease held by an attempt in flight stands: that attempt finishes first.
                let after = row.update(tx.conn()).await?;
                tx.audit(
                    "webhook_delivery",
                    delivery,
                    None,
                    Some(&before.status),
                    Some(&after.status),
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }

    /// The principal's webhooks, oldest first.
    pub async fn webhooks(&self) -> ApiResult<Vec<webhook::Model>> {
        Ok(self
            .scoped::<webhook::Entity>()?
            .order_by_asc(webhook::Column::Id)
            .all(self.db())
            .await?)
    }

    /// One page of a webhook's deliveries, optionally in one status, oldest first.
    pub async fn webhook_deliveries(
        &self,
        webhook: i64,
        status: Option<WebhookDeliveryStatus>,
        page: page::PageRequest,
    ) -> ApiResult<page::Page<webhook_delivery::Model>> {
        let mut cond = Condition::all().add(webhook_delivery::Column::WebhookId.eq(webhook));
        if let Some(s) = status {
            cond = cond.add(webhook_delivery::Column::Status.eq(s));
        }
        self.list::<webhook_delivery::Entity>(cond, page, &page::Ordering::by_id())
            .await
    }

    /// The attempts of each of `deliveries`, in order.
    pub async fn webhook_attempts(
        &self,
        deliveries: &[i64],
    ) -> ApiResult<HashMap<i64, Vec<webhook_attempt::Model>>> {
        self.children::<webhook_attempt::Entity>(webhook_attempt::Column::DeliveryId, deliveries)
            .await
    }
}

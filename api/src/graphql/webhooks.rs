//! Webhooks in the schema: register, change, rotate and remove them, and read what was sent.
//! Every field needs the `webhooks:write` scope; a caller sees only its own webhooks.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{
    enums::TaskStatus,
    webhook, webhook_attempt,
    webhook_delivery::{self, WebhookDeliveryStatus},
};

use super::{
    connection::{Conn, PageArgs, connection},
    context::CtxExt,
    ids::{Kind, decode_one, encode},
    inputs::area,
};
use crate::{
    error::{ApiError, ApiResult},
    service::{
        page::Page,
        webhooks::{NewWebhook, WebhookEdit, WithSecret},
    },
    webhooks::{EventKind, Filter, Settings, Webhooks},
};

fn settings(ctx: &Context<'_>) -> std::sync::Arc<Settings> {
    ctx.data_opt::<Webhooks>()
        .map(|w| w.settings.clone())
        .unwrap_or_default()
}

fn key(ctx: &Context<'_>, client_mutation_id: &Option<String>) -> Option<String> {
    client_mutation_id.clone().or_else(|| {
        ctx.data_opt::<super::mutation::IdempotencyHeader>()
            .map(|h| h.0.clone())
    })
}

/// Which rows' events a webhook receives, on top of its owner's reach.
#[derive(InputObject, Default)]
pub struct WebhookFilterInput {
    /// Only rows within this state, division, district, block or gram panchayat.
    pub within: Option<ID>,
    /// Only this village, and the tasks, assignments and water-quality tests on it.
    pub village: Option<ID>,
    /// Task events only for this task (other kinds of events are not affected).
    pub task: Option<ID>,
    /// Task events only for tasks now in one of these statuses.
    pub status: Option<Vec<TaskStatus>>,
}

impl WebhookFilterInput {
    fn into_filter(self, argument: &str) -> ApiResult<Filter> {
        if let Some(w) = &self.within {
            area(&format!("{argument}.within"), w)?;
        }
        Ok(Filter {
            within: self.within.map(|w| w.0),
            village: self
                .village
                .map(|v| decode_one(&format!("{argument}.village"), &v, Kind::Village))
                .transpose()?,
            task: self
                .task
                .map(|t| decode_one(&format!("{argument}.task"), &t, Kind::Task))
                .transpose()?,
            status: self.status,
        })
    }
}

/// A webhook's filter, as registered.
#[derive(SimpleObject)]
pub struct WebhookFilter {
    /// Only rows within this area.
    pub within: Option<ID>,
    /// Only this village and what is on it.
    pub village: Option<ID>,
    /// Task events only for this task.
    pub task: Option<ID>,
    /// Task events only for tasks in these statuses.
    pub status: Option<Vec<TaskStatus>>,
}

/// An HTTPS endpoint told of events as they are committed, signed as Standard Webhooks says.
pub struct Webhook(pub webhook::Model);

#[Object]
impl Webhook {
    /// Global id.
    async fn id(&self) -> ID {
        encode(Kind::Webhook, self.0.id)
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The kinds of events it receives.
    async fn event_kinds(&self) -> Vec<EventKind> {
        EventKind::split(&self.0.event_kinds)
    }
    /// Which rows' events it receives (none: every row its owner may read).
    async fn filter(&self) -> Option<WebhookFilter> {
        let f: Filter = serde_json::from_str(self.0.filter.as_deref()?).ok()?;
        Some(WebhookFilter {
            within: f.within.map(ID),
            village: f.village.map(|v| encode(Kind::Village, v)),
            task: f.task.map(|t| encode(Kind::Task, t)),
            status: f.status,
        })
    }
    /// Whether events are being delivered.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Why it is disabled: by its owner, or after every delivery failed for too long.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// Since when every attempt has failed (null after a success).
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }
    /// Until when the secret replaced by the last rotation still signs deliveries too.
    async fn previous_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .previous_secret_until
            .filter(|_| self.0.previous_secret.is_some())
    }
    /// When it was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Changes with every update; pass it as `expectedVersion`.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// One event for one webhook.
pub struct WebhookDelivery {
    row: webhook_delivery::Model,
    attempts: Vec<webhook_attempt::Model>,
}

#[Object]
impl WebhookDelivery {
    /// Global id.
    async fn id(&self) -> ID {
        encode(Kind::WebhookDelivery, self.row.id)
    }
    /// The webhook it is for.
    async fn webhook(&self) -> ID {
        encode(Kind::Webhook, self.row.webhook_id)
    }
    /// The `webhook-id` header: the same on every attempt.
    async fn message_id(&self) -> &str {
        &self.row.message_id
    }
    /// The event kind, dotted (`task.transitioned`).
    async fn event_type(&self) -> &str {
        &self.row.event_kind
    }
    /// The event's position in the event log.
    async fn event_id(&self) -> String {
        self.row.event_id.to_string()
    }
    /// The JSON body sent on every attempt.
    async fn payload(&self) -> &str {
        &self.row.payload
    }
    /// Pending, delivered, or failed for good.
    async fn status(&self) -> WebhookDeliveryStatus {
        self.row.status
    }
    /// Attempts started so far (one may be in flight).
    async fn attempt_count(&self) -> i32 {
        self.row.attempts
    }
    /// When the next attempt is due (while PENDING).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.row.status == WebhookDeliveryStatus::Pending).then_some(self.row.next_attempt_at)
    }
    /// No attempt starts after this; the delivery then fails.
    async fn retry_until(&self) -> DateTime<Utc> {
        self.row.retry_until
    }
    /// When the event was queued for this webhook.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it was delivered or failed for good.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.row.finished_at
    }
    /// The receiver's last HTTP status.
    async fn last_status_code(&self) -> Option<i32> {
        self.row.last_status_code
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.row.last_error.as_deref()
    }
    /// Every finished attempt, in order.
    async fn attempts(&self) -> Vec<WebhookAttempt> {
        self.attempts.iter().cloned().map(WebhookAttempt).collect()
    }
}

/// One HTTP attempt of a delivery.
pub struct WebhookAttempt(webhook_attempt::Model);

#[Object]
impl WebhookAttempt {
    /// 1 for the first attempt.
    async fn number(&self) -> i32 {
        self.0.attempt
    }
    /// When the request was sent.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// How long the receiver took (or until the attempt gave up), in milliseconds.
    async fn duration_ms(&self) -> i32 {
        self.0.duration_ms
    }
    /// The receiver's HTTP status, when it answered.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    /// Why it failed (no answer, a refused address, a non-2xx status).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The start of the receiver's response body (at most 1 KiB is kept).
    async fn response(&self) -> Option<&str> {
        self.0.response.as_deref()
    }
}

#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// An https URL on a public address.
    pub url: String,
    /// At least one; kinds of rows the caller may not read are refused.
    pub event_kinds: Vec<EventKind>,
    /// Which rows' events it receives (default: every row the caller may read).
    pub filter: Option<WebhookFilterInput>,
    /// Idempotency key: a retry with the same key returns the first result (secret included).
    pub client_mutation_id: Option<String>,
}

/// A webhook and its signing secret. The secret is shown only here and by
/// `rotateWebhookSecret`; keep it where the receiver can read it.
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    /// The webhook.
    pub webhook: Webhook,
    /// `whsec_…`: the Standard Webhooks signing secret.
    pub secret: String,
    /// The idempotency key sent, if any.
    pub client_mutation_id: Option<String>,
}

fn secret_payload(w: WithSecret, client_mutation_id: Option<String>) -> WebhookSecretPayload {
    WebhookSecretPayload {
        webhook: Webhook(w.webhook),
        secret: w.secret,
        client_mutation_id,
    }
}

#[derive(InputObject)]
pub struct UpdateWebhookInput {
    /// The webhook to change.
    pub id: ID,
    /// When given, the change is refused if the webhook has changed since this version.
    pub expected_version: Option<i32>,
    /// A new https URL on a public address.
    pub url: Option<String>,
    /// Replaces the event kinds.
    pub event_kinds: Option<Vec<EventKind>>,
    /// Replaces the filter.
    pub filter: Option<WebhookFilterInput>,
    /// Remove the filter.
    #[graphql(default)]
    pub clear_filter: bool,
    /// Pause (false) or resume (true) deliveries; resuming clears a disabled reason.
    pub enabled: Option<bool>,
    /// Idempotency key: a retry with the same key returns the first result.
    pub client_mutation_id: Option<String>,
}

/// A changed webhook.
#[derive(SimpleObject)]
pub struct WebhookPayload {
    /// The webhook as it is now.
    pub webhook: Webhook,
    /// The idempotency key sent, if any.
    pub client_mutation_id: Option<String>,
}

/// A removed webhook.
#[derive(SimpleObject)]
pub struct DeleteWebhookPayload {
    /// The id of the webhook removed (with its deliveries).
    pub deleted_id: ID,
    /// The idempotency key sent, if any.
    pub client_mutation_id: Option<String>,
}

/// A delivery queued again.
#[derive(SimpleObject)]
pub struct WebhookDeliveryPayload {
    /// The delivery, due now.
    pub delivery: WebhookDelivery,
    /// The idempotency key sent, if any.
    pub client_mutation_id: Option<String>,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The caller's webhooks, oldest first.
    async fn webhooks(&self, ctx: &Context<'_>) -> ApiResult<Vec<Webhook>> {
        let svc = ctx.svc()?;
        svc.require(crate::principal::Scope::WebhooksWrite)?;
        Ok(svc.webhooks().await?.into_iter().map(Webhook).collect())
    }

    /// Deliveries of one of the caller's webhooks, oldest first, with their attempts.
    #[graphql(complexity = "super::limits::page(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "One of the caller's webhooks.")] webhook: ID,
        #[graphql(desc = "Only deliveries in this status.")] status: Option<WebhookDeliveryStatus>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<WebhookDelivery>> {
        let svc = ctx.svc()?;
        svc.require(crate::principal::Scope::WebhooksWrite)?;
        let hook = decode_one("webhook", &webhook, Kind::Webhook)?;
        let page = PageArgs::new(after, before, first, last).request(ctx.limits())?;
        let page = svc.webhook_deliveries(hook, status, page).await?;
        let ids: Vec<i64> = page.rows.iter().map(|d| d.id).collect();
        // Every delivery's attempts in one statement.
        let mut attempts = svc.webhook_attempts(&ids).await?;
        let Page {
            rows,
            cursors,
            has_previous,
            has_next,
            total,
        } = page;
        let rows = rows
            .into_iter()
            .map(|d| WebhookDelivery {
                attempts: attempts.remove(&d.id).unwrap_or_default(),
                row: d,
            })
            .collect();
        let page = Page {
            rows,
            cursors,
            has_previous,
            has_next,
            total,
        };
        Ok(connection(page, |d| d))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Register a webhook for the caller. It acts with the caller's role, scopes and reach: an
    /// event is delivered only when the caller could read the changed row at delivery time,
    /// with only the fields it could read. Its signing secret is returned once.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> ApiResult<WebhookSecretPayload> {
        let svc = ctx.svc()?;
        let k = key(ctx, &input.client_mutation_id);
        let new = NewWebhook {
            url: input.url,
            kinds: input.event_kinds,
            filter: input
                .filter
                .map(|f| f.into_filter("input.filter"))
                .transpose()?,
        };
        let done = svc
            .create_webhook(new, &settings(ctx), k.as_deref())
            .await?;
        Ok(secret_payload(done, input.client_mutation_id))
    }

    /// Change one of the caller's webhooks.
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookInput,
    ) -> ApiResult<WebhookPayload> {
        let svc = ctx.svc()?;
        let k = key(ctx, &input.client_mutation_id);
        if input.clear_filter && input.filter.is_some() {
            return Err(ApiError::bad_input(
                "input.clearFilter",
                "give `filter` or `clearFilter`, not both",
            ));
        }
        let filter = match (input.filter, input.clear_filter) {
            (Some(f), _) => Some(Some(f.into_filter("input.filter")?)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let edit = WebhookEdit {
            id: decode_one("input.id", &input.id, Kind::Webhook)?,
            expected_version: input.expected_version,
            url: input.url,
            kinds: input.event_kinds,
            filter,
            enabled: input.enabled,
        };
        let done = svc
            .update_webhook(edit, &settings(ctx), k.as_deref())
            .await?;
        if let Some(w) = ctx.data_opt::<Webhooks>() {
            w.wake.notify_one();
        }
        Ok(WebhookPayload {
            webhook: Webhook(done),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Remove one of the caller's webhooks and its deliveries.
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        client_mutation_id: Option<String>,
    ) -> ApiResult<DeleteWebhookPayload> {
        let svc = ctx.svc()?;
        let k = key(ctx, &client_mutation_id);
        let n = decode_one("id", &id, Kind::Webhook)?;
        let gone = svc.delete_webhook(n, k.as_deref()).await?;
        Ok(DeleteWebhookPayload {
            deleted_id: encode(Kind::Webhook, gone),
            client_mutation_id,
        })
    }

    /// Replace a webhook's signing secret. The old one keeps signing next to it (a second
    /// `v1,` signature) for a day, so the receiver can switch without missing a delivery.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
        client_mutation_id: Option<String>,
    ) -> ApiResult<WebhookSecretPayload> {
        let svc = ctx.svc()?;
        let k = key(ctx, &client_mutation_id);
        let n = decode_one("id", &id, Kind::Webhook)?;
        let done = svc
            .rotate_webhook_secret(n, &settings(ctx), k.as_deref())
            .await?;
        Ok(secret_payload(done, client_mutation_id))
    }

    /// Send a delivery again, with the same `webhook-id` and body, under a fresh retry window:
    /// a failed (dead-lettered) one, or a delivered one the receiver lost.
    async fn redeliver_webhook_event(
        &self,
        ctx: &Context<'_>,
        delivery: ID,
        client_mutation_id: Option<String>,
    ) -> ApiResult<WebhookDeliveryPayload> {
        let svc = ctx.svc()?;
        let k = key(ctx, &client_mutation_id);
        let n = decode_one("delivery", &delivery, Kind::WebhookDelivery)?;
        let row = svc
            .redeliver_webhook_event(n, &settings(ctx), k.as_deref())
            .await?;
        let attempts = svc.webhook_attempts(&[row.id]).await?.remove(&row.id);
        if let Some(w) = ctx.data_opt::<Webhooks>() {
            w.wake.notify_one();
        }
        Ok(WebhookDeliveryPayload {
            delivery: WebhookDelivery {
                row,
                attempts: attempts.unwrap_or_default(),
            },
            client_mutation_id,
        })
    }
}

//! Subscriptions over WebSocket (`/graphql/ws`), in the graphql-transport-ws protocol or the
//! legacy graphql-ws one. The bearer token comes in `connection_init`
//! (`{"Authorization": "Bearer …"}`), read by [`Caller`] as over HTTP.
//!
//! async-graphql runs the protocol; this module puts in the close codes graphql-transport-ws
//! defines where the library uses generic ones (4400 bad message, 4401 subscribe before the
//! acknowledgement, 4403 refused `connection_init`, 4408 no `connection_init` in time; 4429 too
//! many is the library's own), refuses browser origins that are not allowed, and closes every
//! socket with 1001 when the server stops.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    Data,
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage},
};
use axum::{
    extract::{
        State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};

use crate::{
    caller::Caller,
    error::{ApiError, code},
    graphql::{self, batches::Batches},
    http::AppState,
    service::Service,
};

/// How long a client has to send `connection_init` (and have it accepted) after connecting.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The WebSocket side of a graceful shutdown: connections watch it, and the server waits for
/// them to close. The default never fires (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    signal: Option<watch::Receiver<bool>>,
    /// Held (never used) by every open connection: the server's receiver sees the channel
    /// close when the last one is dropped.
    _live: Option<mpsc::Sender<()>>,
}

/// The server's side: start the shutdown, then wait for the sockets to close.
pub struct ShutdownTrigger {
    signal: watch::Sender<bool>,
    live: mpsc::Receiver<()>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Self) {
        let (signal_tx, signal_rx) = watch::channel(false);
        let (live_tx, live_rx) = mpsc::channel(1);
        (
            ShutdownTrigger {
                signal: signal_tx,
                live: live_rx,
            },
            Self {
                signal: Some(signal_rx),
                _live: Some(live_tx),
            },
        )
    }

    async fn requested(&mut self) {
        match &mut self.signal {
            Some(rx) => {
                let _ = rx.wait_for(|stop| *stop).await;
            }
            None => std::future::pending().await,
        }
    }
}

impl ShutdownTrigger {
    /// Tells every open WebSocket to close.
    pub fn start(&self) {
        let _ = self.signal.send(true);
    }

    /// Waits (at most `limit`) until every WebSocket closed; the router and every clone of
    /// its state must be gone by then.
    pub async fn drained(mut self, limit: Duration) {
        self.start();
        let _ = tokio::time::timeout(limit, self.live.recv()).await;
    }
}

/// The first subprotocol the client offers that async-graphql speaks.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|p| p.trim().parse().ok()))
}

pub async fn graphql_ws(
    State(st): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol(&headers) else {
        return ApiError::refused(
            code::BAD_REQUEST,
            "offer the graphql-transport-ws (or legacy graphql-ws) subprotocol",
        )
        .into_response();
    };
    if !st.options.allowed_origins.allows_socket(&headers) {
        return ApiError::refused(
            code::FORBIDDEN,
            "this origin may not open a WebSocket here (see --cors-allow-origins)",
        )
        .into_response();
    }
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(st, socket, protocol))
}

/// The read buffer of each WebSocket. tungstenite's default is 128 KiB, and it zero-fills the
/// whole buffer before its first read, so every connection held 128 KiB resident: 125 MB for a
/// thousand subscribers, most of the server's memory. A client sends small messages (init,
/// subscribe, ping, complete); a larger frame still arrives whole, the buffer growing for it.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Where a connection is in the handshake, for choosing close codes.
const WAITING: u8 = 0;
const INIT_SENT: u8 = 1;
const ACKNOWLEDGED: u8 = 2;

async fn serve(st: AppState, socket: WebSocket, protocol: WebSocketProtocols) {
    let mut shutdown = st.options.shutdown.clone();
    let transport_ws = protocol == WebSocketProtocols::GraphQLWS;
    let phase = Arc::new(AtomicU8::new(WAITING));
    let (mut sink, stream) = socket.split();
    let seen = phase.clone();
    let input = stream
        .take_while(|m| futures_util::future::ready(m.is_ok()))
        .filter_map(move |m| {
            let data = match m {
                Ok(Message::Text(t)) => Some(t.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            };
            if let Some(d) = &data
                && seen.load(Ordering::Acquire) == WAITING
                && is_connection_init(d)
            {
                seen.store(INIT_SENT, Ordering::Release);
            }
            futures_util::future::ready(data)
        });
    let schema = st.schema.clone();
    let init_state = st.clone();
    let out = async_graphql::http::WebSocket::new(schema, input, protocol)
        .on_connection_init(move |payload| init(init_state, payload));
    futures_util::pin_mut!(out);
    let deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let msg = tokio::select! {
            msg = out.next() => match msg {
                Some(m) => m,
                None => break,
            },
            () = &mut deadline, if phase.load(Ordering::Acquire) != ACKNOWLEDGED => {
                WsMessage::Close(4408, "Connection initialisation timeout".into())
            }
            () = shutdown.requested() => WsMessage::Close(1001, "server shutting down".into()),
        };
        let msg = match msg {
            WsMessage::Text(text) => {
                if text.starts_with(r#"{"type":"connection_ack""#) {
                    phase.store(ACKNOWLEDGED, Ordering::Release);
                }
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let code = if transport_ws {
                    transport_ws_code(code, phase.load(Ordering::Acquire))
                } else {
                    code
                };
                let frame = CloseFrame {
                    code,
                    reason: truncate(reason, 123).into(),
                };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        };
        if sink.send(msg).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    drop(st);
}

/// graphql-transport-ws's codes for the generic ones async-graphql closes with.
fn transport_ws_code(code: u16, phase: u8) -> u16 {
    match code {
        // A refused `connection_init` (the only failure while it is being checked).
        1002 if phase == INIT_SENT => 4403,
        // A message that is not one of the protocol's.
        1002 => 4400,
        // `subscribe` before `connection_ack`.
        1011 => 4401,
        other => other,
    }
}

fn is_connection_init(data: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("connection_init"))
}

/// A close reason fits in 123 bytes; cut at a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

async fn init(st: AppState, payload: serde_json::Value) -> async_graphql::Result<Data> {
    let who = Caller::from_connection_init(&st.auth, &payload)
        .await
        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
    check_consistency_token(&payload)?;
    let svc = Service::new(st.db.clone(), who).with_bus(st.bus.clone());
    let mut data = Data::default();
    let window = st
        .options
        .batch_window
        .max(graphql::loaders::SUBSCRIPTION_BATCH_WINDOW);
    graphql::loaders::attach(&mut data, svc, &Batches::after(window));
    Ok(data)
}

/// Everything over a WebSocket runs on the primary (a subscription's re-reads must), so a
/// consistency token is always satisfied there; it is still checked, so a client learns of a
/// bad one.
fn check_consistency_token(payload: &serde_json::Value) -> async_graphql::Result<()> {
    let token = [
        "Sangam-Consistency",
        "sangam-consistency",
        "sangamConsistency",
    ]
    .iter()
    .find_map(|k| payload.get(*k));
    if let Some(token) = token {
        token
            .as_str()
            .ok_or_else(|| "not a string".to_owned())
            .and_then(str::parse::<crate::replica::Lsn>)
            .map_err(|why| {
                async_graphql::Error::new(format!("malformed Sangam-Consistency: {why}"))
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        assert_eq!(transport_ws_code(1002, INIT_SENT), 4403);
        assert_eq!(transport_ws_code(1002, WAITING), 4400);
        assert_eq!(transport_ws_code(1002, ACKNOWLEDGED), 4400);
        assert_eq!(transport_ws_code(1011, WAITING), 4401);
        assert_eq!(transport_ws_code(4429, ACKNOWLEDGED), 4429);
        assert_eq!(truncate("é".repeat(100), 123).len(), 122);
    }
}

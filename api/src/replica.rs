//! Reads from a replica (opt-in, `--database-read-url`), never back in time for a caller.
//!
//! A write's response carries the WAL position its commit reached (the consistency token, in the
//! `Sangam-Consistency` header). A read that sends a token back runs on the replica only once the
//! replica has replayed that far; otherwise on the primary. Every read on the replica also needs
//! the replica to be at most `max_lag` behind, so callers without a token see data no older than
//! that. Mutations, subscriptions' re-reads and token checks never come here: they use the
//! primary.
//!
//! The replica's state is probed at most every [`PROBE_EVERY`] and reused in between. A replay
//! position only moves forward, so a remembered one is a lower bound of the present: routing on
//! it can send a read to the primary needlessly, never to a replica that is behind. The lag a
//! remembered probe reports is aged by the probe's age for the same reason.

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The header a write's token comes back in and a read sends it in.
pub const HEADER: &str = "sangam-consistency";

/// How long a probe of the replica is reused.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);

/// Longest a probe may take before the replica counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long an unreachable replica is left alone before it is probed again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A position in PostgreSQL's write-ahead log, written as PostgreSQL writes it (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a consistency token (expected e.g. 16/B374D848)");
        let (hi, lo) = s.trim().split_once('/').ok_or_else(bad)?;
        let part = |p: &str| {
            if p.is_empty() || p.len() > 8 {
                return Err(bad());
            }
            u32::from_str_radix(p, 16).map_err(|_| bad())
        };
        Ok(Self((u64::from(part(hi)?) << 32) | u64::from(part(lo)?)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// What a probe of the read server found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaState {
    /// How far it has replayed; `None` when it is not in recovery (not a replica at all).
    pub replayed: Option<Lsn>,
    /// How far behind the primary it is; `None` when that cannot be told (not streaming).
    pub lag: Option<Duration>,
}

/// Where a read runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Replica,
    Primary(Why),
}

/// Why a read runs on the primary although a replica is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The caller's token is ahead of what the replica has replayed.
    Behind,
    /// The replica is further behind than the bound, or cannot tell how far.
    Lagging,
    /// The replica did not answer the probe.
    Unreachable,
    /// The read server is not in recovery: perhaps a former primary, which may lack the newest
    /// writes, so it is not trusted with reads.
    NotReplica,
}

impl Why {
    fn index(self) -> usize {
        match self {
            Self::Behind => 0,
            Self::Lagging => 1,
            Self::Unreachable => 2,
            Self::NotReplica => 3,
        }
    }

    fn label(self) -> &'static str {
        ["behind", "lagging", "unreachable", "not_replica"][self.index()]
    }

    const ALL: [Why; 4] = [
        Self::Behind,
        Self::Lagging,
        Self::Unreachable,
        Self::NotReplica,
    ];
}

/// The routing rule itself: the replica when it has replayed the caller's token (if any) and is
/// within `max_lag`; else the primary. `replica` is `None` when the probe failed.
pub fn route(token: Option<Lsn>, replica: Option<&ReplicaState>, max_lag: Duration) -> Target {
    let Some(state) = replica else {
        return Target::Primary(Why::Unreachable);
    };
    let Some(replayed) = state.replayed else {
        return Target::Primary(Why::NotReplica);
    };
    if token.is_some_and(|t| replayed < t) {
        return Target::Primary(Why::Behind);
    }
    match state.lag {
        Some(lag) if lag <= max_lag => Target::Replica,
        _ => Target::Primary(Why::Lagging),
    }
}

/// Asks the read server how far it is.
pub type Probe = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<ReplicaState>> + Send + Sync>;

/// The replica, its last probe, and the bound on its lag.
#[derive(Clone)]
pub struct Reads {
    replica: DatabaseConnection,
    max_lag: Duration,
    probe: Probe,
    probe_every: Duration,
    last: Arc<tokio::sync::Mutex<Option<Probed>>>,
    stats: Arc<Stats>,
}

/// What `/metrics` shows about routing.
#[derive(Debug)]
struct Stats {
    on_replica: AtomicU64,
    on_primary: [AtomicU64; 4],
    /// The last probe's lag in milliseconds; `u64::MAX` when unknown or never probed.
    lag_millis: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            on_replica: AtomicU64::new(0),
            on_primary: Default::default(),
            lag_millis: AtomicU64::new(u64::MAX),
        }
    }
}

/// When the replica was last probed, and what was found (`None`: it did not answer).
type Probed = (Instant, Option<ReplicaState>);

impl fmt::Debug for Reads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reads")
            .field("max_lag", &self.max_lag)
            .finish_non_exhaustive()
    }
}

impl Reads {
    /// Reads on `replica`, probed with SQL.
    pub fn new(replica: DatabaseConnection, max_lag: Duration) -> Self {
        let db = replica.clone();
        let probe: Probe = Arc::new(move || {
            let db = db.clone();
            Box::pin(async move { probe_sql(&db).await })
        });
        Self::with_probe(replica, max_lag, probe)
    }

    /// Reads on `replica`, whose state `probe` tells (tests stand in for a real replica).
    pub fn with_probe(replica: DatabaseConnection, max_lag: Duration, probe: Probe) -> Self {
        Self {
            replica,
            max_lag,
            probe,
            probe_every: PROBE_EVERY,
            last: Arc::new(tokio::sync::Mutex::new(None)),
            stats: Arc::default(),
        }
    }

    /// Reuses a probe for `every` instead of [`PROBE_EVERY`] (zero: probe for every read).
    pub fn probe_every(mut self, every: Duration) -> Self {
        self.probe_every = every;
        self
    }

    pub fn replica(&self) -> &DatabaseConnection {
        &self.replica
    }

    /// Where a read with `token` runs now; counted in the metrics.
    pub async fn target(&self, token: Option<Lsn>) -> Target {
        let state = self.state().await;
        let target = route(token, state.as_ref(), self.max_lag);
        match target {
            Target::Replica => &self.stats.on_replica,
            Target::Primary(why) => &self.stats.on_primary[why.index()],
        }
        .fetch_add(1, Ordering::Relaxed);
        target
    }

    /// The replica's state, probed again when the last probe is too old. One probe at a time:
    /// requests arriving meanwhile wait for it rather than probing too.
    async fn state(&self) -> Option<ReplicaState> {
        let mut last = self.last.lock().await;
        if let Some((at, state)) = *last {
            let fresh = match state {
                Some(_) => self.probe_every,
                None => RETRY_AFTER.min(self.probe_every * 10),
            };
            if at.elapsed() < fresh {
                return state.map(|s| aged(s, at.elapsed()));
            }
        }
        let at = Instant::now();
        let state = match tokio::time::timeout(PROBE_TIMEOUT, (self.probe)()).await {
            Ok(Ok(state)) => Some(state),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "replica probe failed; reading from the primary");
                None
            }
            Err(_) => {
                tracing::warn!("replica probe timed out; reading from the primary");
                None
            }
        };
        let lag_ms = state.and_then(|s| s.lag).map_or(u64::MAX, |l| {
            u64::try_from(l.as_millis()).unwrap_or(u64::MAX)
        });
        self.stats.lag_millis.store(lag_ms, Ordering::Relaxed);
        *last = Some((at, state));
        state.map(|s| aged(s, at.elapsed()))
    }
}

fn aged(mut s: ReplicaState, by: Duration) -> ReplicaState {
    s.lag = s.lag.map(|l| l + by);
    s
}

/// The read server's replay position and lag. When it has replayed all it received and its WAL
/// receiver is streaming it is current (the primary may simply be idle, so the age of the last
/// replayed transaction says nothing); otherwise it is as old as that last transaction.
pub async fn probe_sql(db: &DatabaseConnection) -> anyhow::Result<ReplicaState> {
    const SQL: &str = "SELECT pg_is_in_recovery() AS recovering, \
         pg_last_wal_replay_lsn()::text AS replayed, \
         (CASE \
            WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN NULL \
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) \
          END)::float8 AS lag";
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, SQL))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the replica probe returned no row"))?;
    let recovering: bool = row.try_get("", "recovering")?;
    let replayed: Option<String> = row.try_get("", "replayed")?;
    let lag: Option<f64> = row.try_get("", "lag")?;
    let replayed = match (recovering, replayed) {
        (true, Some(text)) => Some(text.parse::<Lsn>().map_err(anyhow::Error::msg)?),
        _ => None,
    };
    Ok(ReplicaState {
        replayed,
        lag: lag.map(|s| Duration::from_secs_f64(s.max(0.0))),
    })
}

/// The primary's WAL position now. Asked right after a commit, it is at or past the commit
/// record: the insert position, not the write or flush position, so that it holds whatever
/// `synchronous_commit` says.
pub async fn wal_position<C: ConnectionTrait>(db: &C) -> Result<Lsn, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_wal_insert_lsn()::text AS lsn",
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no WAL position".into()))?;
    let text: String = row.try_get("", "lsn")?;
    text.parse().map_err(sea_orm::DbErr::Custom)
}

/// The highest WAL position a request's writes reached: what its response hands back.
#[derive(Debug, Default)]
pub struct Written(AtomicU64);

impl Written {
    pub fn record(&self, lsn: Lsn) {
        self.0.fetch_max(lsn.0, Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<Lsn> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Lsn(n)),
        }
    }
}

impl Reads {
    /// Replica lag and where queries ran, in Prometheus' text format.
    pub fn render_metrics(&self) -> String {
        let stats = &self.stats;
        let lag = match stats.lag_millis.load(Ordering::Relaxed) {
            u64::MAX => "NaN".to_owned(),
            ms => format!("{:.3}", ms as f64 / 1000.0),
        };
        let mut out = format!(
            "# HELP sangam_replica_lag_seconds How far the read replica was behind the primary at its last probe (NaN: unknown or unreachable).\n\
             # TYPE sangam_replica_lag_seconds gauge\n\
             sangam_replica_lag_seconds {lag}\n\
             # HELP sangam_reads_total GraphQL query operations by where they ran and why.\n\
             # TYPE sangam_reads_total counter\n\
             sangam_reads_total{{on=\"replica\",why=\"fresh\"}} {}\n",
            stats.on_replica.load(Ordering::Relaxed)
        );
        for why in Why::ALL {
            out.push_str(&format!(
                "sangam_reads_total{{on=\"primary\",why=\"{}\"}} {}\n",
                why.label(),
                stats.on_primary[why.index()].load(Ordering::Relaxed)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    fn at(replayed: u64, lag_secs: u64) -> ReplicaState {
        ReplicaState {
            replayed: Some(Lsn(replayed)),
            lag: Some(Duration::from_secs(lag_secs)),
        }
    }

    #[test]
    fn tokens_read_and_write_as_postgresql_does() {
        let lsn: Lsn = "16/B374D848".parse().expect("valid");
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().expect("valid"), Lsn(0));
        for bad in ["", "16", "16/", "/1", "x/1", "1/123456789", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad:?} accepted");
        }
        assert!("0/A".parse::<Lsn>().expect("valid") < "1/0".parse::<Lsn>().expect("valid"));
    }

    #[test]
    fn a_token_ahead_of_the_replica_reads_from_the_primary() {
        assert_eq!(
            route(Some(Lsn(200)), Some(&at(100, 0)), BOUND),
            Target::Primary(Why::Behind)
        );
    }

    #[test]
    fn a_replica_that_caught_up_serves_the_read() {
        assert_eq!(
            route(Some(Lsn(100)), Some(&at(100, 0)), BOUND),
            Target::Replica
        );
        assert_eq!(
            route(Some(Lsn(99)), Some(&at(100, 1)), BOUND),
            Target::Replica
        );
        assert_eq!(route(None, Some(&at(100, 5)), BOUND), Target::Replica);
    }

    #[test]
    fn lag_over_the_bound_reads_from_the_primary() {
        assert_eq!(
            route(None, Some(&at(100, 6)), BOUND),
            Target::Primary(Why::Lagging)
        );
        assert_eq!(
            route(Some(Lsn(1)), Some(&at(100, 6)), BOUND),
            Target::Primary(Why::Lagging)
        );
        let unknown = ReplicaState {
            replayed: Some(Lsn(100)),
            lag: None,
        };
        assert_eq!(
            route(None, Some(&unknown), BOUND),
            Target::Primary(Why::Lagging)
        );
    }

    #[test]
    fn an_unreachable_or_promoted_read_server_is_not_used() {
        assert_eq!(route(None, None, BOUND), Target::Primary(Why::Unreachable));
        let primary = ReplicaState {
            replayed: None,
            lag: Some(Duration::ZERO),
        };
        assert_eq!(
            route(None, Some(&primary), BOUND),
            Target::Primary(Why::NotReplica)
        );
    }

    #[test]
    fn writes_hand_back_their_highest_position() {
        let w = Written::default();
        assert_eq!(w.get(), None);
        w.record(Lsn(7));
        w.record(Lsn(3));
        assert_eq!(w.get(), Some(Lsn(7)));
    }
}

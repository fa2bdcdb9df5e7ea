//! Binary Star: a primary/backup pair of brokers of which at most one
//! serves clients (the zguide's chapter 4 pattern, in this project's own
//! code).
//!
//! Each broker publishes its state on a PUB socket every heartbeat and
//! subscribes to its peer's. A state message is one frame: the state as
//! one ASCII digit (`1` primary, `2` backup, `3` active, `4` passive).
//! The peer counts as gone when nothing came from it for two heartbeats.
//!
//! The state machine ([`Fsm`]):
//!
//! | state | event | next |
//! |---|---|---|
//! | primary | peer is backup | active |
//! | primary | peer is active | passive |
//! | primary | client request | serves it (a primary without a peer serves) |
//! | backup | peer is active | passive |
//! | backup | client request | refused (dropped) |
//! | active | peer is active | the backup steps down to passive (the guide aborts instead) |
//! | passive | peer is primary or backup | active (the peer restarted) |
//! | passive | peer is passive | the primary becomes active (the guide aborts instead) |
//! | passive | client request, peer silent for 2 heartbeats | active: failover |
//! | passive | client request, peer alive | refused (dropped) |
//!
//! The rule that prevents split brain: a passive broker takes over only
//! when its peer is silent **and** a client request reaches it. A
//! network split that leaves the clients on the primary's side never
//! makes the backup active, since no request reaches it.
//!
//! Each change is logged as one line, `bstar role role=<new>
//! previous=<old> event=<why>`, and published in
//! `zgreen_bstar_state{state}` (1 for the current state).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zgreen::zmq::Socket;

use crate::metrics::Metrics;

/// A broker's Binary Star state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Configured primary, peer not seen yet (serves clients).
    Primary,
    /// Configured backup, peer not seen yet (refuses clients).
    Backup,
    /// Serving clients.
    Active,
    /// Standing by: refuses clients until it takes over.
    Passive,
}

impl State {
    /// The state's name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            State::Primary => "primary",
            State::Backup => "backup",
            State::Active => "active",
            State::Passive => "passive",
        }
    }

    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            State::Primary => b'1',
            State::Backup => b'2',
            State::Active => b'3',
            State::Passive => b'4',
        }
    }

    /// Parses a state message (one frame, one ASCII digit).
    pub fn parse(frame: &[u8]) -> Option<State> {
        match frame {
            b"1" => Some(State::Primary),
            b"2" => Some(State::Backup),
            b"3" => Some(State::Active),
            b"4" => Some(State::Passive),
            _ => None,
        }
    }

    /// Every state.
    pub const ALL: [State; 4] = [State::Primary, State::Backup, State::Active, State::Passive];
}

/// What a broker was configured as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Starts as primary: active unless it finds an active peer.
    Primary,
    /// Starts as backup: passive while the primary lives.
    Backup,
}

/// The state machine of one broker of the pair.
#[derive(Debug)]
pub struct Fsm {
    role: Role,
    state: State,
    /// When the peer counts as gone (two heartbeats after its last message).
    peer_expiry: Option<Instant>,
    window: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl Fsm {
    /// A broker configured as `role`, with state heartbeats every
    /// `heartbeat`.
    pub fn new(role: Role, heartbeat: Duration, metrics: Option<Arc<Metrics>>) -> Fsm {
        let state = match role {
            Role::Primary => State::Primary,
            Role::Backup => State::Backup,
        };
        let fsm = Fsm {
            role,
            state,
            peer_expiry: None,
            window: heartbeat * 2,
            metrics,
        };
        tracing::info!(role = %state.name(), previous = %"none", event = %"start", "bstar role");
        fsm.publish();
        fsm
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    fn publish(&self) {
        if let Some(m) = &self.metrics {
            for s in State::ALL {
                m.set_bstar_state(s.name(), s == self.state);
            }
        }
    }

    fn go(&mut self, to: State, event: &str) {
        if to == self.state {
            return;
        }
        tracing::info!(role = %to.name(), previous = %self.state.name(), event = %event, "bstar role");
        self.state = to;
        self.publish();
    }

    /// The peer said it is in `peer`, at `now`.
    pub fn on_peer(&mut self, peer: State, now: Instant) {
        self.peer_expiry = Some(now + self.window);
        match (self.state, peer) {
            (State::Primary, State::Backup) => self.go(State::Active, "peer_backup"),
            (State::Primary, State::Active) => self.go(State::Passive, "peer_active"),
            (State::Backup, State::Active) => self.go(State::Passive, "peer_active"),
            (State::Active, State::Active) => {
                tracing::error!("bstar: both brokers are active (dual active)");
                if self.role == Role::Backup {
                    self.go(State::Passive, "dual_active_backup_yields");
                }
            }
            (State::Passive, State::Primary) => self.go(State::Active, "peer_primary_restarted"),
            (State::Passive, State::Backup) => self.go(State::Active, "peer_backup_restarted"),
            (State::Passive, State::Passive) => {
                tracing::error!("bstar: both brokers are passive (dual passive)");
                if self.role == Role::Primary {
                    self.go(State::Active, "dual_passive_primary_takes_over");
                }
            }
            _ => {}
        }
    }

    /// A client request arrived at `now`: true if this broker serves it
    /// (possibly after taking over), false if it must be dropped.
    pub fn on_client(&mut self, now: Instant) -> bool {
        match self.state {
            State::Primary | State::Active => true,
            State::Backup => false,
            State::Passive => {
                if self.peer_expiry.is_none_or(|e| now >= e) {
                    self.go(State::Active, "client_request_peer_silent");
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// The state sockets and their heartbeat.
#[derive(Debug)]
pub struct Peer {
    /// Bound PUB: this broker's state.
    pub publisher: Socket,
    /// SUB connected to the peer's PUB (subscribed to everything).
    pub subscriber: Socket,
    /// Interval between state messages.
    pub heartbeat: Duration,
}

/// Publishes the state every heartbeat and feeds the peer's messages to
/// `fsm`, until killed. Malformed state messages are dropped, counted as
/// `reason="bstar_bad_state"` and logged at most once a heartbeat.
pub fn run(peer: &Peer, fsm: &Rc<RefCell<Fsm>>, metrics: Option<&Metrics>) -> zgreen::Result<()> {
    let mut next = Instant::now();
    let mut warned = Instant::now()
        .checked_sub(peer.heartbeat)
        .unwrap_or_else(Instant::now);
    loop {
        let now = Instant::now();
        if now >= next {
            let state = fsm.borrow().state();
            match peer.publisher.send([state.byte()].as_slice(), zmq::DONTWAIT) {
                Ok(()) | Err(zgreen::Error::Zmq(zmq::Error::EAGAIN)) => {}
                Err(e) => return Err(e),
            }
            next = now + peer.heartbeat;
        }
        let wait = next.saturating_duration_since(Instant::now());
        match peer.subscriber.recv_multipart_timeout(0, wait) {
            Ok(frames) => match frames.as_slice() {
                [f] if State::parse(f).is_some() => {
                    let s = State::parse(f).expect("checked");
                    fsm.borrow_mut().on_peer(s, Instant::now());
                }
                _ => {
                    if let Some(m) = metrics {
                        m.dropped("bstar_bad_state");
                    }
                    if warned.elapsed() >= peer.heartbeat {
                        warned = Instant::now();
                        tracing::warn!(frames = frames.len(), "malformed bstar state message dropped");
                    }
                }
            },
            Err(zgreen::Error::Timeout(t)) if t.id == 0 => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HB: Duration = Duration::from_millis(100);

    #[test]
    fn a_pair_settles_as_active_primary_and_passive_backup() {
        let t = Instant::now();
        let (mut p, mut b) = (
            Fsm::new(Role::Primary, HB, None),
            Fsm::new(Role::Backup, HB, None),
        );
        assert!(!b.on_client(t), "a backup alone refuses clients");
        assert!(p.on_client(t), "a primary alone serves");
        p.on_peer(b.state(), t);
        b.on_peer(p.state(), t);
        assert_eq!((p.state(), b.state()), (State::Active, State::Passive));
    }

    #[test]
    fn the_backup_takes_over_only_when_the_primary_is_silent_and_a_client_asks() {
        let t = Instant::now();
        let mut b = Fsm::new(Role::Backup, HB, None);
        b.on_peer(State::Active, t);
        assert_eq!(b.state(), State::Passive);
        // Primary alive: clients refused.
        assert!(!b.on_client(t + HB));
        assert_eq!(b.state(), State::Passive);
        // Primary silent for long, but no client: still passive.
        let late = t + HB * 10;
        assert_eq!(b.state(), State::Passive);
        // A client arrives: failover.
        assert!(b.on_client(late));
        assert_eq!(b.state(), State::Active);
        // The primary restarts: it sees an active peer and goes passive.
        let mut p = Fsm::new(Role::Primary, HB, None);
        p.on_peer(b.state(), late);
        b.on_peer(p.state(), late);
        assert_eq!((p.state(), b.state()), (State::Passive, State::Active));
    }

    #[test]
    fn dual_active_makes_the_backup_yield() {
        let t = Instant::now();
        let mut b = Fsm::new(Role::Backup, HB, None);
        b.on_peer(State::Active, t);
        assert!(b.on_client(t + HB * 3));
        b.on_peer(State::Active, t + HB * 4);
        assert_eq!(b.state(), State::Passive);
        let mut p = Fsm::new(Role::Primary, HB, None);
        p.on_peer(State::Backup, t);
        p.on_peer(State::Active, t);
        assert_eq!(p.state(), State::Active, "the primary stays");
    }

    #[test]
    fn state_messages_parse_exactly() {
        for s in State::ALL {
            assert_eq!(State::parse(&[s.byte()]), Some(s));
        }
        for bad in [&b""[..], b"0", b"5", b"33", b"active"] {
            assert_eq!(State::parse(bad), None);
        }
    }
}

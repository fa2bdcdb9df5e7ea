//! The state one native socket shares with its greenlets (acceptors,
//! connectors, sessions, writers).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use omq_proto::Message;
use omq_proto::subscription::SubscriptionSet;

use super::options::Options;
use super::peer::Peer;
use crate::greenlet::AnyGreenlet;
use crate::hub::task::WaitQueue;

/// Everything behind a native socket handle.
pub(super) struct Shared {
    pub(super) kind: zmq::SocketType,
    /// The libzmq context whose ZAP handler a server asks; `None`: the
    /// process-wide [`Context::instance`](crate::zmq::Context::instance),
    /// made only when a handshake first needs ZAP.
    pub(super) ctx: Option<crate::zmq::Context>,
    pub(super) opts: Options,
    pub(super) st: RefCell<State>,
    /// Receivers parked for an inbound message.
    pub(super) readable: WaitQueue,
    /// Senders parked for a peer, or for room in a peer's queue.
    pub(super) room: Rc<WaitQueue>,
    /// Sessions parked for room in the inbound queue (RCVHWM).
    pub(super) inbound_room: WaitQueue,
    pub(super) closed: Cell<bool>,
}

/// The mutable part of [`Shared`]. Never borrowed across a park.
#[derive(Default)]
pub(super) struct State {
    /// Handshaken peers, in the order they arrived (round-robin order).
    pub(super) peers: Vec<Rc<Peer>>,
    /// ROUTER: peers by routing identity.
    pub(super) by_routing_id: HashMap<Bytes, Rc<Peer>>,
    /// The next peer to try for a round-robin send.
    pub(super) rr: usize,
    /// Messages received, with the id of the peer they came from; at most
    /// RCVHWM.
    pub(super) inbound: VecDeque<(u64, Message)>,
    pub(super) next_peer_id: u64,
    /// SUB/XSUB: our own subscriptions (sent to every new peer, and the
    /// local filter of SUB).
    pub(super) subscriptions: SubscriptionSet,
    /// XPUB: how many peers hold each subscription (a subscription is
    /// reported when its count leaves 0, a cancel when it returns to 0).
    pub(super) xpub_counts: HashMap<Vec<u8>, usize>,
    /// REQ: the peer whose reply we wait for.
    pub(super) req_peer: Option<u64>,
    /// REP: the peer and envelope the next send replies to.
    pub(super) rep_envelope: Option<(u64, Vec<Bytes>)>,
    /// Acceptors, connectors and sessions (killed by `close`), each with
    /// the endpoint it serves: `bind <endpoint as bound>` for an acceptor
    /// and the sessions it accepted, `connect <endpoint as given>` for a
    /// connector (killed by `unbind` / `disconnect`).
    pub(super) tasks: Vec<(String, AnyGreenlet)>,
    /// Endpoints bound: (as given to `bind`, as bound), for `unbind`.
    pub(super) binds: Vec<(String, String)>,
    /// Writers and their peers (given LINGER by `close`).
    pub(super) writers: Vec<(AnyGreenlet, Rc<Peer>)>,
    /// Socket files of `ipc://` binds (removed by `close`).
    pub(super) ipc_files: Vec<PathBuf>,
    pub(super) last_endpoint: Option<String>,
}

impl Shared {
    pub(super) fn new(kind: zmq::SocketType, ctx: Option<crate::zmq::Context>) -> Shared {
        Shared {
            kind,
            ctx,
            opts: Options::default(),
            st: RefCell::new(State::default()),
            readable: WaitQueue::default(),
            room: Rc::new(WaitQueue::default()),
            inbound_room: WaitQueue::default(),
            closed: Cell::new(false),
        }
    }

    /// The context whose ZAP handler decides on clients.
    pub(super) fn zap_context(&self) -> crate::zmq::Context {
        self.ctx.clone().unwrap_or_else(crate::zmq::Context::instance)
    }

    /// Remembers a greenlet to kill at `close` (or when its endpoint
    /// `key` is unbound or disconnected), forgetting finished ones.
    pub(super) fn add_task(&self, key: &str, g: AnyGreenlet) {
        let mut st = self.st.borrow_mut();
        st.tasks.retain(|(_, t)| !t.ready());
        st.tasks.push((key.to_string(), g));
    }

    /// Kills the greenlets serving `key`; false if there were none.
    pub(super) fn end_tasks(&self, key: &str) -> bool {
        let ended: Vec<AnyGreenlet> = {
            let mut st = self.st.borrow_mut();
            let (mine, rest) = std::mem::take(&mut st.tasks)
                .into_iter()
                .partition(|(k, _)| k == key);
            st.tasks = rest;
            mine.into_iter().map(|(_, g)| g).collect()
        };
        let me = crate::hub::in_greenlet().then(crate::greenlet::current);
        let any = !ended.is_empty();
        for g in ended {
            if Some(&g) != me.as_ref() {
                g.kill_nowait();
            }
        }
        any
    }

    /// Closes the socket: stops accepting and connecting, ends every
    /// session, wakes every parked caller (they get
    /// [`Error::SocketClosed`](crate::Error::SocketClosed)), and gives the
    /// writers LINGER to write what is queued.
    pub(super) fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let (tasks, writers, files) = {
            let mut st = self.st.borrow_mut();
            st.inbound.clear();
            st.writers.retain(|(g, _)| !g.ready());
            (
                std::mem::take(&mut st.tasks),
                std::mem::take(&mut st.writers),
                std::mem::take(&mut st.ipc_files),
            )
        };
        let me = crate::hub::in_greenlet().then(crate::greenlet::current);
        for (_, t) in tasks {
            if Some(&t) != me.as_ref() {
                t.kill_nowait();
            }
        }
        self.readable.notify_all();
        self.room.notify_all();
        self.inbound_room.notify_all();
        for f in files {
            let _ = std::fs::remove_file(f);
        }
        if writers.is_empty() {
            return;
        }
        let linger = self.opts.linger.get();
        let reap = move || {
            for (g, peer) in writers {
                peer.hang_up();
                g.kill_nowait();
            }
        };
        if linger.is_zero() {
            reap();
        } else {
            let _ = crate::greenlet::try_spawn(move || {
                let _ = crate::greenlet::sleep(linger);
                reap();
            });
        }
    }
}

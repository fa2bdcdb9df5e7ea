//! Titanic (9/TSP): durable request/reply on top of 7/MDP.
//!
//! `zbroker titanic` connects to a `zbroker mdp` broker as the workers of
//! three services and as a client of every other one:
//!
//! - `titanic.request` (body: `service | request…`) stores the request in
//!   the journal, waits for its `fdatasync`, and answers `200 | uuid`;
//! - `titanic.reply` (body: `uuid`) answers `200 | reply…` once the reply
//!   is stored, `300` while the request is pending, `400` for an id it
//!   does not know;
//! - `titanic.close` (body: `uuid`) stores a close record and answers
//!   `200`: the request and its reply are forgotten;
//! - a dispatcher sends every stored request without a reply to its
//!   service and stores the reply.
//!
//! Modules: [`record`] (framing, CRC-32), [`journal`] (the file: recovery,
//! appends, compaction), [`store`] (the index in memory, the fsync policy,
//! the limits), [`service`] (the three services and the dispatcher),
//! [`client`] (the client library and the `zclient titanic` load).

pub mod client;
pub mod journal;
pub mod record;
pub mod service;
pub mod store;

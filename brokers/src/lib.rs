//! # zgreen-brokers
//!
//! Brokers, workers and clients built on zgreen's green ZeroMQ sockets,
//! following the public ZeroMQ RFCs: the zguide load-balancing broker
//! ([`lb`]), 6/PPP Paranoid Pirate ([`ppp`]), 7/MDP Majordomo 0.1 with
//! 8/MMI ([`mdp`]), 9/TSP Titanic ([`titanic`]), Binary Star ([`bstar`])
//! and a failover / freelance MDP client ([`mdp_client`]). The binaries `zbroker`, `zworker`, `zclient` and
//! `zdemo` are thin shells over this library.
//!
//! Every parser returns a typed [`Malformed`](frames::Malformed) error for
//! each way a message can be wrong and never panics, whatever the frames:
//!
//! ```
//! use zgreen_brokers::frames::{Limits, Malformed};
//! use zgreen_brokers::mdp;
//!
//! let limits = Limits::default();
//! let ok = mdp::parse_broker_inbound(&[&b"peer"[..], b"", b"MDPW01", &[mdp::READY], b"echo"], &limits);
//! assert!(ok.is_ok());
//! let bad = mdp::parse_broker_inbound(&[&b"peer"[..], b"", b"MDPW01", &[0x09]], &limits);
//! assert_eq!(bad, Err(Malformed::UnknownCommand(0x09)));
//! ```
#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod bstar;
pub mod cli;
pub mod devices;
pub mod frames;
pub mod handshakes;
pub mod io;
pub mod lb;
pub mod lb_broker;
pub mod load;
pub mod mdp;
pub mod mdp_broker;
pub mod mdp_client;
pub mod mdp_shards;
pub mod metrics;
pub mod ppp;
pub mod ppp_queue;
pub mod procs;
pub mod security;
pub mod titanic;
pub mod workers;

//! The async Rust peers of issue 4, each on a tokio current-thread runtime
//! (one thread, like zgreen's hub):
//!
//! * `tmq`: tmq 0.5 (libzmq sockets, the same `zmq` crate and libzmq as
//!   zgreen, driven by tokio);
//! * `zmqrs`: the pure-Rust `zeromq` crate (zmq.rs) 0.6.
//!
//! Both are written the idiomatic way: one `send(..).await` per message
//! (tmq's `SinkExt::send` flushes each message), a `Stream`/`recv().await`
//! per message on the other side. Same warm-up and clock as
//! `zmq_bench`.

use std::time::Instant;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tmq::AsZmqSocket;
use zeromq::{Socket as _, SocketRecv as _, SocketSend as _};

use crate::zmq_bench::Transport;

fn rt() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn zmqrs_bind(t: Transport) -> Result<String, String> {
    match t {
        Transport::Tcp => Ok("tcp://127.0.0.1:0".into()),
        Transport::Ipc => Ok(format!("ipc:///tmp/zbench-rs-{}.ipc", std::process::id())),
        Transport::Inproc => Err("zmq.rs has no inproc transport".into()),
    }
}

pub fn pushpull(imp: &str, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    let rt = rt()?;
    let local = tokio::task::LocalSet::new();
    let secs = match imp {
        "tmq" => local.block_on(&rt, async move {
            let ctx = zmq::Context::new();
            let mut pull = tmq::pull(&ctx)
                .bind(&crate::zmq_bench::bind_endpoint(t))
                .map_err(s)?;
            let ep = pull
                .get_socket()
                .get_last_endpoint()
                .map_err(s)?
                .map_err(|_| "utf8")?;
            let mut push = tmq::push(&ctx).connect(&ep).map_err(s)?;
            let buf = vec![b'x'; size];
            push.send(vec![buf.clone()]).await.map_err(s)?;
            pull.next().await.ok_or("pull ended")?.map_err(s)?;
            let start = Instant::now();
            let sender = tokio::task::spawn_local(async move {
                for _ in 0..count {
                    push.send(vec![&buf[..]]).await?;
                }
                Ok::<_, tmq::TmqError>(())
            });
            for _ in 0..count {
                pull.next().await.ok_or("pull ended")?.map_err(s)?;
            }
            let secs = start.elapsed().as_secs_f64();
            sender.await.map_err(s)?.map_err(s)?;
            Ok::<f64, String>(secs)
        })?,
        "zmqrs" => local.block_on(&rt, async move {
            let mut pull = zeromq::PullSocket::new();
            let ep = pull.bind(&zmqrs_bind(t)?).await.map_err(s)?;
            let mut push = zeromq::PushSocket::new();
            push.connect(&ep.to_string()).await.map_err(s)?;
            let buf = vec![b'x'; size];
            push.send(buf.clone().into()).await.map_err(s)?;
            pull.recv().await.map_err(s)?;
            let start = Instant::now();
            let sender = tokio::task::spawn_local(async move {
                for _ in 0..count {
                    push.send(buf.clone().into()).await?;
                }
                Ok::<_, zeromq::ZmqError>(())
            });
            for _ in 0..count {
                pull.recv().await.map_err(s)?;
            }
            let secs = start.elapsed().as_secs_f64();
            sender.await.map_err(s)?.map_err(s)?;
            Ok::<f64, String>(secs)
        })?,
        other => return Err(format!("pushpull: unknown impl {other:?}")),
    };
    Ok(json!({
        "bench": "pushpull",
        "impl": imp,
        "transport": t.name(),
        "size": size,
        "count": count,
        "secs": secs,
        "msgs_per_s": count as f64 / secs,
        "mb_per_s": count as f64 * size as f64 / secs / 1e6,
    }))
}

pub fn reqrep(imp: &str, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    let rt = rt()?;
    let local = tokio::task::LocalSet::new();
    let secs = match imp {
        "tmq" => local.block_on(&rt, async move {
            let ctx = zmq::Context::new();
            let rep = tmq::reply(&ctx)
                .bind(&crate::zmq_bench::bind_endpoint(t))
                .map_err(s)?;
            let ep = rep
                .get_socket()
                .get_last_endpoint()
                .map_err(s)?
                .map_err(|_| "utf8")?;
            let mut req = tmq::request(&ctx).connect(&ep).map_err(s)?;
            let server = tokio::task::spawn_local(async move {
                let mut rep = rep;
                for _ in 0..=count {
                    let (msg, sender) = rep.recv().await?;
                    rep = sender.send(msg).await?;
                }
                Ok::<_, tmq::TmqError>(())
            });
            let buf = vec![b'x'; size];
            let mut start = Instant::now();
            for i in 0..=count {
                if i == 1 {
                    start = Instant::now();
                }
                let r = req.send(vec![&buf[..]].into()).await.map_err(s)?;
                let (_, back) = r.recv().await.map_err(s)?;
                req = back;
            }
            let secs = start.elapsed().as_secs_f64();
            server.await.map_err(s)?.map_err(s)?;
            Ok::<f64, String>(secs)
        })?,
        "zmqrs" => local.block_on(&rt, async move {
            let mut rep = zeromq::RepSocket::new();
            let ep = rep.bind(&zmqrs_bind(t)?).await.map_err(s)?;
            let mut req = zeromq::ReqSocket::new();
            req.connect(&ep.to_string()).await.map_err(s)?;
            let server = tokio::task::spawn_local(async move {
                for _ in 0..=count {
                    let m = rep.recv().await?;
                    rep.send(m).await?;
                }
                Ok::<_, zeromq::ZmqError>(())
            });
            let buf = vec![b'x'; size];
            let mut start = Instant::now();
            for i in 0..=count {
                if i == 1 {
                    start = Instant::now();
                }
                req.send(buf.clone().into()).await.map_err(s)?;
                req.recv().await.map_err(s)?;
            }
            let secs = start.elapsed().as_secs_f64();
            server.await.map_err(s)?.map_err(s)?;
            Ok::<f64, String>(secs)
        })?,
        other => return Err(format!("reqrep: unknown impl {other:?}")),
    };
    Ok(json!({
        "bench": "reqrep",
        "impl": imp,
        "transport": t.name(),
        "size": size,
        "count": count,
        "secs": secs,
        "us_per_rtt": secs * 1e6 / count as f64,
    }))
}

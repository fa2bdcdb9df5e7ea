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
use serde_json::Value;
use tmq::AsZmqSocket;
use zeromq::{SocketRecv as _, SocketSend as _};

use crate::zmq_bench::{Transport, bind_endpoint, rtt_line, thr_line};

fn rt() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The endpoint a tmq socket is bound to.
fn tmq_endpoint(sock: &impl AsZmqSocket) -> Result<String, String> {
    Ok(sock
        .get_socket()
        .get_last_endpoint()
        .map_err(s)?
        .map_err(|_| "utf8")?)
}

/// Runs the `imp` version of `bench` (`tmq` or `zmqrs`) to its end on a
/// fresh runtime.
fn run(
    bench: &str,
    imp: &str,
    tmq: impl Future<Output = Result<f64, String>>,
    zmqrs: impl Future<Output = Result<f64, String>>,
) -> Result<f64, String> {
    let rt = rt()?;
    let local = tokio::task::LocalSet::new();
    match imp {
        "tmq" => local.block_on(&rt, tmq),
        "zmqrs" => local.block_on(&rt, zmqrs),
        other => Err(format!("{bench}: unknown impl {other:?}")),
    }
}

fn zmqrs_bind(t: Transport) -> Result<String, String> {
    match t {
        Transport::Tcp => Ok("tcp://127.0.0.1:0".into()),
        Transport::Ipc => Ok(format!("ipc:///tmp/zbench-rs-{}.ipc", std::process::id())),
        Transport::Inproc => Err("zmq.rs has no inproc transport".into()),
    }
}

/// A zmq.rs socket bound on `t`, and one connected to it.
async fn zmqrs_pair<B: zeromq::Socket, C: zeromq::Socket>(t: Transport) -> Result<(B, C), String> {
    let mut bound = B::new();
    let ep = bound.bind(&zmqrs_bind(t)?).await.map_err(s)?;
    let mut connected = C::new();
    connected.connect(&ep.to_string()).await.map_err(s)?;
    Ok((bound, connected))
}

pub fn pushpull(imp: &str, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    let tmq = async move {
        let ctx = zmq::Context::new();
        let mut pull = tmq::pull(&ctx).bind(&bind_endpoint(t)).map_err(s)?;
        let ep = tmq_endpoint(&pull)?;
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
    };
    let zmqrs = async move {
        let (mut pull, mut push) = zmqrs_pair::<zeromq::PullSocket, zeromq::PushSocket>(t).await?;
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
    };
    let secs = run("pushpull", imp, tmq, zmqrs)?;
    Ok(thr_line("pushpull", imp, t, size, count, secs))
}

/// Makes `count + 1` round trips with `trip`, which takes the client and
/// gives it back; the clock starts at the second (the first is the
/// warm-up). Returns the seconds and the client.
async fn round_trips<C, F: Future<Output = Result<C, String>>>(
    count: u64,
    mut client: C,
    mut trip: impl FnMut(C) -> F,
) -> Result<(f64, C), String> {
    let mut start = Instant::now();
    for i in 0..=count {
        if i == 1 {
            start = Instant::now();
        }
        client = trip(client).await?;
    }
    Ok((start.elapsed().as_secs_f64(), client))
}

pub fn reqrep(imp: &str, t: Transport, size: usize, count: u64) -> Result<Value, String> {
    let tmq = async move {
        let ctx = zmq::Context::new();
        let rep = tmq::reply(&ctx).bind(&bind_endpoint(t)).map_err(s)?;
        let ep = tmq_endpoint(&rep)?;
        let req = tmq::request(&ctx).connect(&ep).map_err(s)?;
        let server = tokio::task::spawn_local(async move {
            let mut rep = rep;
            for _ in 0..=count {
                let (msg, sender) = rep.recv().await?;
                rep = sender.send(msg).await?;
            }
            Ok::<_, tmq::TmqError>(())
        });
        let buf = &vec![b'x'; size];
        let (secs, _req) = round_trips(count, req, |req| async move {
            let r = req.send(vec![&buf[..]].into()).await.map_err(s)?;
            let (_, back) = r.recv().await.map_err(s)?;
            Ok(back)
        })
        .await?;
        server.await.map_err(s)?.map_err(s)?;
        Ok::<f64, String>(secs)
    };
    let zmqrs = async move {
        let (mut rep, req) = zmqrs_pair::<zeromq::RepSocket, zeromq::ReqSocket>(t).await?;
        let server = tokio::task::spawn_local(async move {
            for _ in 0..=count {
                let m = rep.recv().await?;
                rep.send(m).await?;
            }
            Ok::<_, zeromq::ZmqError>(())
        });
        let buf = &vec![b'x'; size];
        let (secs, _req) = round_trips(count, req, |mut req| async move {
            req.send(buf.clone().into()).await.map_err(s)?;
            req.recv().await.map_err(s)?;
            Ok(req)
        })
        .await?;
        server.await.map_err(s)?.map_err(s)?;
        Ok::<f64, String>(secs)
    };
    let secs = run("reqrep", imp, tmq, zmqrs)?;
    Ok(rtt_line(imp, t, size, count, secs))
}

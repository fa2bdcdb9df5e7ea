//! Publish/subscribe with green sockets: one publisher greenlet sends
//! numbered messages on two topics, `weather` and `sports`; two subscriber
//! greenlets each subscribe to one topic and see only its messages.
//!
//! A subscriber that connects late misses what was published before its
//! subscription reached the publisher (ZeroMQ's "slow joiner"). The
//! publisher here is an XPUB socket, a PUB that also hands the
//! subscriptions it receives to the application: it waits until both
//! topics are subscribed before publishing, then ends each topic with an
//! `END` message, so every subscriber sees every message.

use zgreen::zmq::{Context, Socket};

const TOPICS: [&str; 2] = ["weather", "sports"];
const MESSAGES_PER_TOPIC: u32 = 5;

/// Waits until every topic has a subscriber.
fn wait_for_subscribers(publisher: &Socket) -> zgreen::Result<()> {
    let mut subscribed = Vec::new();
    while subscribed.len() < TOPICS.len() {
        // A subscription arrives as one frame: 1, then the topic.
        let frame = publisher.recv_bytes(0)?;
        if let Some((1, topic)) = frame.split_first() {
            subscribed.push(topic.to_vec());
        }
    }
    Ok(())
}

/// Publishes the numbered messages of both topics, then `END` on each.
fn publish(publisher: Socket) -> zgreen::Result<()> {
    wait_for_subscribers(&publisher)?;
    for n in 1..=MESSAGES_PER_TOPIC {
        for topic in TOPICS {
            // Two frames: the topic (what subscribers filter on), the body.
            publisher.send_multipart([topic, &format!("{topic} update {n}")], 0)?;
        }
    }
    for topic in TOPICS {
        publisher.send_multipart([topic, "END"], 0)?;
    }
    Ok(())
}

/// Prints what arrives on `topic` until `END`; returns how many messages.
fn subscribe(subscriber: Socket, topic: &str) -> zgreen::Result<u32> {
    subscriber.subscribe(topic)?;
    let mut count = 0;
    loop {
        let frames = subscriber.recv_multipart(0)?;
        let body = String::from_utf8_lossy(&frames[1]);
        if body == "END" {
            return Ok(count);
        }
        println!("sub {topic}: {body}");
        count += 1;
    }
}

fn main() -> zgreen::Result<()> {
    let context = Context::new();
    let publisher = context.socket(zmq::XPUB)?;
    publisher.bind("tcp://127.0.0.1:*")?;
    let endpoint = publisher.last_endpoint()?;

    let mut subscribers = Vec::new();
    for topic in TOPICS {
        let subscriber = context.socket(zmq::SUB)?;
        subscriber.connect(&endpoint)?;
        subscribers.push(zgreen::spawn(move || subscribe(subscriber, topic)));
    }
    let publisher = zgreen::spawn(move || publish(publisher));

    publisher.get()??;
    for (topic, subscriber) in TOPICS.iter().zip(&subscribers) {
        let count = subscriber.get()??;
        println!("sub {topic} got {count} messages");
    }
    Ok(())
}

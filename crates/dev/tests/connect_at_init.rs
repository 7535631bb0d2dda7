//! `Store::open_connections`, what every function does during init: the connections it
//! opens are the ones the first call uses, it writes nothing, and a DynamoDB that hangs,
//! throttles or is down delays init by at most one attempt's bound and fails nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws::store::{inspect, Store, CONNECTIONS_AT_INIT};
use dev::kit::{client, demo_fixture, dynamodb_endpoint, id, TestEnv};
use dev::local::Fault;
use edge::config::default_call_bounds;
use tokio::net::{TcpListener, TcpStream};

const DEMO_REQUEST: &str = "65d000000000000000000001";
const CHAT1: &str = "65b000000000000000000001";

/// A TCP relay to `upstream` that counts the connections it accepts.
async fn counting_relay(upstream: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (accepted, counted) = (Arc::new(AtomicUsize::new(0)), upstream.trim_start_matches("http://").to_owned());
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let upstream = counted.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn the_connections_opened_during_init_serve_the_first_call_and_nothing_is_written() {
    let env = TestEnv::with_demo().await;
    let (url, accepted) = counting_relay(dynamodb_endpoint().await).await;
    let store = Store::new(client(&url).await, env.store().table());

    store.open_connections().await.expect("the init reads succeed");
    assert_eq!(accepted.load(Ordering::SeqCst), CONNECTIONS_AT_INIT, "init opened its connections");

    // A first round of two requests at once, as get-request's.
    let (request, chat) = tokio::join!(store.request(id(DEMO_REQUEST)), store.shown_participants(id(CHAT1)));
    assert!(request.expect("the first call reads").is_some(), "the demo request is there");
    assert!(!chat.expect("the first call reads").is_empty(), "the demo chat has participants");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        CONNECTIONS_AT_INIT,
        "the first call used the connections opened during init"
    );
    assert!(env.partition(inspect::CONNECT_AT_INIT).await.is_empty(), "the init read wrote nothing");
}

#[tokio::test]
async fn a_dynamodb_that_hangs_throttles_or_is_down_delays_init_by_one_attempt_at_most() {
    let (env, faults) = TestEnv::behind_proxy(demo_fixture()).await;
    let bound = default_call_bounds().attempt + Duration::from_millis(500);
    for fault in [Fault::Hang, Fault::Throttle, Fault::ServerError, Fault::Down] {
        faults.set(fault);
        let started = Instant::now();
        let outcome = env.store().open_connections().await;
        assert!(outcome.is_err(), "{fault:?}: the init read reports the failure (the caller logs it)");
        assert!(started.elapsed() < bound, "{fault:?}: init waited {:?}, one attempt is {bound:?}", started.elapsed());
    }
    faults.set(Fault::None);
    env.store().open_connections().await.expect("once DynamoDB is back, the init read succeeds");
}

//! The notifier fanning one event out to many WebSocket connections of one user on the
//! local stack: real clients connect through `$connect`, the notifier (under the
//! loopback Runtime API) is handed the event, and the bench waits until every client
//! has received it.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use hyper::body::Bytes;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::runtime_api::Process;
use crate::Failure;

/// Connections opened at once while setting up.
const CONNECTING_AT_ONCE: usize = 32;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct FanOut {
    pub connections: usize,
    /// Handing the event out → the notifier's answer, then → the last client's receipt;
    /// the first event after a cold start.
    pub cold: (Duration, Duration),
    /// The same, the median over the warm events.
    pub warm: (Duration, Duration),
}

/// Opens `connections` clients at `websocket_url` (with the recipient's token), then
/// hands `event` to a fresh `notifier` process `1 + warm_events` times.
pub async fn measure(
    notifier: &Path,
    env: &[(&str, String)],
    websocket_url: &str,
    connections: usize,
    event: &Bytes,
    warm_events: usize,
) -> Result<FanOut, Failure> {
    let (received, mut receipts) = mpsc::unbounded_channel::<Instant>();
    let opened: Vec<Result<_, tokio_tungstenite::tungstenite::Error>> = stream::iter(0..connections)
        .map(|_| tokio_tungstenite::connect_async(websocket_url))
        .buffer_unordered(CONNECTING_AT_ONCE)
        .collect()
        .await;
    let mut readers = Vec::with_capacity(connections);
    for connection in opened {
        let (socket, _) = connection?;
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            let (_, mut incoming) = socket.split();
            while let Some(Ok(message)) = incoming.next().await {
                if matches!(message, Message::Text(_)) && received.send(Instant::now()).is_err() {
                    return;
                }
            }
        }));
    }

    let mut process = Process::start(notifier, env).await?;
    let cold = deliver(&mut process, &mut receipts, event, connections).await?;
    let mut warm = Vec::with_capacity(warm_events);
    for _ in 0..warm_events {
        warm.push(deliver(&mut process, &mut receipts, event, connections).await?);
    }
    process.stop().await;
    for reader in readers {
        reader.abort();
    }
    warm.sort_by_key(|(_, all)| *all);
    let warm = warm.get(warm.len() / 2).copied().ok_or("no warm event")?;
    Ok(FanOut { connections, cold, warm })
}

/// Hands out `event`: → the notifier's answer, and → the last of `connections` receipts.
async fn deliver(
    process: &mut Process,
    receipts: &mut mpsc::UnboundedReceiver<Instant>,
    event: &Bytes,
    connections: usize,
) -> Result<(Duration, Duration), Failure> {
    let sent = Instant::now();
    let (answered, _) = process.call(event).await?;
    let mut last = sent;
    for _ in 0..connections {
        let at = tokio::time::timeout(DELIVERY_TIMEOUT, receipts.recv()).await?.ok_or("the clients stopped")?;
        last = last.max(at);
    }
    Ok((answered, last - sent))
}

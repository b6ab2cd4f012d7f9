//! A fault-injecting TCP proxy for tests: forwards `127.0.0.1:<port>` to a target and, on demand,
//! cuts every open connection, stalls (holds every byte), or refuses new connections.
//!
//! It runs on its own thread and runtime, so a test may block (on a child process, say) without
//! stopping it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Faults {
    /// Bumped by `cut`: connections of an older generation close.
    generation: u64,
    stalled: bool,
    refusing: bool,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct Proxy {
    pub port: u16,
    faults: Arc<watch::Sender<Faults>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Proxy {
    /// Listen on `127.0.0.1:0` and forward to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let (faults, _) = watch::channel(Faults {
            generation: 0,
            stalled: false,
            refusing: false,
        });
        let faults = Arc::new(faults);
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = faults.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
                port_tx
                    .send(listener.local_addr().expect("addr").port())
                    .expect("port");
                tokio::select! {
                    () = accept_loop(listener, target, shared) => {}
                    _ = stopped => {}
                }
            });
        });
        let port = port_rx.recv().expect("proxy port");
        Self {
            port,
            faults,
            stop: Some(stop),
        }
    }

    /// Close every open connection (new ones are accepted unless refusing).
    pub fn cut(&self) {
        self.faults.send_modify(|f| f.generation += 1);
    }

    /// Hold every byte in both directions (connections stay open) until [`Proxy::resume`].
    pub fn stall(&self) {
        self.faults.send_modify(|f| f.stalled = true);
    }

    pub fn resume(&self) {
        self.faults.send_modify(|f| f.stalled = false);
    }

    /// Close new connections at once (the target looks unreachable) while `on`.
    pub fn refuse(&self, on: bool) {
        self.faults.send_modify(|f| f.refusing = on);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    faults: Arc<watch::Sender<Faults>>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let now = *faults.borrow();
        if now.refusing {
            drop(client);
            continue;
        }
        let rx = faults.subscribe();
        tokio::spawn(async move {
            let Ok(upstream) = TcpStream::connect(target).await else {
                return;
            };
            let (cr, cw) = client.into_split();
            let (ur, uw) = upstream.into_split();
            tokio::select! {
                () = pump(cr, uw, rx.clone(), now.generation) => {}
                () = pump(ur, cw, rx, now.generation) => {}
            }
        });
    }
}

/// Copy `from` to `to`, holding bytes while stalled, until either side ends or a cut.
async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut faults: watch::Receiver<Faults>,
    generation: u64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = faults.wait_for(|f| f.generation != generation) => return,
        };
        // Hold the bytes while stalled; a cut ends the connection either way.
        let now = match faults
            .wait_for(|f| !f.stalled || f.generation != generation)
            .await
        {
            Ok(f) => f.generation,
            Err(_) => return,
        };
        if now != generation {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

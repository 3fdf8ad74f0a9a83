//! In-process servers on raw TCP, for faults HTTP libraries would refuse to stage.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A loopback server that hands each accepted connection to a handler. Stops when dropped.
pub struct RawServer {
    /// Its address on 127.0.0.1.
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    /// Serves each connection with `handler(stream, index)` (index counts from 0).
    pub async fn start<F, Fut>(handler: F) -> RawServer
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind raw server");
        let addr = listener.local_addr().expect("raw server addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let i = count.fetch_add(1, Ordering::SeqCst);
                        let h = Arc::clone(&handler);
                        tokio::spawn(async move { h(stream, i).await });
                    }
                    // A connection reset before it was accepted (ECONNABORTED) must not
                    // close the listener; back off briefly on anything else.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        });
        RawServer {
            addr,
            accepted,
            task,
        }
    }

    /// A server that reads the request head, then writes `response` bytes and closes.
    pub async fn respond_raw(response: &'static [u8]) -> RawServer {
        Self::start(move |mut s, _| async move {
            read_head(&mut s).await;
            let _ = s.write_all(response).await;
            let _ = s.shutdown().await;
        })
        .await
    }

    /// A server that answers each request with its own head (request line and headers, as
    /// received) as a `text/plain` body, then closes: what a client sent, exactly.
    pub async fn echo_head() -> RawServer {
        Self::start(|mut s, _| async move {
            let head = read_head(&mut s).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                head.len()
            );
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
        })
        .await
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads until the end of an HTTP request head (bounded: 64 KiB or 10 s) and returns it.
pub async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Closes with a TCP RST instead of a FIN.
// A zero linger never blocks on drop, which is what the deprecation warns about.
#[allow(deprecated)]
pub fn reset(s: TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
    drop(s);
}

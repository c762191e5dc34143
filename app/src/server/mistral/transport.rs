//! The connection streamed answers travel over: hyper's HTTP/1.1 client with
//! rustls and Mozilla's roots (what reqwest uses underneath), with one
//! difference — the TCP socket acknowledges what it reads at once
//! (TCP_QUICKACK after every read).
//!
//! Why: an upstream, or a proxy in front of it, that does not set
//! TCP_NODELAY holds each small write until the previous one is
//! acknowledged (Nagle's algorithm), while Linux delays ACKs by up to 40 ms
//! on a connection that looks like request/response — which is what a pooled
//! keep-alive connection looks like after a title request or a quick
//! follow-up. Together they held the first token of an answer back by
//! ~40 ms (and bunched later tokens). Acknowledging at once removes the wait
//! whatever the upstream's socket options, for one `setsockopt` per read.
//! `bench_stream --first-token N --nagle` measures it (docs/benchmarks.md).
//!
//! Owns the transport only: it must not know about keys, bodies or retries
//! (`client.rs` does). It exists because reqwest does not hand out its
//! sockets. Requests that go through an HTTP(S) proxy (`HTTPS_PROXY`, …),
//! which reqwest honours and this connector does not, stay on reqwest.
use hyper::body::Bytes;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A TCP connection that acknowledges every read at once.
pub struct QuickAckStream(TokioIo<TcpStream>);

impl QuickAckStream {
    fn ack_now(&self) {
        // Not permanent in Linux: the kernel may fall back to delayed ACKs
        // after any segment, hence after every read. Best effort: a failure
        // only costs the old latency.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = self.0.inner().set_quickack(true);
    }
}

impl Read for QuickAckStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.0).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            this.ack_now();
        }
        res
    }
}

impl Write for QuickAckStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }
}

impl Connection for QuickAckStream {
    fn connected(&self) -> Connected {
        self.0.connected()
    }
}

/// hyper's TCP connector, handing out [`QuickAckStream`]s.
#[derive(Clone)]
pub struct QuickAckConnector(HttpConnector);

impl Service<Uri> for QuickAckConnector {
    type Response = QuickAckStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<QuickAckStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let tcp = connecting.await.map_err(BoxError::from)?;
            Ok(QuickAckStream(tcp))
        })
    }
}

/// The HTTP client for streamed answers (cheap to clone: one shared pool).
#[derive(Clone)]
pub struct StreamTransport {
    client: Client<HttpsConnector<QuickAckConnector>, http_body_util::Full<Bytes>>,
}

impl StreamTransport {
    /// `None` when requests would go through a proxy (reqwest handles those)
    /// or TLS could not be set up (reqwest then carries the streams too).
    pub fn new(connect_timeout: Duration) -> Option<StreamTransport> {
        let proxied = [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        if proxied {
            return None;
        }
        let mut tcp = HttpConnector::new();
        // The scheme is the TLS layer's business (http for local fakes).
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(
                |e| tracing::warn!(error = %e, "no TLS for the streaming transport; using reqwest"),
            )
            .ok()?
            .https_or_http()
            .enable_http1()
            .wrap_connector(QuickAckConnector(tcp));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Some(StreamTransport { client })
    }

    /// Sends `req`; the answer as a `reqwest::Response`, so that reading and
    /// checking it is the same code whichever transport carried it.
    pub async fn send(
        &self,
        req: hyper::Request<http_body_util::Full<Bytes>>,
    ) -> Result<reqwest::Response, BoxError> {
        let resp = self.client.request(req).await?;
        Ok(reqwest::Response::from(resp.map(|body| {
            reqwest::Body::wrap_stream(http_body_util::BodyDataStream::new(body))
        })))
    }
}

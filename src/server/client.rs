//! A small client for the REST API (HTTP/1.1, one connection per request):
//! what `riffle sql --server` and the tests use. It speaks ksqlDB's API, so
//! it works against ksqlDB too.

use std::net::SocketAddr;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value as Json};

/// A REST API client.
#[derive(Debug, Clone)]
pub struct RestClient {
    addr: SocketAddr,
}

/// A response that was read whole.
#[derive(Debug, Clone)]
pub struct RestResponse {
    /// HTTP status.
    pub status: u16,
    /// The body, parsed as JSON (`null` when empty).
    pub body: Json,
}

/// The rows of a query as they arrive (`/query-stream`, delimited).
#[derive(Debug)]
pub struct QueryRows {
    body: Incoming,
    buf: Vec<u8>,
    done: bool,
    /// Lines are elements of one JSON array (`[`/`,` before, `]` after).
    array: bool,
}

impl QueryRows {
    /// The next line of the response as JSON: first the metadata
    /// (`queryId`, `columnNames`, `columnTypes`), then one array per row;
    /// `None` at the end.
    ///
    /// # Errors
    /// A broken connection or a line that is not JSON.
    pub async fn next(&mut self) -> anyhow::Result<Option<Json>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let mut text = line.trim();
                if self.array {
                    text = text.trim_start_matches(['[', ',']).trim_end_matches([']', ',']).trim();
                }
                if text.is_empty() {
                    continue;
                }
                return Ok(Some(serde_json::from_str(text).with_context(|| format!("bad row line: {line}"))?));
            }
            if self.done {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
                let mut text = rest.trim();
                if self.array {
                    text = text.trim_start_matches(['[', ',']).trim_end_matches([']', ',']).trim();
                    if text.is_empty() {
                        return Ok(None);
                    }
                }
                return Ok(Some(serde_json::from_str(text).context("bad final row line")?));
            }
            match self.body.frame().await {
                Some(frame) => {
                    if let Ok(data) = frame.context("reading the query response")?.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                None => self.done = true,
            }
        }
    }
}

impl RestClient {
    /// A client for the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        RestClient { addr }
    }

    /// Parses `http://host:port` (or `host:port`).
    ///
    /// # Errors
    /// Not an address.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let hostport = url.trim_start_matches("http://").trim_end_matches('/');
        let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
            .with_context(|| format!("{url} is not a server address (want http://HOST:PORT)"))?
            .next()
            .with_context(|| format!("{url} resolves to no address"))?;
        Ok(RestClient { addr })
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Json>, accept: &str) -> anyhow::Result<(u16, Incoming)> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to the server at {}; is `riffle server` running?", self.addr))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let payload = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .header("content-type", "application/vnd.ksql.v1+json")
            .header("accept", accept)
            .body(Full::new(payload))?;
        let resp = sender.send_request(req).await.with_context(|| format!("{method} {path} failed"))?;
        Ok((resp.status().as_u16(), resp.into_body()))
    }

    async fn whole(&self, method: &str, path: &str, body: Option<&Json>) -> anyhow::Result<RestResponse> {
        let (status, incoming) = self.send(method, path, body, "application/json").await?;
        let bytes = incoming.collect().await.context("reading the response")?.to_bytes();
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Json::Null
        } else {
            serde_json::from_slice(&bytes).with_context(|| format!("the response is not JSON: {}", String::from_utf8_lossy(&bytes)))?
        };
        Ok(RestResponse { status, body })
    }

    /// `POST /ksql`.
    ///
    /// # Errors
    /// Connection failures (an error status is a normal response).
    pub async fn ksql(&self, sql: &str, properties: &Json) -> anyhow::Result<RestResponse> {
        self.whole("POST", "/ksql", Some(&json!({"ksql": sql, "streamsProperties": properties}))).await
    }

    /// `POST /query` (the older API: one JSON array), read whole: use it
    /// for pull queries and push queries with a `LIMIT`.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn query(&self, sql: &str, properties: &Json) -> anyhow::Result<RestResponse> {
        self.whole("POST", "/query", Some(&json!({"ksql": sql, "streamsProperties": properties}))).await
    }

    /// `POST /query` as it arrives: each [`QueryRows::next`] is one element
    /// of the JSON array (`{"header":…}`, `{"row":…}`, `{"finalMessage":…}`),
    /// relying on the server writing one element per line as ksqlDB and
    /// Riffle do. An error status comes back as `Err`.
    ///
    /// # Errors
    /// Connection failures, an error response.
    pub async fn query_elements(&self, sql: &str, properties: &Json) -> anyhow::Result<Result<QueryRows, RestResponse>> {
        let (status, body) =
            self.send("POST", "/query", Some(&json!({"ksql": sql, "streamsProperties": properties})), "application/json").await?;
        if status >= 400 {
            let bytes = body.collect().await?.to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
            return Ok(Err(RestResponse { status, body }));
        }
        Ok(Ok(QueryRows { body, buf: Vec::new(), done: false, array: true }))
    }

    /// `POST /query-stream`: rows as they arrive. An error status comes
    /// back as `Err` with the server's message.
    ///
    /// # Errors
    /// Connection failures, an error response.
    pub async fn query_stream(&self, sql: &str, properties: &Json) -> anyhow::Result<QueryRows> {
        let (status, body) = self
            .send("POST", "/query-stream", Some(&json!({"sql": sql, "properties": properties})), "application/vnd.ksqlapi.delimited.v1")
            .await?;
        if status >= 400 {
            let bytes = body.collect().await?.to_bytes();
            let msg = serde_json::from_slice::<Json>(&bytes)
                .ok()
                .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            anyhow::bail!("{msg}");
        }
        Ok(QueryRows { body, buf: Vec::new(), done: false, array: false })
    }

    /// `POST /close-query`.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn close_query(&self, id: &str) -> anyhow::Result<RestResponse> {
        self.whole("POST", "/close-query", Some(&json!({"queryId": id}))).await
    }

    /// `GET /info`.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn info(&self) -> anyhow::Result<RestResponse> {
        self.whole("GET", "/info", None).await
    }
}

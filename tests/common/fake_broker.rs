//! A fake Kafka cluster for testing keel's admin commands without brokers: `n` brokers, each a
//! listener on 127.0.0.1 with a free port, answering whatever a per-test script says with
//! responses built and encoded by keel's own codec.
//!
//! Broker ids are 1..=n; broker `i` listens on `ports[i - 1]`. Every request is decoded with
//! keel's `decode_request`, recorded ([`FakeCluster::seen`]), and handed to the script, which
//! returns an [`Answer`]: a body (encoded at the request's version), raw bytes, silence, a
//! closed connection, or [`Answer::Default`] for the standard answers below. The script is
//! shared by all brokers (one mutex), so it can keep state across them, e.g. answer
//! `NOT_CONTROLLER` once and then succeed.
//!
//! Standard answers: ApiVersions lists [`default_api_versions`] (keel's codec ranges for the
//! APIs the admin commands use); Metadata lists every broker at its port, the cluster id
//! [`CLUSTER_ID`], controller 1, and each requested topic as `UNKNOWN_TOPIC_OR_PARTITION`.
//! Anything else the script leaves to the default closes the connection (and is recorded as a
//! problem, see [`FakeCluster::problems`]).
//!
//! Bounded: connection threads poll a stop flag every few milliseconds; dropping the
//! `FakeCluster` stops and joins every thread.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use keel::protocol::messages::api_versions_response::ApiVersion;
use keel::protocol::messages::{
    ApiVersionsResponse, MetadataResponse, RequestBody, ResponseBody, metadata_response,
};
use keel::protocol::{
    ApiKey, ErrorCode, FrameDecoder, RequestFrame, decode_request, encode_response_body,
};

/// The cluster id of the standard Metadata answer.
pub const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qg";

/// How often idle threads look at the stop flag.
const POLL: Duration = Duration::from_millis(5);

/// What a broker does with one request.
pub enum Answer {
    /// This body, encoded at the request's version and correlation id.
    Body(ResponseBody),
    /// These bytes as they are (a whole frame with its size prefix, or junk).
    Raw(Vec<u8>),
    /// Never answer (the client's timeout is what ends it).
    Silent,
    /// Close the connection without answering.
    Close,
    /// The standard answer (see the module header).
    Default,
}

/// What a script knows about the broker answering.
pub struct Ctx {
    /// The broker's id.
    pub node: i32,
    /// Every broker's port, broker `i` at `ports[i - 1]`.
    pub ports: Vec<u16>,
}

/// A request a broker received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub node: i32,
    pub api_key: ApiKey,
    pub version: i16,
    pub client_id: Option<String>,
    pub body: RequestBody,
}

type Script = dyn FnMut(&Ctx, &RequestFrame) -> Answer + Send;

struct Shared {
    script: Mutex<Box<Script>>,
    seen: Mutex<Vec<Seen>>,
    problems: Mutex<Vec<String>>,
    stop: AtomicBool,
    ports: Vec<u16>,
}

pub struct FakeCluster {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeCluster {
    /// Starts `brokers` brokers answering with `script`.
    pub fn start(
        brokers: usize,
        script: impl FnMut(&Ctx, &RequestFrame) -> Answer + Send + 'static,
    ) -> FakeCluster {
        let listeners: Vec<TcpListener> = (0..brokers)
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
            .collect();
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().expect("local address").port())
            .collect();
        let shared = Arc::new(Shared {
            script: Mutex::new(Box::new(script)),
            seen: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            ports,
        });
        let threads = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| {
                let shared = Arc::clone(&shared);
                let node = i as i32 + 1;
                thread::spawn(move || accept_loop(node, listener, shared))
            })
            .collect();
        FakeCluster { shared, threads }
    }

    /// `127.0.0.1:port` of broker `node`.
    pub fn address(&self, node: i32) -> String {
        format!("127.0.0.1:{}", self.shared.ports[node as usize - 1])
    }

    /// Every request received so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("seen").clone()
    }

    /// The requests of one API received so far.
    pub fn seen_api(&self, api: ApiKey) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.api_key == api)
            .collect()
    }

    /// What went wrong inside the fake (an answer that did not encode, a request it could not
    /// decode or had no answer for).
    pub fn problems(&self) -> Vec<String> {
        self.shared.problems.lock().expect("problems").clone()
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn accept_loop(node: i32, listener: TcpListener, shared: Arc<Shared>) {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let mut connections = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                connections.push(thread::spawn(move || serve(node, stream, shared)));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
    for connection in connections {
        let _ = connection.join();
    }
}

fn problem(shared: &Shared, text: String) {
    eprintln!("fake broker: {text}");
    shared.problems.lock().expect("problems").push(text);
}

fn serve(node: i32, mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let mut decoder = FrameDecoder::new(1 << 20);
    let mut buffer = [0u8; 4096];
    let ctx = Ctx {
        node,
        ports: shared.ports.clone(),
    };
    while !shared.stop.load(Ordering::SeqCst) {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => decoder.extend(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(frame)) => frame.to_vec(),
                Ok(None) => break,
                Err(e) => {
                    problem(&shared, format!("broker {node}: bad frame: {e}"));
                    return;
                }
            };
            let request = match decode_request(&frame) {
                Ok(request) => request,
                Err(e) => {
                    problem(&shared, format!("broker {node}: undecodable request: {e}"));
                    return;
                }
            };
            shared.seen.lock().expect("seen").push(Seen {
                node,
                api_key: request.api_key(),
                version: request.version(),
                client_id: request.header.client_id.clone(),
                body: request.body.clone(),
            });
            let answer = (shared.script.lock().expect("script"))(&ctx, &request);
            let body = match answer {
                Answer::Default => match default_answer(&ctx, &request) {
                    Some(body) => body,
                    None => {
                        problem(
                            &shared,
                            format!(
                                "broker {node}: no answer for {} v{}",
                                request.api_key().name(),
                                request.version()
                            ),
                        );
                        return;
                    }
                },
                Answer::Body(body) => body,
                Answer::Raw(bytes) => {
                    if stream.write_all(&bytes).is_err() {
                        return;
                    }
                    continue;
                }
                Answer::Silent => continue,
                Answer::Close => return,
            };
            let mut out = Vec::new();
            if let Err(e) =
                encode_response_body(&mut out, request.correlation_id(), request.version(), &body)
            {
                problem(
                    &shared,
                    format!(
                        "broker {node}: the answer to {} v{} does not encode: {e}",
                        request.api_key().name(),
                        request.version()
                    ),
                );
                return;
            }
            if stream.write_all(&out).is_err() {
                return;
            }
        }
    }
}

/// The APIs the admin commands use, at keel's codec ranges.
pub fn default_api_versions() -> Vec<(ApiKey, i16, i16)> {
    [
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::CreatePartitions,
        ApiKey::DescribeConfigs,
        ApiKey::IncrementalAlterConfigs,
        ApiKey::DescribeCluster,
    ]
    .into_iter()
    .map(|key| {
        let versions = key.versions();
        (key, *versions.start(), *versions.end())
    })
    .collect()
}

/// An ApiVersions answer offering `apis`.
pub fn api_versions(apis: &[(ApiKey, i16, i16)]) -> ResponseBody {
    ResponseBody::ApiVersions(ApiVersionsResponse {
        api_keys: apis
            .iter()
            .map(|(key, min, max)| ApiVersion {
                api_key: *key as i16,
                min_version: *min,
                max_version: *max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// The standard Metadata answer with `controller` and these topics.
pub fn metadata(
    ctx: &Ctx,
    controller: i32,
    topics: Vec<metadata_response::MetadataResponseTopic>,
) -> ResponseBody {
    ResponseBody::Metadata(MetadataResponse {
        brokers: ctx
            .ports
            .iter()
            .enumerate()
            .map(|(i, port)| metadata_response::MetadataResponseBroker {
                node_id: i as i32 + 1,
                host: "127.0.0.1".into(),
                port: i32::from(*port),
                rack: None,
                ..Default::default()
            })
            .collect(),
        cluster_id: Some(CLUSTER_ID.into()),
        controller_id: controller,
        topics,
        ..Default::default()
    })
}

/// The topics a Metadata request names (`None`: all).
pub fn requested_topics(request: &RequestFrame) -> Option<Vec<String>> {
    match &request.body {
        RequestBody::Metadata(m) => m
            .topics
            .as_ref()
            .map(|topics| topics.iter().filter_map(|t| t.name.clone()).collect()),
        _ => None,
    }
}

fn default_answer(ctx: &Ctx, request: &RequestFrame) -> Option<ResponseBody> {
    match request.api_key() {
        ApiKey::ApiVersions => Some(api_versions(&default_api_versions())),
        ApiKey::Metadata => {
            let topics = requested_topics(request)
                .unwrap_or_default()
                .into_iter()
                .map(|name| metadata_response::MetadataResponseTopic {
                    error_code: ErrorCode::UnknownTopicOrPartition.code(),
                    name: Some(name),
                    ..Default::default()
                })
                .collect();
            Some(metadata(ctx, 1, topics))
        }
        _ => None,
    }
}

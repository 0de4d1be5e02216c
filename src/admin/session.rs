//! One admin command's connections to a cluster, routed the way Kafka's AdminClient routes.
//!
//! - **Bootstrap.** `--bootstrap-server` lists one or more `host:port`; the first that
//!   completes ApiVersions and a brokers-only Metadata becomes the bootstrap connection, which
//!   carries every later Metadata request and every request any broker can answer.
//! - **Versions.** Every connection starts with ApiVersions (KIP-511 downgrade included); each
//!   request then goes at `min(ours, theirs)`: the newest version both keel's codec and that
//!   server know, provided it is at least the oldest both accept and the oldest the command
//!   needs. No common version is an [`AdminError::Unsupported`] naming both ranges.
//! - **Controller-bound requests** (CreateTopics, DeleteTopics, CreatePartitions,
//!   IncrementalAlterConfigs) go to the broker Metadata names in `ControllerId`, at the address
//!   it advertises. While no controller is known, Metadata is asked again with a backoff until
//!   the deadline. Items answered `NOT_CONTROLLER` are sent again, after a fresh Metadata, at
//!   most [`ADMIN_NOT_CONTROLLER_RETRIES_MAX`] times; items answered otherwise are never resent.
//! - **Time.** One deadline (`--timeout-ms`) bounds the whole command: connects, reads, writes,
//!   backoffs; the time left is what the requests' `TimeoutMs` fields ask of the controller.
//!
//! A request is never sent twice after its connection failed mid-way: its outcome is unknown,
//! and the error says so by naming the address.

use std::ops::RangeInclusive;
use std::thread;
use std::time::{Duration, Instant};

use crate::constants::{
    ADMIN_NOT_CONTROLLER_RETRIES_MAX, ADMIN_RETRY_BACKOFF_MAX_MS, ADMIN_RETRY_BACKOFF_MS,
};
use crate::protocol::messages::{
    MetadataRequest, MetadataResponse, api_versions_response::ApiVersion, metadata_request,
};
use crate::protocol::{ApiKey, ApiMessage, ErrorCode};

use super::client::{Client, ClientError};
use super::error::{AdminError, KafkaError};

/// The oldest Metadata version the commands use: v0 has no `ControllerId` and reads an empty
/// topic list as "all topics".
pub const METADATA_VERSION_MIN: i16 = 1;

/// A broker as Metadata (or DescribeCluster) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl Broker {
    /// `host:port`, with an IPv6 host in brackets.
    pub fn address(&self) -> String {
        join_host_port(&self.host, self.port)
    }
}

/// `host:port`, with an IPv6 host in brackets.
pub fn join_host_port(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What the newest Metadata said about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// Null before Metadata v2, or if the server sent none.
    pub cluster_id: Option<String>,
    /// -1 if unknown.
    pub controller_id: i32,
    pub brokers: Vec<Broker>,
    /// The Metadata version it came from.
    pub version: i16,
}

/// Splits `--bootstrap-server` (`host:port[,host:port...]`) into addresses.
pub fn parse_bootstrap_servers(text: &str) -> Result<Vec<String>, AdminError> {
    let mut servers = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let bad = || {
            AdminError::Usage(format!(
                "--bootstrap-server: {part:?} is not host:port (for example 127.0.0.1:9092)"
            ))
        };
        let (host, port) = part.rsplit_once(':').ok_or_else(bad)?;
        let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
        if host.is_empty() || (host.contains(':') && !bracketed) {
            return Err(bad());
        }
        match port.parse::<u16>() {
            Ok(port) if port > 0 => servers.push(part.to_owned()),
            _ => return Err(bad()),
        }
    }
    if servers.is_empty() {
        return Err(AdminError::Usage(
            "--bootstrap-server needs at least one host:port".into(),
        ));
    }
    Ok(servers)
}

/// The newest version both sides know, at least `min_version`: `min(ours, theirs)`, checked
/// against both minimums. `Err` holds the server's range (`None`: not offered at all).
pub fn pick_version(
    ours: RangeInclusive<i16>,
    theirs: Option<RangeInclusive<i16>>,
) -> Result<i16, Option<RangeInclusive<i16>>> {
    let Some(theirs) = theirs else {
        return Err(None);
    };
    let version = (*ours.end()).min(*theirs.end());
    if version < *ours.start() || version < *theirs.start() {
        return Err(Some(theirs));
    }
    Ok(version)
}

/// Where and how long an admin command may talk to the cluster (`--bootstrap-server`,
/// `--timeout-ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    pub bootstrap_servers: String,
    pub timeout_ms: u64,
}

impl ConnectOptions {
    /// Opens a session ([`Session::open`]); the deadline starts now.
    pub fn open(&self) -> Result<Session, AdminError> {
        Session::open(&self.bootstrap_servers, self.timeout_ms)
    }
}

/// One open connection and the versions its server offers.
struct Connection {
    address: String,
    client: Client,
    versions: Vec<ApiVersion>,
}

/// Index of a connection of a [`Session`]. The bootstrap connection is [`BOOTSTRAP`].
pub type NodeIndex = usize;

pub const BOOTSTRAP: NodeIndex = 0;

/// An admin command's connections and the cluster as the newest Metadata shows it.
pub struct Session {
    deadline: Instant,
    timeout_ms: u64,
    connections: Vec<Connection>,
    view: ClusterView,
}

impl Session {
    /// Bootstraps from the first server of `bootstrap_servers` that answers ApiVersions and a
    /// brokers-only Metadata; `timeout_ms` bounds everything the session does from now on.
    pub fn open(bootstrap_servers: &str, timeout_ms: u64) -> Result<Session, AdminError> {
        let servers = parse_bootstrap_servers(bootstrap_servers)?;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut failures = Vec::new();
        for address in servers {
            match Session::bootstrap_from(&address, deadline, timeout_ms) {
                Ok(session) => return Ok(session),
                Err(e) => failures.push(e),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if failures.len() == 1 {
            return Err(failures.pop().expect("one failure"));
        }
        Err(AdminError::Bootstrap(failures))
    }

    fn bootstrap_from(
        address: &str,
        deadline: Instant,
        timeout_ms: u64,
    ) -> Result<Session, AdminError> {
        let connection = Connection::open(address, deadline, timeout_ms)?;
        let mut session = Session {
            deadline,
            timeout_ms,
            connections: vec![connection],
            view: ClusterView {
                cluster_id: None,
                controller_id: -1,
                brokers: Vec::new(),
                version: 0,
            },
        };
        session.refresh_metadata()?;
        Ok(session)
    }

    /// The cluster as the newest Metadata showed it.
    pub fn view(&self) -> &ClusterView {
        &self.view
    }

    /// The `host:port` of connection `node`.
    pub fn address(&self, node: NodeIndex) -> &str {
        &self.connections[node].address
    }

    /// The versions of `api` the server behind `node` offers, if any.
    pub fn offered(&self, node: NodeIndex, api: ApiKey) -> Option<RangeInclusive<i16>> {
        self.connections[node]
            .versions
            .iter()
            .find(|v| v.api_key == api as i16)
            .map(|v| v.min_version..=v.max_version)
    }

    /// The version to send `api` at on `node`: the newest keel's codec and the server share,
    /// at least `min_version`.
    pub fn version_for(
        &self,
        node: NodeIndex,
        api: ApiKey,
        min_version: i16,
    ) -> Result<i16, AdminError> {
        let codec = api.versions();
        let ours = (*codec.start()).max(min_version)..=*codec.end();
        pick_version(ours.clone(), self.offered(node, api)).map_err(|theirs| {
            let hint =
                (theirs.is_none() && self.offered(node, ApiKey::Vote).is_some()).then(|| {
                    "it serves Vote: it is a controller, and --bootstrap-server takes a broker's \
                 address"
                        .to_owned()
                });
            AdminError::Unsupported {
                address: self.address(node).to_owned(),
                api,
                theirs,
                ours,
                hint,
            }
        })
    }

    /// Milliseconds left before the deadline, for the requests' `TimeoutMs` fields (at least 1).
    pub fn remaining_ms(&self) -> i32 {
        let left = self.deadline.saturating_duration_since(Instant::now());
        i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1)
    }

    fn client_error(&self, e: ClientError) -> AdminError {
        match e {
            ClientError::TimedOut { address } => AdminError::TimedOut {
                waiting_for: format!("an answer from {address}"),
                timeout_ms: self.timeout_ms,
            },
            e => AdminError::Client(e),
        }
    }

    /// Sends the request `build` makes for the negotiated version to `node` and waits for the
    /// answer. Returns the version used and the answer.
    pub fn call<Q: ApiMessage, R: ApiMessage>(
        &mut self,
        node: NodeIndex,
        min_version: i16,
        build: impl FnOnce(i16) -> Result<Q, AdminError>,
    ) -> Result<(i16, R), AdminError> {
        let version = self.version_for(node, Q::API_KEY, min_version)?;
        let request = build(version)?;
        let result = self.connections[node].client.call(&request, version);
        result
            .map(|response| (version, response))
            .map_err(|e| self.client_error(e))
    }

    /// Metadata for `topics` (`None`: every topic; empty: brokers only) from the bootstrap
    /// connection. The brokers and controller it names become the session's view.
    pub fn metadata(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<(i16, MetadataResponse), AdminError> {
        let (version, response): (i16, MetadataResponse) =
            self.call(BOOTSTRAP, METADATA_VERSION_MIN, |version| {
                Ok(metadata_request_for(topics, version))
            })?;
        if let Some(error) = KafkaError::from_answer(response.error_code, None) {
            return Err(AdminError::Refused {
                address: self.address(BOOTSTRAP).to_owned(),
                api: ApiKey::Metadata,
                error,
            });
        }
        self.view = ClusterView {
            cluster_id: response.cluster_id.clone(),
            controller_id: response.controller_id,
            brokers: response
                .brokers
                .iter()
                .map(|b| Broker {
                    id: b.node_id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: b.rack.clone(),
                })
                .collect(),
            version,
        };
        Ok((version, response))
    }

    /// Asks the bootstrap connection for the brokers and the controller again.
    pub fn refresh_metadata(&mut self) -> Result<(), AdminError> {
        self.metadata(Some(&[])).map(|_| ())
    }

    /// The connection to broker `id`, at the address Metadata gave for it (opened, with its
    /// ApiVersions handshake, on first use; shared with any connection to the same address).
    pub fn node_for_broker(&mut self, id: i32) -> Result<NodeIndex, AdminError> {
        let bad = |reason: String| AdminError::BadAnswer {
            address: self.address(BOOTSTRAP).to_owned(),
            reason,
        };
        let broker = self
            .view
            .brokers
            .iter()
            .find(|b| b.id == id)
            .ok_or_else(|| bad(format!("its Metadata lists no broker {id}")))?;
        if !(1..=i32::from(u16::MAX)).contains(&broker.port) || broker.host.is_empty() {
            return Err(bad(format!(
                "its Metadata gives broker {id} the address {:?}",
                broker.address()
            )));
        }
        let address = broker.address();
        if let Some(node) = self.connections.iter().position(|c| c.address == address) {
            return Ok(node);
        }
        let connection = Connection::open(&address, self.deadline, self.timeout_ms)?;
        self.connections.push(connection);
        Ok(self.connections.len() - 1)
    }

    /// The connection to the controller Metadata names; while it names none (or one it lists
    /// no address for), asks again with a backoff until the deadline.
    pub fn controller(&mut self) -> Result<NodeIndex, AdminError> {
        let mut attempt = 0;
        loop {
            let id = self.view.controller_id;
            if id >= 0 && self.view.brokers.iter().any(|b| b.id == id) {
                return self.node_for_broker(id);
            }
            let why = if id < 0 {
                "a controller (Metadata names none yet)".to_owned()
            } else {
                format!("the address of the controller, broker {id} (Metadata lists none)")
            };
            self.pause(attempt, &why)?;
            attempt += 1;
            self.refresh_metadata()?;
        }
    }

    /// Sleeps the backoff of retry `attempt` (0-based), or fails if the deadline comes first.
    pub fn pause(&self, attempt: u32, waiting_for: &str) -> Result<(), AdminError> {
        let backoff_ms = ADMIN_RETRY_BACKOFF_MS
            .saturating_mul(1 << attempt.min(16))
            .min(ADMIN_RETRY_BACKOFF_MAX_MS);
        let backoff = Duration::from_millis(backoff_ms);
        if Instant::now() + backoff >= self.deadline {
            return Err(AdminError::TimedOut {
                waiting_for: waiting_for.to_owned(),
                timeout_ms: self.timeout_ms,
            });
        }
        thread::sleep(backoff);
        Ok(())
    }

    /// Sends `items` to the controller in one request (`build(items, version, timeout_ms)`),
    /// pairs each item with its outcome (`outcomes`, which checks the answer against the items
    /// sent), and sends the items whose outcome is `NOT_CONTROLLER` again, to the controller of
    /// a fresh Metadata, at most [`ADMIN_NOT_CONTROLLER_RETRIES_MAX`] times. Returns every item
    /// with its last outcome, in the order given.
    pub fn call_controller<I, Q, R, O>(
        &mut self,
        items: Vec<I>,
        min_version: i16,
        build: impl Fn(&[I], i16, i32) -> Result<Q, AdminError>,
        outcomes: impl Fn(&[I], R, i16, &str) -> Result<Vec<O>, AdminError>,
        not_controller: impl Fn(&O) -> bool,
    ) -> Result<Vec<(I, O)>, AdminError>
    where
        Q: ApiMessage,
        R: ApiMessage,
    {
        let mut pending: Vec<(usize, I)> = items.into_iter().enumerate().collect();
        let mut done: Vec<(usize, I, O)> = Vec::new();
        let mut retry_round = 0;
        while !pending.is_empty() {
            let node = self.controller()?;
            let timeout_ms = self.remaining_ms();
            let (indexes, sent): (Vec<usize>, Vec<I>) = pending.into_iter().unzip();
            let (version, response): (i16, R) = self.call(node, min_version, |version| {
                build(&sent, version, timeout_ms)
            })?;
            let answered = outcomes(&sent, response, version, self.address(node))?;
            assert_eq!(
                answered.len(),
                sent.len(),
                "one outcome per item sent (the outcomes function checks the answer)"
            );
            let mut again = Vec::new();
            for ((index, item), outcome) in indexes.into_iter().zip(sent).zip(answered) {
                if not_controller(&outcome) && retry_round < ADMIN_NOT_CONTROLLER_RETRIES_MAX {
                    again.push((index, item, outcome));
                } else {
                    done.push((index, item, outcome));
                }
            }
            if again.is_empty() {
                break;
            }
            let waiting_for = format!(
                "the new controller ({} answered NOT_CONTROLLER)",
                self.address(node)
            );
            if self.pause(retry_round, &waiting_for).is_err() {
                // No time for another round: the NOT_CONTROLLER answers are the outcome.
                done.extend(again);
                break;
            }
            retry_round += 1;
            self.refresh_metadata()?;
            pending = again
                .into_iter()
                .map(|(index, item, _)| (index, item))
                .collect();
        }
        done.sort_by_key(|(index, _, _)| *index);
        Ok(done
            .into_iter()
            .map(|(_, item, outcome)| (item, outcome))
            .collect())
    }
}

impl Connection {
    fn open(address: &str, deadline: Instant, timeout_ms: u64) -> Result<Connection, AdminError> {
        let timed_out = |address: String| AdminError::TimedOut {
            waiting_for: format!("an answer from {address}"),
            timeout_ms,
        };
        let mut client = Client::connect_until(address, deadline).map_err(|e| match e {
            ClientError::TimedOut { address } => timed_out(address),
            e => AdminError::Client(e),
        })?;
        let (_, response) = client.api_versions().map_err(|e| match e {
            ClientError::TimedOut { address } => timed_out(address),
            e => AdminError::Client(e),
        })?;
        if let Some(error) = KafkaError::from_answer(response.error_code, None) {
            return Err(AdminError::Refused {
                address: address.to_owned(),
                api: ApiKey::ApiVersions,
                error,
            });
        }
        Ok(Connection {
            address: address.to_owned(),
            client,
            versions: response.api_keys,
        })
    }
}

/// The Metadata request for `topics` at `version` (never asking to create topics).
pub fn metadata_request_for(topics: Option<&[String]>, version: i16) -> MetadataRequest {
    MetadataRequest {
        topics: topics.map(|names| {
            names
                .iter()
                .map(|name| metadata_request::MetadataRequestTopic {
                    name: Some(name.clone()),
                    ..Default::default()
                })
                .collect()
        }),
        // Only v4+ can say no; before, auto-creation is the server's setting alone.
        allow_auto_topic_creation: version < 4,
        ..Default::default()
    }
}

/// Pairs each asked-for name with the one answer entry naming it. An entry for a name not
/// asked for, a name answered twice or a name not answered makes the whole answer unusable
/// (as librdkafka treats such CreateTopics answers).
pub fn match_by_name<'a, T>(
    address: &str,
    asked: &[&str],
    entries: &'a [T],
    name_of: impl Fn(&T) -> Option<&str>,
) -> Result<Vec<&'a T>, AdminError> {
    let bad = |reason: String| AdminError::BadAnswer {
        address: address.to_owned(),
        reason,
    };
    let mut matched: Vec<Option<&T>> = vec![None; asked.len()];
    for entry in entries {
        let name = name_of(entry).unwrap_or("");
        let Some(position) = asked.iter().position(|a| *a == name) else {
            return Err(bad(format!(
                "it answers for {name:?}, which was not asked about"
            )));
        };
        if matched[position].replace(entry).is_some() {
            return Err(bad(format!("it answers twice for {name:?}")));
        }
    }
    asked
        .iter()
        .zip(matched)
        .map(|(name, entry)| entry.ok_or_else(|| bad(format!("it does not answer for {name:?}"))))
        .collect()
}

/// Whether an outcome carrying `error` should go to the new controller.
pub fn is_not_controller(error: Option<&KafkaError>) -> bool {
    error.is_some_and(|e| e.is(ErrorCode::NotController))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitStatus;

    #[test]
    fn bootstrap_servers_are_host_port_lists() {
        assert_eq!(
            parse_bootstrap_servers("127.0.0.1:9092, broker2:9093,[::1]:9094").unwrap(),
            vec!["127.0.0.1:9092", "broker2:9093", "[::1]:9094"]
        );
        for bad in [
            "",
            ",",
            "localhost",
            "host:",
            "host:0",
            "host:99999",
            ":9092",
            "::1:9092",
        ] {
            let error = parse_bootstrap_servers(bad).unwrap_err();
            assert_eq!(error.exit_status(), ExitStatus::Usage, "{bad:?}: {error}");
        }
        assert!(
            parse_bootstrap_servers("localhost")
                .unwrap_err()
                .to_string()
                .contains("\"localhost\" is not host:port"),
        );
    }

    #[test]
    fn versions_are_the_newest_both_sides_know() {
        assert_eq!(pick_version(1..=13, Some(0..=4)), Ok(4));
        assert_eq!(pick_version(1..=4, Some(0..=13)), Ok(4));
        assert_eq!(pick_version(2..=7, Some(0..=1)), Err(Some(0..=1)));
        assert_eq!(pick_version(1..=4, Some(5..=9)), Err(Some(5..=9)));
        assert_eq!(pick_version(1..=4, None), Err(None));
        // A nonsensical range from the server (min above max) is never used.
        let (min, max) = (3, 2);
        assert_eq!(pick_version(0..=4, Some(min..=max)), Err(Some(min..=max)));
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(join_host_port("::1", 9092), "[::1]:9092");
        assert_eq!(join_host_port("b1", 9092), "b1:9092");
    }

    #[test]
    fn metadata_requests_never_create_topics_and_fit_every_version() {
        let names = ["orders".to_string()];
        for version in METADATA_VERSION_MIN..=*ApiKey::Metadata.versions().end() {
            for topics in [None, Some(&names[..]), Some(&[][..])] {
                let request = metadata_request_for(topics, version);
                assert_eq!(request.allow_auto_topic_creation, version < 4);
                use crate::protocol::Message;
                request.to_bytes(version).unwrap();
            }
        }
    }

    #[test]
    fn answers_are_matched_to_questions_by_name() {
        let entries = vec![("b", 1), ("a", 2)];
        fn name<'a>(e: &'a (&'static str, i32)) -> Option<&'a str> {
            Some(e.0)
        }
        let matched = match_by_name("h:1", &["a", "b"], &entries, name).unwrap();
        assert_eq!(matched, vec![&("a", 2), &("b", 1)]);
        let error = match_by_name("h:1", &["a"], &entries, name).unwrap_err();
        assert_eq!(
            error.to_string(),
            "h:1 gave an answer keel cannot use: it answers for \"b\", which was not asked about"
        );
        assert_eq!(error.exit_status(), ExitStatus::Incompatible);
        let twice = vec![("a", 1), ("a", 2)];
        assert!(
            match_by_name("h:1", &["a"], &twice, name)
                .unwrap_err()
                .to_string()
                .contains("answers twice for \"a\"")
        );
        assert!(
            match_by_name("h:1", &["a", "c"], &entries[1..], name)
                .unwrap_err()
                .to_string()
                .contains("does not answer for \"c\"")
        );
    }
}

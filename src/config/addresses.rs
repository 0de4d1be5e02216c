//! Addresses in the configuration: the voters (`controller.quorum.voters`, and `keel format
//! --initial-controllers`), the listeners, their security protocols and what a broker
//! advertises. Parsing is pure; resolving a name ([`VoterAddress::resolve`]) is done once at
//! start-up.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::constants::RAFT_MAX_VOTERS;
use crate::protocol::Uuid;

use super::keys::{
    ADVERTISED_LISTENERS, CONTROLLER_QUORUM_VOTERS, LISTENER_SECURITY_PROTOCOL_MAP, LISTENERS,
};
use super::{ConfigError, error};

/// One entry of `controller.quorum.voters`: `id@host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterAddress {
    pub id: u32,
    pub host: String,
    pub port: u16,
}

impl VoterAddress {
    /// Resolves the address (DNS if the host is a name). Done once at start-up, not in the event
    /// loop, because resolution blocks.
    pub fn resolve(&self) -> std::io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} has no address", self.host),
                )
            })
    }
}

/// One entry of `listeners`: `NAME://host:port`. An empty host binds every interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// The address to bind: the host if it is an IP literal, every interface if it is empty,
    /// else the name resolved once at start-up.
    pub fn bind_address(&self) -> std::io::Result<SocketAddr> {
        if self.host.is_empty() {
            return Ok(SocketAddr::from(([0, 0, 0, 0], self.port)));
        }
        if let Ok(ip) = self
            .host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
        {
            return Ok(SocketAddr::new(ip, self.port));
        }
        VoterAddress {
            id: 0,
            host: self.host.clone(),
            port: self.port,
        }
        .resolve()
    }
}

fn parse_port(key: &str, text: &str, entry: &str) -> Result<u16, ConfigError> {
    text.parse::<u16>()
        .ok()
        .filter(|&port| port > 0)
        .ok_or_else(|| error(key, format!("{entry:?} has no valid port (1-65535)")))
}

/// Splits `host:port`, with `[v6]:port` for IPv6 literals.
fn split_host_port<'a>(key: &str, text: &'a str) -> Result<(&'a str, &'a str), ConfigError> {
    let colon = if text.starts_with('[') {
        text.find("]:").map(|i| i + 1)
    } else {
        text.rfind(':')
    };
    let colon = colon.ok_or_else(|| error(key, format!("{text:?} is not host:port")))?;
    Ok((&text[..colon], &text[colon + 1..]))
}

fn parse_voter_entry(key: &str, entry: &str) -> Result<VoterAddress, ConfigError> {
    let (id, address) = entry
        .split_once('@')
        .ok_or_else(|| error(key, format!("{entry:?} is not id@host:port")))?;
    let id: u32 = id
        .parse()
        .ok()
        .filter(|&id| id <= i32::MAX as u32)
        .ok_or_else(|| error(key, format!("{entry:?} has no valid node id")))?;
    let (host, port) = split_host_port(key, address)?;
    if host.is_empty() {
        return Err(error(key, format!("{entry:?} has no host")));
    }
    let port = parse_port(key, port, entry)?;
    Ok(VoterAddress {
        id,
        host: host.to_owned(),
        port,
    })
}

pub fn parse_voters(value: &str) -> Result<Vec<VoterAddress>, ConfigError> {
    const KEY: &str = CONTROLLER_QUORUM_VOTERS.name;
    let mut voters: Vec<VoterAddress> = Vec::new();
    for entry in value.split(',').map(str::trim) {
        let voter = parse_voter_entry(KEY, entry)?;
        if voters.iter().any(|v| v.id == voter.id) {
            return Err(error(KEY, format!("node id {} appears twice", voter.id)));
        }
        voters.push(voter);
    }
    if voters.len() > RAFT_MAX_VOTERS {
        return Err(error(
            KEY,
            format!(
                "{} voters; keel supports at most {RAFT_MAX_VOTERS}",
                voters.len()
            ),
        ));
    }
    Ok(voters)
}

/// One entry of `keel format --initial-controllers`: `id@host:port:directory-id` (KIP-853's
/// form), the voter and the directory id its disk is formatted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialController {
    pub voter: VoterAddress,
    pub directory_id: Uuid,
}

/// Parses `--initial-controllers` and checks it names exactly the voters of
/// `controller.quorum.voters` (same ids, hosts and ports), each with its own non-zero
/// directory id. Pure.
pub fn parse_initial_controllers(
    value: &str,
    voters: &[VoterAddress],
) -> Result<Vec<InitialController>, ConfigError> {
    const KEY: &str = "--initial-controllers";
    let mut controllers: Vec<InitialController> = Vec::new();
    for entry in value.split(',').map(str::trim) {
        let (address, directory) = entry
            .rsplit_once(':')
            .ok_or_else(|| error(KEY, format!("{entry:?} is not id@host:port:directory-id")))?;
        let directory_id: Uuid = directory.parse().map_err(|_| {
            error(
                KEY,
                format!(
                    "{entry:?}: {directory:?} is not a directory id (22 characters of URL-safe base64, as `keel random-uuid` prints)"
                ),
            )
        })?;
        if directory_id == Uuid::ZERO {
            return Err(error(KEY, format!("{entry:?}: the directory id is zero")));
        }
        let voter = parse_voter_entry(KEY, address)?;
        if controllers.iter().any(|c| c.voter.id == voter.id) {
            return Err(error(KEY, format!("node id {} appears twice", voter.id)));
        }
        if let Some(twin) = controllers.iter().find(|c| c.directory_id == directory_id) {
            return Err(error(
                KEY,
                format!(
                    "nodes {} and {} have the same directory id {directory_id}",
                    twin.voter.id, voter.id
                ),
            ));
        }
        controllers.push(InitialController {
            voter,
            directory_id,
        });
    }
    let mut listed: Vec<&VoterAddress> = controllers.iter().map(|c| &c.voter).collect();
    let mut configured: Vec<&VoterAddress> = voters.iter().collect();
    listed.sort_by_key(|v| v.id);
    configured.sort_by_key(|v| v.id);
    if listed != configured {
        let show = |list: &[&VoterAddress]| {
            list.iter()
                .map(|v| format!("{}@{}:{}", v.id, v.host, v.port))
                .collect::<Vec<_>>()
                .join(",")
        };
        return Err(error(
            KEY,
            format!(
                "names the voters {} but {} is {}",
                show(&listed),
                CONTROLLER_QUORUM_VOTERS.name,
                show(&configured)
            ),
        ));
    }
    Ok(controllers)
}

pub fn parse_listeners(value: &str) -> Result<Vec<Listener>, ConfigError> {
    const KEY: &str = LISTENERS.name;
    let mut listeners: Vec<Listener> = Vec::new();
    for entry in value.split(',').map(str::trim) {
        let (name, address) = entry
            .split_once("://")
            .ok_or_else(|| error(KEY, format!("{entry:?} is not NAME://host:port")))?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(error(
                KEY,
                format!("{name:?} is not a listener name (letters, digits, _ and -)"),
            ));
        }
        let (host, port) = split_host_port(KEY, address)?;
        let port = parse_port(KEY, port, entry)?;
        let name = name.to_ascii_uppercase();
        if listeners.iter().any(|l| l.name == name) {
            return Err(error(KEY, format!("listener name {name} appears twice")));
        }
        listeners.push(Listener {
            name,
            host: host.to_owned(),
            port,
        });
    }
    Ok(listeners)
}

/// Kafka's security protocols, of which keel serves the first only (for now).
const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Every listener's security protocol (`listener.security.protocol.map`, where a listener not
/// in the map and named after a protocol uses that protocol, as in Kafka, and any other name
/// is PLAINTEXT) must be PLAINTEXT: a node that was asked for TLS or SASL refuses to start
/// rather than serve that listener unencrypted and unauthenticated.
pub fn check_plaintext_listeners(
    map: Option<&str>,
    listeners: &[Listener],
) -> Result<(), ConfigError> {
    const KEY: &str = LISTENER_SECURITY_PROTOCOL_MAP.name;
    let mut mapped: Vec<(String, String)> = Vec::new();
    for entry in map.unwrap_or("").split(',').map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let Some((name, protocol)) = entry.split_once(':') else {
            return Err(error(KEY, format!("{entry:?} is not NAME:PROTOCOL")));
        };
        let protocol = protocol.trim().to_ascii_uppercase();
        if !SECURITY_PROTOCOLS.contains(&protocol.as_str()) {
            return Err(error(
                KEY,
                format!(
                    "{protocol} is not a security protocol (one of {})",
                    SECURITY_PROTOCOLS.join(", ")
                ),
            ));
        }
        mapped.push((name.trim().to_ascii_uppercase(), protocol));
    }
    for listener in listeners {
        let protocol = match mapped.iter().find(|(name, _)| *name == listener.name) {
            Some((_, protocol)) => protocol.as_str(),
            None if SECURITY_PROTOCOLS.contains(&listener.name.as_str()) => &listener.name,
            None => "PLAINTEXT",
        };
        if protocol != "PLAINTEXT" {
            return Err(error(
                KEY,
                format!(
                    "listener {} would use {protocol}, but keel serves PLAINTEXT only (TLS and SASL are not supported yet); it will not serve that listener unprotected",
                    listener.name
                ),
            ));
        }
    }
    Ok(())
}

/// The advertised listeners of the broker listeners `bound`: the `advertised.listeners` entry
/// of that name, else the bound address, which must then be one a client can connect to.
/// A combined node may also advertise its controller
/// listeners, as Kafka 3.9's own `server.properties` does; keel's voters are reached at the
/// addresses in `controller.quorum.voters`, so those entries are accepted and not used.
pub fn advertised(
    value: Option<&str>,
    bound: &[&Listener],
    controller_listener_names: &[String],
) -> Result<Vec<Listener>, ConfigError> {
    const KEY: &str = ADVERTISED_LISTENERS.name;
    let given: Vec<Listener> = match value {
        Some(value) => parse_listeners(value).map_err(|mut e| {
            e.key = Some(KEY.into());
            e
        })?,
        None => Vec::new(),
    }
    .into_iter()
    .filter(|a| !controller_listener_names.contains(&a.name))
    .collect();
    if let Some(stray) = given
        .iter()
        .find(|a| !bound.iter().any(|l| l.name == a.name))
    {
        return Err(error(
            KEY,
            format!("{} is not one of the broker's listeners", stray.name),
        ));
    }
    bound
        .iter()
        .map(|listener| {
            let address = given
                .iter()
                .find(|a| a.name == listener.name)
                .unwrap_or(listener);
            let host = address.host.trim_matches(|c| c == '[' || c == ']');
            if host.is_empty() || host == "0.0.0.0" || host == "::" {
                return Err(error(
                    KEY,
                    format!(
                        "listener {} binds every interface ({:?}); say which address clients should use in {KEY}",
                        listener.name, address.host
                    ),
                ));
            }
            Ok((*address).clone())
        })
        .collect()
}

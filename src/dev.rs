//! `keel dev`: a local cluster for trying keel (controllers and brokers), as child processes
//! of one command.
//!
//! The first run creates `<dir>/cluster.id`, one `server.properties` and one data directory per
//! node, and formats them; later runs reuse them, so data survives restarts. Each child is
//! a real `keel start`, its log lines streamed to this process's stdout prefixed with its node
//! id (one reader thread per child: this is a supervisor, not a node, and does no I/O of its
//! own besides). Ctrl-C (or SIGTERM) stops every child gracefully and waits for it: the
//! brokers first, while the controllers can still grant their controlled shutdowns, then the
//! controllers. The children run in their own process group, so the terminal's Ctrl-C reaches
//! this supervisor only and the order holds, and each dies with it if it is killed outright.
//! Segments are small (`DEV_SEGMENT_BYTES`): a dev directory is a few MiB per node.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::admin::quorum;
use crate::config::{Config, InitialController};
use crate::constants::{DEV_LEADER_WAIT_MS, DEV_SEGMENT_BYTES, DEV_STOP_WAIT_MS};
use crate::node::datadir;
use crate::server::signals::ShutdownSignal;
use crate::storage::meta_properties::{MetaProperties, random_uuid};

/// What `keel dev` was asked for.
#[derive(Debug, Clone)]
pub struct DevOptions {
    pub controllers: u32,
    pub brokers: u32,
    pub dir: PathBuf,
    /// Port of controller 1; controller N listens on base-port + N - 1.
    pub base_port: u16,
    /// Port of broker 1 (Kafka's usual 9092); the other brokers take the ports after the
    /// last controller's.
    pub broker_port: u16,
}

impl DevOptions {
    /// Node ids: controllers 1..=C, brokers C+1..=C+B.
    pub fn broker_ids(&self) -> std::ops::RangeInclusive<u32> {
        self.controllers + 1..=self.controllers + self.brokers
    }

    /// The port of node `id`.
    pub fn port(&self, id: u32) -> u32 {
        if id <= self.controllers {
            u32::from(self.base_port) + id - 1
        } else if id == self.controllers + 1 {
            u32::from(self.broker_port)
        } else {
            u32::from(self.base_port) + id - 2
        }
    }

    /// Every node's port is valid and distinct.
    fn check_ports(&self) -> Result<(), String> {
        let mut ports = std::collections::BTreeSet::new();
        for id in 1..=self.controllers + self.brokers {
            let port = self.port(id);
            if port > u32::from(u16::MAX) || !ports.insert(port) {
                return Err(format!(
                    "node {id} would listen on port {port}, which is {}; choose --base-port and --broker-port apart",
                    if port > u32::from(u16::MAX) {
                        "not a port"
                    } else {
                        "taken by another node"
                    }
                ));
            }
        }
        Ok(())
    }

    /// `host:port` of the first broker, for clients.
    pub fn bootstrap_server(&self) -> String {
        format!("127.0.0.1:{}", self.broker_port)
    }
}

/// The properties of node `id` of a dev cluster: a controller for 1..=C, a broker after.
pub fn dev_properties(options: &DevOptions, id: u32) -> String {
    let port = |i: u32| options.port(i);
    let voters: Vec<String> = (1..=options.controllers)
        .map(|i| format!("{i}@127.0.0.1:{}", port(i)))
        .collect();
    if id > options.controllers {
        return format!(
            "# Written by `keel dev`; rewritten at every run.\n\
             process.roles=broker\n\
             node.id={id}\n\
             controller.quorum.voters={}\n\
             listeners=PLAINTEXT://127.0.0.1:{}\n\
             controller.listener.names=CONTROLLER\n\
             metadata.log.dir={}\n\
             metadata.log.segment.bytes={DEV_SEGMENT_BYTES}\n",
            voters.join(","),
            port(id),
            options.dir.join(format!("node-{id}")).display()
        );
    }
    format!(
        "# Written by `keel dev`; rewritten at every run.\n\
         process.roles=controller\n\
         node.id={id}\n\
         controller.quorum.voters={}\n\
         listeners=CONTROLLER://127.0.0.1:{}\n\
         controller.listener.names=CONTROLLER\n\
         metadata.log.dir={}\n\
         metadata.log.segment.bytes={DEV_SEGMENT_BYTES}\n",
        voters.join(","),
        port(id),
        options.dir.join(format!("node-{id}")).display()
    )
}

fn write_file(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The cluster id of the dev directory, created on the first run.
fn cluster_id(dir: &Path) -> Result<String, String> {
    let path = dir.join("cluster.id");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return Ok(text.trim().to_owned());
    }
    let id = random_uuid().map_err(|e| e.to_string())?.to_string();
    write_file(&path, &format!("{id}\n"))?;
    Ok(id)
}

/// Every controller's directory id, as `keel format --initial-controllers` takes them: the one
/// already on disk for a controller formatted by an earlier run, a fresh one otherwise.
fn initial_controllers(configs: &[Config]) -> Result<Vec<InitialController>, String> {
    configs
        .iter()
        .map(|config| {
            let formatted =
                MetaProperties::read(&config.metadata_log_dir).map_err(|e| e.to_string())?;
            let directory_id = match formatted {
                Some(meta) => meta.directory_id,
                None => random_uuid().map_err(|e| e.to_string())?,
            };
            let voter = config
                .local_voter()
                .ok_or("a dev controller is not among its voters")?
                .clone();
            Ok(InitialController {
                voter,
                directory_id,
            })
        })
        .collect()
}

struct Running {
    id: u32,
    broker: bool,
    child: Child,
}

/// Runs the dev quorum until Ctrl-C. `keel` is the path of the keel executable.
pub fn run(options: &DevOptions, keel: &Path) -> Result<(), String> {
    if options.controllers == 0 || options.controllers > crate::constants::RAFT_MAX_VOTERS as u32 {
        return Err(format!(
            "--controllers must be 1 to {}",
            crate::constants::RAFT_MAX_VOTERS
        ));
    }
    if options.brokers > crate::constants::DEV_BROKERS_MAX {
        return Err(format!(
            "--brokers must be 0 to {}",
            crate::constants::DEV_BROKERS_MAX
        ));
    }
    options.check_ports()?;
    std::fs::create_dir_all(&options.dir)
        .map_err(|e| format!("cannot create {}: {e}", options.dir.display()))?;
    let cluster = cluster_id(&options.dir)?;
    let mut configs = Vec::new();
    let mut loaded = Vec::new();
    for id in 1..=options.controllers + options.brokers {
        let path = options.dir.join(format!("node-{id}.properties"));
        write_file(&path, &dev_properties(options, id))?;
        let config =
            crate::config::Config::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        loaded.push(config);
        configs.push(path);
    }
    let initial = initial_controllers(&loaded[..options.controllers as usize])?;
    for config in &loaded {
        datadir::format(
            &config.metadata_log_dir,
            &cluster,
            config.node_id,
            true,
            &initial,
        )
        .map_err(|e| e.to_string())?;
    }
    let mut signal =
        ShutdownSignal::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let mut children = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        let id = index as u32 + 1;
        let mut command = Command::new(keel);
        command
            .args(["start", "--config"])
            .arg(config)
            .args(["--cluster-id", &cluster])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: the terminal's Ctrl-C goes to this process only, which
            // then stops the nodes in order.
            .process_group(0);
        // SAFETY: prctl(2) only, which is async-signal-safe, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // A node outlives no supervisor that was killed outright (SIGKILL, a crash).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", keel.display()))?;
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "[node {id}] {line}");
                }
            });
        }
        children.push(Running {
            id,
            broker: id > options.controllers,
            child,
        });
    }
    let bootstrap = format!("127.0.0.1:{}", options.base_port);
    let result = wait_for_leader(&mut children, &mut signal, &bootstrap);
    match &result {
        Ok(description) => {
            println!(
                "\nkeel dev: cluster {cluster} is up; leader is node {} (epoch {}).",
                description.leader_id, description.leader_epoch
            );
            println!("Controllers:");
            for id in 1..=options.controllers {
                println!("  node {id}: 127.0.0.1:{}", options.port(id));
            }
            if options.brokers > 0 {
                println!("Brokers (clients connect here):");
                for id in options.broker_ids() {
                    println!("  node {id}: 127.0.0.1:{}", options.port(id));
                }
            }
            println!("Data and configuration: {}", options.dir.display());
            println!(
                "Try:\n  {} quorum describe --bootstrap-controller {bootstrap} --replication",
                keel.display()
            );
            if options.brokers > 0 {
                let server = options.bootstrap_server();
                println!(
                    "  {} topics create --bootstrap-server {server} --topic orders --partitions 3 --replication-factor {}",
                    keel.display(),
                    options.brokers.min(3)
                );
                println!("  kcat -L -b {server}");
                println!(
                    "  python3 -c 'from kafka.admin import KafkaAdminClient; print(KafkaAdminClient(bootstrap_servers=\"{server}\").list_topics())'"
                );
            }
            println!("Press Ctrl-C to stop every node.\n");
        }
        Err(e) => eprintln!("keel dev: {e}"),
    }
    if result.is_ok() {
        while !signal.arrived() {
            if let Some(exited) = children
                .iter_mut()
                .find_map(|r| r.child.try_wait().ok().flatten().map(|s| (r.id, s)))
            {
                eprintln!(
                    "keel dev: node {} exited ({}); stopping the others",
                    exited.0, exited.1
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    stop(&mut children);
    result.map(|_| ())
}

fn wait_for_leader(
    children: &mut [Running],
    signal: &mut ShutdownSignal,
    bootstrap: &str,
) -> Result<quorum::QuorumDescription, String> {
    let deadline = Instant::now() + Duration::from_millis(DEV_LEADER_WAIT_MS);
    loop {
        if signal.arrived() {
            return Err("interrupted before a leader was elected".into());
        }
        for running in children.iter_mut() {
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(format!(
                    "node {} exited ({status}) before a leader was elected; see its log above",
                    running.id
                ));
            }
        }
        if let Ok(description) = quorum::describe(bootstrap) {
            return Ok(description);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no leader was elected within {} s",
                DEV_LEADER_WAIT_MS / 1000
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops every child: the brokers first (their controlled shutdowns need a controller), then
/// the controllers.
fn stop(children: &mut [Running]) {
    let started = Instant::now();
    let (brokers, controllers): (Vec<&mut Running>, Vec<&mut Running>) =
        children.iter_mut().partition(|running| running.broker);
    stop_group(brokers);
    stop_group(controllers);
    println!(
        "keel dev: all nodes stopped in {} ms.",
        started.elapsed().as_millis()
    );
}

/// SIGTERM every child of the group, wait for each, and kill what does not stop in time.
fn stop_group(group: Vec<&mut Running>) {
    for running in &group {
        // SAFETY: kill(2) on a child's pid, which we still own (not yet waited for).
        unsafe {
            libc::kill(running.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_millis(DEV_STOP_WAIT_MS);
    for running in group {
        loop {
            match running.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    eprintln!(
                        "keel dev: node {} did not stop in time; killing it",
                        running.id
                    );
                    let _ = running.child.kill();
                    let _ = running.child.wait();
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_take_9092_then_the_ports_after_the_controllers() {
        let options = DevOptions {
            controllers: 3,
            brokers: 3,
            dir: PathBuf::from("/tmp/keel-dev"),
            base_port: 9093,
            broker_port: 9092,
        };
        options.check_ports().unwrap();
        let ports: Vec<u32> = (1..=6).map(|id| options.port(id)).collect();
        assert_eq!(ports, [9093, 9094, 9095, 9092, 9096, 9097]);
        for id in options.broker_ids() {
            let config = crate::config::Config::parse(&dev_properties(&options, id)).unwrap();
            assert!(config.roles.broker && !config.roles.controller);
            assert_eq!(
                u32::from(config.advertised_listeners[0].port),
                options.port(id)
            );
            assert_eq!(config.voters.len(), 3);
        }
        let clash = DevOptions {
            broker_port: 9094,
            ..options
        };
        assert!(clash.check_ports().unwrap_err().contains("taken"));
    }

    #[test]
    fn dev_properties_are_a_valid_quorum_of_consecutive_ports() {
        let options = DevOptions {
            controllers: 3,
            brokers: 1,
            dir: PathBuf::from("/tmp/keel-dev"),
            base_port: 9093,
            broker_port: 9092,
        };
        for id in 1..=3 {
            let config = crate::config::Config::parse(&dev_properties(&options, id)).unwrap();
            assert_eq!(config.node_id, id);
            assert_eq!(config.listeners[0].port, 9092 + id as u16);
            assert_eq!(config.local_voter().unwrap().port, config.listeners[0].port);
            assert_eq!(
                config.metadata_log_dir,
                PathBuf::from(format!("/tmp/keel-dev/node-{id}"))
            );
        }
    }
}

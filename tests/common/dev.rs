//! `keel dev` as a user runs it: one supervisor process, started in its own process group as
//! a shell starts a foreground job, so [`Dev::ctrl_c`] can do what the terminal's Ctrl-C does
//! (SIGINT to the whole group). Its output is collected line by line; dropping a `Dev` kills
//! the supervisor and every node it started, and removes the directory.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{KEEL, POLL, free_ports, wait_exit};

pub struct Dev {
    pub dir: PathBuf,
    pub controllers: u32,
    pub brokers: u32,
    pub base_port: u16,
    pub broker_port: u16,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

/// `n` consecutive free ports on 127.0.0.1 (for `--base-port`, which takes base..base+n).
fn consecutive_free_ports(n: u16) -> u16 {
    for _ in 0..100 {
        let base = free_ports(1)[0];
        if base.checked_add(n).is_none() {
            continue;
        }
        let held: Vec<_> = (base..base + n)
            .map_while(|port| TcpListener::bind(("127.0.0.1", port)).ok())
            .collect();
        if held.len() == n as usize {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

impl Dev {
    /// A `keel dev` directory for `controllers` and `brokers` nodes on free ports; nothing runs.
    pub fn new(name: &str, controllers: u32, brokers: u32) -> Dev {
        let dir = std::env::temp_dir().join(format!("keel-dev-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Controllers take base..base+C, the brokers after the first take the ports after.
        let base_port = consecutive_free_ports((controllers + brokers.saturating_sub(1)) as u16);
        let broker_port = free_ports(1)[0];
        Dev {
            dir,
            controllers,
            brokers,
            base_port,
            broker_port,
            child: None,
            lines: Arc::default(),
        }
    }

    pub fn bootstrap_server(&self) -> String {
        format!("127.0.0.1:{}", self.broker_port)
    }

    /// Starts `keel dev` and waits until it says the cluster is up.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "keel dev is already running");
        self.lines.lock().unwrap().clear();
        let mut child = Command::new(KEEL)
            .arg("dev")
            .arg("--dir")
            .arg(&self.dir)
            .args(["--controllers", &self.controllers.to_string()])
            .args(["--brokers", &self.brokers.to_string()])
            .args(["--base-port", &self.base_port.to_string()])
            .args(["--broker-port", &self.broker_port.to_string()])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn keel dev");
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = Arc::clone(&self.lines);
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        self.child = Some(child);
        self.wait_for_line("is up", Duration::from_secs(30));
    }

    /// Every line `keel dev` printed since its last start (its own and its nodes').
    pub fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line contains `needle`, and returns it.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.output().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "keel dev printed no line with {needle:?} within {timeout:?}:\n{}",
                self.output().join("\n")
            );
            thread::sleep(POLL);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the terminal does on Ctrl-C: SIGINT to the foreground process group.
    pub fn ctrl_c(&self) {
        // SAFETY: kill(2) on our child's process group; no memory-safety preconditions.
        let rc = unsafe { libc::kill(-(self.pid() as libc::pid_t), libc::SIGINT) };
        assert_eq!(rc, 0, "SIGINT to the process group failed");
    }

    /// Waits for `keel dev` to exit (killing it after `timeout`); its status, if it exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take().expect("running");
        wait_exit(&mut child, timeout)
    }

    /// Pids of the `keel start` processes of this directory (read from /proc).
    pub fn node_pids(&self) -> Vec<u32> {
        node_pids_of(&self.dir)
    }
}

fn node_pids_of(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                text.contains(" start ") && text.contains(&needle)
            })
        })
        .collect()
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in node_pids_of(&self.dir) {
            // SAFETY: kill(2); a stray node of this test's own directory.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        if std::env::var_os("KEEL_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

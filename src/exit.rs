//! The exit statuses of every keel command (`keel start`, `format`, `pin-directory`,
//! `random-uuid`, `dev`, the admin commands, `keel-sim`): one enum, each status's number and
//! meaning written once, here.
//!
//! Scripts and service managers depend on the numbers (a systemd unit's
//! `RestartPreventExitStatus=2 3`, a script telling "refused" from "no answer"), so a number
//! never changes meaning. The table in `docs/operations.md` ("Exit status") and the admin
//! commands' `--help` are rendered from [`ExitStatus::ALL`]; `tests/docs_tables.rs` fails when
//! the page and this module differ. A leaf: it names no process API, so every module may map
//! its failures to a status and only the binaries turn one into the process's exit code.

use std::fmt::Write;

/// How a keel command ended, as its process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitStatus {
    Success = 0,
    /// A failure not listed below; the admin commands' "the cluster refused".
    Failed = 1,
    /// Bad command line or configuration; also clap's own status for a bad command line.
    Usage = 2,
    DataDir = 3,
    Network = 4,
    Fatal = 5,
    /// The admin commands only: a server keel cannot use.
    Incompatible = 6,
}

impl ExitStatus {
    /// Every status, in numeric order.
    pub const ALL: [ExitStatus; 7] = [
        ExitStatus::Success,
        ExitStatus::Failed,
        ExitStatus::Usage,
        ExitStatus::DataDir,
        ExitStatus::Network,
        ExitStatus::Fatal,
        ExitStatus::Incompatible,
    ];

    /// The statuses the admin commands (`keel topics`, `configs`, `cluster`, `quorum
    /// describe`) end with: they touch no data directory and apply no record.
    pub const ADMIN: [ExitStatus; 5] = [
        ExitStatus::Success,
        ExitStatus::Failed,
        ExitStatus::Usage,
        ExitStatus::Network,
        ExitStatus::Incompatible,
    ];

    /// The process exit status.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// What the status means, for the operator reading it.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => {
                "Success (`keel start`: stopped by SIGTERM or SIGINT after handing over and flushing)"
            }
            ExitStatus::Failed => {
                "A failure not listed here; for the admin commands, the cluster refused the request or an item of it (shown by Kafka's error name and the server's message); for `keel-sim`, a run found a violation"
            }
            ExitStatus::Usage => {
                "Bad usage: the command line, the configuration file, or an argument the protocol cannot carry; found before anything touched the disk or was sent"
            }
            ExitStatus::DataDir => {
                "Data directory: not formatted, formatted for another node or cluster, or locked by another process"
            }
            ExitStatus::Network => {
                "Network: an address does not resolve, a port cannot be bound, a connection cannot be made or was lost, or no answer came within `--timeout-ms`"
            }
            ExitStatus::Fatal => {
                "Fatal error: a flush failed, the log or a snapshot is corrupt, another storage error the node cannot continue after, or a committed record that does not apply (named by its offset)"
            }
            ExitStatus::Incompatible => {
                "The server cannot be used: it lacks the API or every version keel speaks, or its answer is malformed or does not match the request"
            }
        }
    }

    /// The commands that end with this status.
    pub fn commands(self) -> &'static str {
        match self {
            ExitStatus::Success | ExitStatus::Usage => "every command",
            ExitStatus::Failed => "`start`, `random-uuid`, `dev`, the admin commands, `keel-sim`",
            ExitStatus::DataDir => "`start`, `format`, `pin-directory`",
            ExitStatus::Network => "`start`, the admin commands",
            ExitStatus::Fatal => "`start`",
            ExitStatus::Incompatible => "the admin commands",
        }
    }

    /// The Markdown table of every status (the "Exit status" section of
    /// `docs/operations.md`), one line per status, ending with a newline.
    pub fn markdown_table() -> String {
        let mut table = String::from("| Status | Meaning | Commands |\n|---|---|---|\n");
        for status in ExitStatus::ALL {
            let _ = writeln!(
                table,
                "| {} | {} | {} |",
                status.code(),
                status.meaning(),
                status.commands()
            );
        }
        table
    }

    /// `Exit status:` and one entry per status of `statuses`, wrapped to `width` columns, for
    /// a command's `--help`.
    pub fn help_text(statuses: &[ExitStatus], width: usize) -> String {
        const INDENT: &str = "     ";
        let mut text = String::from("Exit status:");
        for status in statuses {
            let mut line = format!("  {:<3}", status.code());
            let meaning = status.meaning().replace('`', "");
            for word in meaning.split(' ') {
                if line.len() + 1 + word.len() > width && line.len() > INDENT.len() {
                    text.push('\n');
                    text.push_str(line.trim_end());
                    line = INDENT.to_owned();
                } else if !line.ends_with(' ') {
                    line.push(' ');
                }
                line.push_str(word);
            }
            text.push('\n');
            text.push_str(&line);
        }
        text
    }
}

impl From<ExitStatus> for u8 {
    fn from(status: ExitStatus) -> u8 {
        status.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_scripts_depend_on_never_change() {
        let numbers: Vec<u8> = ExitStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            ExitStatus::Usage.code(),
            2,
            "systemd's RestartPreventExitStatus"
        );
        assert_eq!(
            ExitStatus::DataDir.code(),
            3,
            "systemd's RestartPreventExitStatus"
        );
        assert_eq!(u8::from(ExitStatus::Incompatible), 6);
        assert!(
            ExitStatus::ADMIN
                .iter()
                .all(|s| ExitStatus::ALL.contains(s))
        );
    }

    #[test]
    fn the_table_has_one_row_per_status() {
        let table = ExitStatus::markdown_table();
        assert_eq!(table.lines().count(), 2 + ExitStatus::ALL.len());
        assert!(
            table.contains("| 5 | Fatal error: a flush failed,"),
            "{table}"
        );
    }

    #[test]
    fn the_help_text_is_wrapped_with_a_hanging_indent() {
        let text = ExitStatus::help_text(&ExitStatus::ADMIN, 60);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Exit status:");
        assert!(lines.iter().all(|l| l.len() <= 60), "{text}");
        assert!(
            lines[1].starts_with("  0  Success (keel start: stopped"),
            "{text}"
        );
        assert!(text.contains("\n  6  The server cannot be used:"), "{text}");
        assert!(
            !text.contains("\n  3 "),
            "only the statuses asked for: {text}"
        );
        let continued = lines.iter().filter(|l| l.starts_with("     ")).count();
        assert!(continued > 0, "long meanings continue indented: {text}");
        // Every word of every meaning is there, in order, after its number.
        let expected: Vec<String> = ExitStatus::ADMIN
            .iter()
            .flat_map(|s| {
                let meaning = s.meaning().replace('`', "");
                let words: Vec<String> = meaning.split(' ').map(str::to_owned).collect();
                std::iter::once(s.code().to_string()).chain(words)
            })
            .collect();
        let words: Vec<&str> = text.split_whitespace().skip(2).collect();
        assert_eq!(words, expected);
    }
}

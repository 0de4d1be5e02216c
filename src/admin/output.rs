//! What an admin command prints, and its exit status.
//!
//! A command that ran returns an [`Output`]: the text for stdout, one line per failed item for
//! stderr, and the same facts as one JSON document. [`emit`] prints either the text or the JSON
//! (`--json`), the failures on stderr in both cases, and returns the exit status: success, or
//! [`ExitStatus::Failed`] when any item failed. A command that could not run returns an
//! [`AdminError`]; [`emit`] prints it on stderr (and, with `--json`, as
//! `{"error":{"message":...,"exit_code":N}}` on stdout, so a script always gets one document)
//! and returns its exit status.

use std::io::Write;

use crate::exit::ExitStatus;

use super::error::AdminError;
use super::json::Json;

/// The result of a command that ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Human-readable text for stdout (ends with a newline unless empty).
    pub text: String,
    /// One line per item that failed (printed on stderr, prefixed with `keel: `).
    pub errors: Vec<String>,
    /// The `--json` document.
    pub json: Json,
}

impl Output {
    pub fn exit_status(&self) -> ExitStatus {
        if self.errors.is_empty() {
            ExitStatus::Success
        } else {
            ExitStatus::Failed
        }
    }
}

/// A failure that stops a command: shown, and mapped to an exit status.
pub trait Failure: std::fmt::Display {
    fn exit_status(&self) -> ExitStatus;
}

impl Failure for AdminError {
    fn exit_status(&self) -> ExitStatus {
        AdminError::exit_status(self)
    }
}

/// Prints `result` (text, or JSON when `json`) and returns the exit status.
pub fn emit<E: Failure>(
    result: &Result<Output, E>,
    json: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> ExitStatus {
    // Output errors (a closed pipe) cannot be reported anywhere better; the status still is.
    match result {
        Ok(output) => {
            if json {
                let _ = writeln!(stdout, "{}", output.json.render());
            } else {
                let _ = write!(stdout, "{}", output.text);
            }
            for line in &output.errors {
                let _ = writeln!(stderr, "keel: {line}");
            }
            output.exit_status()
        }
        Err(error) => {
            let status = error.exit_status();
            if json {
                let document = Json::object([(
                    "error",
                    Json::object([
                        ("message", Json::from(error.to_string())),
                        ("exit_code", Json::from(u32::from(status.code()))),
                    ]),
                )]);
                let _ = writeln!(stdout, "{}", document.render());
            }
            let _ = writeln!(stderr, "keel: {error}");
            status
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(result: &Result<Output, AdminError>, json: bool) -> (String, String, ExitStatus) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = emit(result, json, &mut out, &mut err);
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            code,
        )
    }

    #[test]
    fn text_or_json_on_stdout_failures_on_stderr() {
        let output = Output {
            text: "Created topic a.\n".into(),
            errors: vec!["cannot create topic b: X".into()],
            json: Json::object([("topics", Json::Array(Vec::new()))]),
        };
        let ok = Ok(output);
        assert_eq!(
            run(&ok, false),
            (
                "Created topic a.\n".into(),
                "keel: cannot create topic b: X\n".into(),
                ExitStatus::Failed
            )
        );
        assert_eq!(
            run(&ok, true),
            (
                "{\"topics\":[]}\n".into(),
                "keel: cannot create topic b: X\n".into(),
                ExitStatus::Failed
            )
        );
    }

    #[test]
    fn a_command_that_could_not_run_still_gives_one_json_document() {
        let failed = Err(AdminError::Usage("bad".into()));
        assert_eq!(
            run(&failed, false),
            (String::new(), "keel: bad\n".into(), ExitStatus::Usage)
        );
        assert_eq!(
            run(&failed, true),
            (
                "{\"error\":{\"message\":\"bad\",\"exit_code\":2}}\n".into(),
                "keel: bad\n".into(),
                ExitStatus::Usage
            )
        );
    }
}

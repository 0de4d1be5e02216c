//! The Java properties syntax of `server.properties`: `key=value` lines as Kafka reads them
//! (`java.util.Properties`), before any key means anything.

use super::ConfigError;

/// Parses Java-properties text into (key, value, line) in file order. Supports `=`, `:` and
/// whitespace separators, `#`/`!` comments, backslash line continuations and the escapes
/// `\t \n \r \f \\ \= \: \#  \!` and `\uXXXX`.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String, usize)>, ConfigError> {
    let mut entries = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, first)) = lines.next() {
        let line_no = index + 1;
        let mut logical = first.trim_start().to_owned();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key, None, line_no)?;
        let value = unescape(raw_value, Some(&key), line_no)?;
        entries.push((key, value.trim_end().to_owned(), line_no));
    }
    Ok(entries)
}

/// A line continues when it ends in an odd number of backslashes.
fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' => break,
            _ => i += 1,
        }
    }
    let key_end = i.min(bytes.len());
    let mut rest = line[key_end..].trim_start_matches([' ', '\t']);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches([' ', '\t']);
    }
    (&line[..key_end], rest)
}

/// Resolves the escapes of a key (`key` is `None`) or of `key`'s value, on line `line`.
fn unescape(raw: &str, key: Option<&str>, line: usize) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| ConfigError {
                        key: key.map(str::to_owned),
                        line: Some(line),
                        message: format!("bad escape \\u{hex}"),
                    })?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

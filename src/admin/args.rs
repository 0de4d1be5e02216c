//! Checks and parsing of the admin commands' argument values, done before any connection so
//! that a typo costs nothing and exits 2.

use super::error::AdminError;

fn usage(message: String) -> AdminError {
    AdminError::Usage(message)
}

/// `--replica-assignment 1:2:3,2:3:1`: per partition (comma-separated, in partition order) its
/// replicas' broker ids (colon-separated, preferred leader first). Every partition must list
/// the same number of distinct brokers, as Kafka's kafka-topics.sh requires.
pub fn parse_replica_assignment(text: &str) -> Result<Vec<Vec<i32>>, AdminError> {
    let mut partitions: Vec<Vec<i32>> = Vec::new();
    for (index, part) in text.split(',').enumerate() {
        let mut replicas = Vec::new();
        for id in part.split(':') {
            let id = id.trim();
            let broker = id.parse::<i32>().ok().filter(|b| *b >= 0).ok_or_else(|| {
                usage(format!(
                    "--replica-assignment: {id:?} (partition {index}) is not a broker id"
                ))
            })?;
            if replicas.contains(&broker) {
                return Err(usage(format!(
                    "--replica-assignment: partition {index} lists broker {broker} twice"
                )));
            }
            replicas.push(broker);
        }
        if let Some(first) = partitions.first()
            && first.len() != replicas.len()
        {
            return Err(usage(format!(
                "--replica-assignment: partition {index} has {} replicas, partition 0 has {}",
                replicas.len(),
                first.len()
            )));
        }
        partitions.push(replicas);
    }
    Ok(partitions)
}

/// `key=value` (split at the first `=`; the value may be empty, the key may not).
fn parse_pair(option: &str, text: &str) -> Result<(String, String), AdminError> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(usage(format!("{option}: {text:?} is not key=value"))),
    }
}

fn check_unique<'a>(
    option: &str,
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<(), AdminError> {
    let mut seen: Vec<&str> = Vec::new();
    for key in keys {
        if seen.contains(&key) {
            return Err(usage(format!("{option}: {key} is given twice")));
        }
        seen.push(key);
    }
    Ok(())
}

/// `--config k=v` given any number of times (each occurrence one entry, so a value may hold
/// commas, as in Kafka's kafka-topics.sh).
pub fn parse_topic_configs(entries: &[String]) -> Result<Vec<(String, String)>, AdminError> {
    let pairs = entries
        .iter()
        .map(|e| parse_pair("--config", e))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique("--config", pairs.iter().map(|(k, _)| k.as_str()))?;
    Ok(pairs)
}

/// `--add-config k1=v1,k2=[a,b],k3=v3` (kafka-configs.sh's syntax: entries separated by
/// commas, a list value in square brackets so its own commas do not separate entries). The
/// option may be given several times.
pub fn parse_add_config(texts: &[String]) -> Result<Vec<(String, String)>, AdminError> {
    let mut pairs = Vec::new();
    for text in texts {
        let mut depth = 0u32;
        let mut start = 0;
        let mut entries = Vec::new();
        for (i, c) in text.char_indices() {
            match c {
                '[' => depth += 1,
                ']' if depth == 0 => {
                    return Err(usage(format!("--add-config: unmatched ']' in {text:?}")));
                }
                ']' => depth -= 1,
                ',' if depth == 0 => {
                    entries.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if depth != 0 {
            return Err(usage(format!("--add-config: unmatched '[' in {text:?}")));
        }
        entries.push(&text[start..]);
        for entry in entries.into_iter().filter(|e| !e.trim().is_empty()) {
            let (key, value) = parse_pair("--add-config", entry)?;
            let value = match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                Some(list) => list.to_owned(),
                None => value,
            };
            pairs.push((key, value));
        }
    }
    if pairs.is_empty() {
        return Err(usage("--add-config needs at least one key=value".into()));
    }
    check_unique("--add-config", pairs.iter().map(|(k, _)| k.as_str()))?;
    Ok(pairs)
}

/// `--delete-config k1,k2` (the option may be given several times).
pub fn parse_delete_config(texts: &[String]) -> Result<Vec<String>, AdminError> {
    let keys: Vec<String> = texts
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        return Err(usage("--delete-config needs at least one key".into()));
    }
    check_unique("--delete-config", keys.iter().map(String::as_str))?;
    Ok(keys)
}

/// Topic names given with `--topic`: not empty, each once.
pub fn check_topic_names(names: &[String]) -> Result<(), AdminError> {
    if let Some(empty) = names.iter().position(|n| n.is_empty()) {
        return Err(usage(format!("--topic: name {} is empty", empty + 1)));
    }
    check_unique("--topic", names.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitStatus;

    fn message(result: Result<impl std::fmt::Debug, AdminError>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.exit_status(), ExitStatus::Usage, "{error}");
        error.to_string()
    }

    #[test]
    fn replica_assignments_are_partitions_of_brokers() {
        assert_eq!(
            parse_replica_assignment("1:2:3,2:3:1").unwrap(),
            vec![vec![1, 2, 3], vec![2, 3, 1]]
        );
        assert_eq!(parse_replica_assignment("4").unwrap(), vec![vec![4]]);
        assert_eq!(
            message(parse_replica_assignment("1:x")),
            "--replica-assignment: \"x\" (partition 0) is not a broker id"
        );
        assert_eq!(
            message(parse_replica_assignment("1:2,3:-1")),
            "--replica-assignment: \"-1\" (partition 1) is not a broker id"
        );
        assert_eq!(
            message(parse_replica_assignment("1:2,3:3")),
            "--replica-assignment: partition 1 lists broker 3 twice"
        );
        assert_eq!(
            message(parse_replica_assignment("1:2,3")),
            "--replica-assignment: partition 1 has 1 replicas, partition 0 has 2"
        );
        assert!(message(parse_replica_assignment("1,,2")).contains("partition 1"));
    }

    #[test]
    fn topic_configs_are_one_pair_each() {
        let pairs = parse_topic_configs(&[
            "cleanup.policy=compact,delete".into(),
            "retention.ms=1000".into(),
            "x=".into(),
        ])
        .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("cleanup.policy".into(), "compact,delete".into()),
                ("retention.ms".into(), "1000".into()),
                ("x".into(), "".into())
            ]
        );
        assert_eq!(
            message(parse_topic_configs(&["retention.ms".into()])),
            "--config: \"retention.ms\" is not key=value"
        );
        assert!(message(parse_topic_configs(&["=1".into()])).contains("not key=value"));
        assert_eq!(
            message(parse_topic_configs(&["a=1".into(), "a=2".into()])),
            "--config: a is given twice"
        );
    }

    #[test]
    fn add_config_splits_at_commas_outside_brackets() {
        assert_eq!(
            parse_add_config(&["a=1,b=[x,y],c=3".into(), "d=4".into()]).unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x,y".into()),
                ("c".into(), "3".into()),
                ("d".into(), "4".into())
            ]
        );
        assert!(message(parse_add_config(&["a=[1,2".into()])).contains("unmatched '['"));
        assert!(message(parse_add_config(&["a=1]".into()])).contains("unmatched ']'"));
        assert!(message(parse_add_config(&["a".into()])).contains("not key=value"));
        assert!(message(parse_add_config(&[",".into()])).contains("at least one"));
        assert!(message(parse_add_config(&["a=1,a=2".into()])).contains("a is given twice"));
    }

    #[test]
    fn delete_config_is_a_key_list() {
        assert_eq!(
            parse_delete_config(&["a, b".into(), "c".into()]).unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(message(parse_delete_config(&[" , ".into()])).contains("at least one"));
        assert!(message(parse_delete_config(&["a,a".into()])).contains("twice"));
    }

    #[test]
    fn topic_names_are_non_empty_and_distinct() {
        check_topic_names(&["a".into(), "b".into()]).unwrap();
        assert_eq!(
            message(check_topic_names(&["a".into(), "".into()])),
            "--topic: name 2 is empty"
        );
        assert_eq!(
            message(check_topic_names(&["a".into(), "a".into()])),
            "--topic: a is given twice"
        );
    }
}

//! Tests of `keel configs`' pure parts: entity and change checks (usage errors before any
//! connection), requests at every version, outcomes read from answers (mismatched answers
//! refused), and the text and JSON output, failures included.

use super::*;
use crate::exit::ExitStatus;
use crate::protocol::messages::{describe_configs_response, incremental_alter_configs_response};
use crate::protocol::{ApiKey, Message};

fn usage_message(result: Result<impl std::fmt::Debug, AdminError>) -> String {
    let error = result.unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Usage, "{error}");
    error.to_string()
}

fn topic(name: &str) -> Entity {
    Entity {
        kind: EntityType::Topics,
        name: name.into(),
    }
}

fn broker(name: &str) -> Entity {
    Entity {
        kind: EntityType::Brokers,
        name: name.into(),
    }
}

#[test]
fn entities_are_checked_before_anything_is_sent() {
    assert_eq!(
        Entity::new(EntityType::Topics, Some("orders"), false).unwrap(),
        topic("orders")
    );
    assert_eq!(
        Entity::new(EntityType::Brokers, Some("007"), false).unwrap(),
        broker("7")
    );
    assert_eq!(
        Entity::new(EntityType::Brokers, None, true).unwrap(),
        broker("")
    );
    assert!(
        usage_message(Entity::new(EntityType::Brokers, Some("b1"), false))
            .contains("not a broker id")
    );
    assert!(
        usage_message(Entity::new(EntityType::Brokers, Some("-1"), false))
            .contains("not a broker id")
    );
    assert!(usage_message(Entity::new(EntityType::Topics, None, true)).contains("for brokers"));
    assert!(usage_message(Entity::new(EntityType::Topics, Some(""), false)).contains("empty"));
    assert!(usage_message(Entity::new(EntityType::Topics, None, false)).contains("--entity-name"));
    assert!(usage_message(Entity::new(EntityType::Brokers, Some("1"), true)).contains("not both"));
}

#[test]
fn entities_describe_themselves() {
    assert_eq!(topic("orders").describe(), "topic orders");
    assert_eq!(broker("1").describe(), "broker 1");
    assert_eq!(broker("").describe(), "the default of every broker");
}

#[test]
fn sources_have_kafkas_names() {
    assert_eq!(source_name(1), "DYNAMIC_TOPIC_CONFIG");
    assert_eq!(source_name(5), "DEFAULT_CONFIG");
    assert_eq!(source_name(99), "UNKNOWN");
    assert!(is_dynamic(1) && is_dynamic(2) && is_dynamic(3));
    assert!(!is_dynamic(4) && !is_dynamic(5) && !is_dynamic(0));
}

#[test]
fn describe_requests_encode_at_every_version() {
    let request = describe_configs_request(&[topic("orders"), broker("")]);
    assert_eq!(request.resources[0].resource_type, 2);
    assert_eq!(request.resources[1].resource_type, 4);
    assert_eq!(request.resources[1].resource_name, "");
    for version in ApiKey::DescribeConfigs.versions() {
        request.to_bytes(version).unwrap();
    }
}

fn entry(
    name: &str,
    value: Option<&str>,
    source: i8,
    sensitive: bool,
) -> describe_configs_response::DescribeConfigsResourceResult {
    describe_configs_response::DescribeConfigsResourceResult {
        name: name.into(),
        value: value.map(str::to_owned),
        config_source: source,
        is_sensitive: sensitive,
        ..Default::default()
    }
}

fn result(
    kind: i8,
    name: &str,
    error_code: i16,
    configs: Vec<describe_configs_response::DescribeConfigsResourceResult>,
) -> describe_configs_response::DescribeConfigsResult {
    describe_configs_response::DescribeConfigsResult {
        error_code,
        error_message: (error_code != 0).then(|| "Topic 'gone' does not exist.".to_owned()),
        resource_type: kind,
        resource_name: name.into(),
        configs,
        ..Default::default()
    }
}

fn described() -> Vec<(Entity, Result<Vec<ConfigEntry>, KafkaError>)> {
    let entities = vec![topic("orders"), topic("gone")];
    let response = DescribeConfigsResponse {
        results: vec![
            result(2, "gone", 3, Vec::new()),
            result(
                2,
                "orders",
                0,
                vec![
                    entry("segment.bytes", Some("1073741824"), 5, false),
                    entry("retention.ms", Some("1000"), 1, false),
                    entry("sasl.password", None, 1, true),
                ],
            ),
        ],
        ..Default::default()
    };
    let outcomes = describe_outcomes(&entities, &response, "h:1").unwrap();
    entities.into_iter().zip(outcomes).collect()
}

#[test]
fn describe_shows_dynamic_entries_unless_all() {
    let outcomes = described();
    let output = describe_output(EntityType::Topics, &outcomes, false);
    assert_eq!(
        output.text,
        "Dynamic configs of topic orders:\n  \
         NAME           VALUE        SOURCE                READ-ONLY  SENSITIVE\n  \
         retention.ms   1000         DYNAMIC_TOPIC_CONFIG  false      false\n  \
         sasl.password  (sensitive)  DYNAMIC_TOPIC_CONFIG  false      true\n"
    );
    assert_eq!(
        output.errors,
        vec![
            "cannot describe topic gone: UNKNOWN_TOPIC_OR_PARTITION: Topic 'gone' does not exist."
        ]
    );
    assert_eq!(output.exit_status(), ExitStatus::Failed);
    assert_eq!(
        output.json.render(),
        r#"{"entity_type":"topics","all":false,"entities":[{"name":"orders","configs":[{"name":"retention.ms","value":"1000","source":"DYNAMIC_TOPIC_CONFIG","read_only":false,"sensitive":false},{"name":"sasl.password","value":null,"source":"DYNAMIC_TOPIC_CONFIG","read_only":false,"sensitive":true}],"error":null},{"name":"gone","configs":null,"error":{"code":3,"name":"UNKNOWN_TOPIC_OR_PARTITION","message":"Topic 'gone' does not exist."}}]}"#
    );
    let output = describe_output(EntityType::Topics, &outcomes[..1], true);
    assert!(output.text.starts_with("All configs of topic orders:\n"));
    assert!(
        output
            .text
            .contains("segment.bytes  1073741824   DEFAULT_CONFIG"),
        "{}",
        output.text
    );
}

#[test]
fn an_entity_without_dynamic_entries_says_so() {
    let outcomes = vec![(broker(""), Ok(vec![]))];
    let output = describe_output(EntityType::Brokers, &outcomes, false);
    assert_eq!(
        output.text,
        "Dynamic configs of the default of every broker: none (--all shows every entry)\n"
    );
    assert_eq!(
        output.json.render(),
        r#"{"entity_type":"brokers","all":false,"entities":[{"name":null,"configs":[],"error":null}]}"#
    );
    let output = describe_output(EntityType::Topics, &[], false);
    assert_eq!(output.text, "No topics to describe.\n");
}

#[test]
fn describe_answers_must_match_name_and_type() {
    let response = DescribeConfigsResponse {
        results: vec![result(4, "orders", 0, Vec::new())],
        ..Default::default()
    };
    let error = describe_outcomes(&[topic("orders")], &response, "h:1").unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Incompatible);
    assert_eq!(
        error.to_string(),
        "h:1 gave an answer keel cannot use: it answers for topic orders with resource type 4"
    );
    let response = DescribeConfigsResponse::default();
    assert!(describe_outcomes(&[topic("orders")], &response, "h:1").is_err());
}

fn alter_options(add: &[&str], delete: &[&str]) -> AlterOptions {
    AlterOptions {
        kind: EntityType::Topics,
        name: Some("orders".into()),
        default: false,
        add: add.iter().map(|s| (*s).to_owned()).collect(),
        delete: delete.iter().map(|s| (*s).to_owned()).collect(),
        validate_only: false,
    }
}

#[test]
fn changes_are_checked_before_anything_is_sent() {
    let change = alter_options(
        &["retention.ms=1000,cleanup.policy=[compact,delete]"],
        &["x"],
    )
    .change()
    .unwrap();
    assert_eq!(
        change.set,
        vec![
            ("retention.ms".to_string(), "1000".to_string()),
            ("cleanup.policy".to_string(), "compact,delete".to_string())
        ]
    );
    assert_eq!(change.delete, vec!["x"]);
    assert!(usage_message(alter_options(&[], &[]).change()).contains("nothing to change"));
    assert_eq!(
        usage_message(alter_options(&["a=1"], &["a"]).change()),
        "a is both in --add-config and --delete-config"
    );
    let mut bad_entity = alter_options(&["a=1"], &[]);
    bad_entity.kind = EntityType::Brokers;
    assert!(usage_message(bad_entity.change()).contains("not a broker id"));
}

#[test]
fn alter_requests_set_and_delete_and_encode_at_every_version() {
    let change = alter_options(&["retention.ms=1000"], &["cleanup.policy"])
        .change()
        .unwrap();
    let request = alter_request(&[change], true);
    assert!(request.validate_only);
    let configs = &request.resources[0].configs;
    assert_eq!(
        (configs[0].config_operation, configs[0].value.as_deref()),
        (0, Some("1000"))
    );
    assert_eq!(
        (
            configs[1].name.as_str(),
            configs[1].config_operation,
            configs[1].value.as_deref()
        ),
        ("cleanup.policy", 1, None)
    );
    for version in ApiKey::IncrementalAlterConfigs.versions() {
        request.to_bytes(version).unwrap();
    }
}

fn alter_response(error_code: i16, message: Option<&str>) -> IncrementalAlterConfigsResponse {
    IncrementalAlterConfigsResponse {
        responses: vec![
            incremental_alter_configs_response::AlterConfigsResourceResponse {
                error_code,
                error_message: message.map(str::to_owned),
                resource_type: 2,
                resource_name: "orders".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

#[test]
fn alter_outcomes_and_output() {
    let change = alter_options(&["retention.ms=1000"], &["cleanup.policy"])
        .change()
        .unwrap();
    let changes = vec![change.clone()];
    let ok = alter_outcomes(&changes, &alter_response(0, None), "h:1").unwrap();
    let output = alter_output(&[(change.clone(), ok[0].clone())], false);
    assert_eq!(
        output.text,
        "Updated topic orders: set retention.ms=1000; deleted cleanup.policy.\n"
    );
    assert_eq!(
        output.json.render(),
        r#"{"validate_only":false,"changes":[{"entity_type":"topics","entity_name":"orders","status":"updated","set":{"retention.ms":"1000"},"deleted":["cleanup.policy"],"error":null}]}"#
    );
    let output = alter_output(&[(change.clone(), None)], true);
    assert_eq!(
        output.text,
        "Valid change of topic orders (set retention.ms=1000; deleted cleanup.policy); \
         --validate-only: nothing changed.\n"
    );
    let refused = alter_outcomes(
        &changes,
        &alter_response(40, Some("Invalid value x for configuration retention.ms")),
        "h:1",
    )
    .unwrap();
    let output = alter_output(&[(change, refused[0].clone())], false);
    assert_eq!(
        output.errors,
        vec![
            "cannot change topic orders: INVALID_CONFIG: Invalid value x for configuration \
             retention.ms"
        ]
    );
    assert!(output.json.render().contains(r#""status":"failed""#));
    let error =
        alter_outcomes(&changes, &IncrementalAlterConfigsResponse::default(), "h:1").unwrap_err();
    assert_eq!(error.exit_status(), ExitStatus::Incompatible);
}

//! `keel cluster describe`: the cluster id, the controller id and the brokers with their
//! addresses and racks.
//!
//! Asked with DescribeCluster (v1+, brokers' endpoints; from v2 fenced brokers too, marked) of
//! the bootstrap broker, as Kafka's AdminClient does; a server that does not offer it at a
//! version keel speaks is described from the bootstrap Metadata instead, as kafka-python and
//! librdkafka do.

use std::fmt::Write;

use crate::protocol::ApiKey;
use crate::protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};

use super::error::{AdminError, KafkaError};
use super::json::Json;
use super::output::Output;
use super::session::{BOOTSTRAP, Broker, ClusterView, ConnectOptions, Session};
use super::table::{Table, printable};

/// DescribeCluster `EndpointType` of brokers (2 is controllers).
pub const ENDPOINT_TYPE_BROKER: i8 = 1;
/// DescribeCluster from v2 can include fenced brokers.
const DESCRIBE_CLUSTER_FENCED_VERSION: i16 = 2;

/// What `describe` learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    pub cluster_id: Option<String>,
    /// -1 if unknown.
    pub controller_id: i32,
    /// By id, each with whether it is fenced (`None`: the answer does not say).
    pub brokers: Vec<(Broker, Option<bool>)>,
    /// The request the description came from, e.g. `DescribeCluster v2`.
    pub source: String,
}

/// The DescribeCluster request at `version` (1 or later).
pub fn describe_cluster_request(version: i16) -> DescribeClusterRequest {
    DescribeClusterRequest {
        endpoint_type: ENDPOINT_TYPE_BROKER,
        include_fenced_brokers: version >= DESCRIBE_CLUSTER_FENCED_VERSION,
        ..Default::default()
    }
}

/// The description in a DescribeCluster answer at `version`.
pub fn from_describe_cluster(
    response: &DescribeClusterResponse,
    version: i16,
    address: &str,
) -> Result<ClusterDescription, AdminError> {
    if let Some(error) =
        KafkaError::from_answer(response.error_code, response.error_message.as_deref())
    {
        return Err(AdminError::Refused {
            address: address.to_owned(),
            api: ApiKey::DescribeCluster,
            error,
        });
    }
    let mut brokers: Vec<(Broker, Option<bool>)> = response
        .brokers
        .iter()
        .map(|b| {
            (
                Broker {
                    id: b.broker_id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: b.rack.clone(),
                },
                (version >= DESCRIBE_CLUSTER_FENCED_VERSION).then_some(b.is_fenced),
            )
        })
        .collect();
    brokers.sort_by_key(|(b, _)| b.id);
    Ok(ClusterDescription {
        cluster_id: Some(response.cluster_id.clone()),
        controller_id: response.controller_id,
        brokers,
        source: format!("DescribeCluster v{version}"),
    })
}

/// The description in the bootstrap Metadata.
pub fn from_metadata(view: &ClusterView) -> ClusterDescription {
    let mut brokers: Vec<(Broker, Option<bool>)> =
        view.brokers.iter().map(|b| (b.clone(), None)).collect();
    brokers.sort_by_key(|(b, _)| b.id);
    ClusterDescription {
        cluster_id: view.cluster_id.clone(),
        controller_id: view.controller_id,
        brokers,
        source: format!("Metadata v{}", view.version),
    }
}

/// The output of `describe`.
pub fn describe_output(description: &ClusterDescription) -> Output {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "ClusterId:     {}",
        description
            .cluster_id
            .as_deref()
            .map_or("-".into(), printable)
    );
    let _ = writeln!(
        text,
        "ControllerId:  {}",
        if description.controller_id < 0 {
            "none".to_owned()
        } else {
            description.controller_id.to_string()
        }
    );
    let _ = writeln!(text, "Brokers:       {}", description.brokers.len());
    let with_fenced = description.brokers.iter().any(|(_, f)| f.is_some());
    let mut header = vec!["ID", "HOST", "PORT", "RACK"];
    if with_fenced {
        header.push("FENCED");
    }
    let mut table = Table::new(&header);
    for (broker, fenced) in &description.brokers {
        let mut row = vec![
            broker.id.to_string(),
            broker.host.clone(),
            broker.port.to_string(),
            broker.rack.clone().unwrap_or_else(|| "-".into()),
        ];
        if with_fenced {
            row.push(fenced.map_or("-".into(), |f| if f { "yes" } else { "no" }.into()));
        }
        table.row(row);
    }
    if !description.brokers.is_empty() {
        text.push_str(&table.render("  "));
    }
    let brokers = description
        .brokers
        .iter()
        .map(|(b, fenced)| {
            Json::object([
                ("id", Json::from(b.id)),
                ("host", Json::from(&b.host)),
                ("port", Json::from(b.port)),
                ("rack", Json::from(b.rack.clone())),
                ("fenced", Json::from(*fenced)),
            ])
        })
        .collect();
    Output {
        text,
        errors: Vec::new(),
        json: Json::object([
            ("cluster_id", Json::from(description.cluster_id.clone())),
            (
                "controller_id",
                Json::from((description.controller_id >= 0).then_some(description.controller_id)),
            ),
            ("source", Json::from(&description.source)),
            ("brokers", Json::Array(brokers)),
        ]),
    }
}

/// Describes the cluster: DescribeCluster if the bootstrap broker offers a version keel speaks,
/// else its Metadata.
pub fn describe_cluster(session: &mut Session) -> Result<ClusterDescription, AdminError> {
    match session.version_for(BOOTSTRAP, ApiKey::DescribeCluster, 0) {
        Ok(_) => {
            let (version, response): (i16, DescribeClusterResponse) =
                session.call(BOOTSTRAP, 0, |version| {
                    Ok(describe_cluster_request(version))
                })?;
            from_describe_cluster(&response, version, session.address(BOOTSTRAP))
        }
        Err(AdminError::Unsupported { .. }) => Ok(from_metadata(session.view())),
        Err(e) => Err(e),
    }
}

/// `keel cluster describe`.
pub fn describe(connect: &ConnectOptions) -> Result<Output, AdminError> {
    let mut session = connect.open()?;
    Ok(describe_output(&describe_cluster(&mut session)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitStatus;
    use crate::protocol::Message;
    use crate::protocol::messages::describe_cluster_response::DescribeClusterBroker;

    fn broker(id: i32, rack: Option<&str>) -> Broker {
        Broker {
            id,
            host: format!("b{id}.example"),
            port: 9092,
            rack: rack.map(str::to_owned),
        }
    }

    fn response(error_code: i16) -> DescribeClusterResponse {
        DescribeClusterResponse {
            error_code,
            error_message: (error_code != 0).then(|| "nope".to_owned()),
            endpoint_type: ENDPOINT_TYPE_BROKER,
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
            controller_id: 2,
            brokers: vec![
                DescribeClusterBroker {
                    broker_id: 2,
                    host: "b2.example".into(),
                    port: 9092,
                    rack: None,
                    is_fenced: true,
                    ..Default::default()
                },
                DescribeClusterBroker {
                    broker_id: 1,
                    host: "b1.example".into(),
                    port: 9092,
                    rack: Some("rack-a".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn requests_ask_for_broker_endpoints_and_fenced_brokers_where_possible() {
        for version in ApiKey::DescribeCluster.versions() {
            let request = describe_cluster_request(version);
            assert_eq!(request.endpoint_type, ENDPOINT_TYPE_BROKER);
            assert_eq!(request.include_fenced_brokers, version >= 2);
            request.to_bytes(version).unwrap();
        }
    }

    #[test]
    fn describe_cluster_v2_shows_fenced_brokers() {
        let description = from_describe_cluster(&response(0), 2, "h:1").unwrap();
        assert_eq!(description.source, "DescribeCluster v2");
        assert_eq!(description.brokers[0].0.id, 1, "sorted by id");
        let output = describe_output(&description);
        assert_eq!(
            output.text,
            "ClusterId:     MkU3OEVBNTcwNTJENDM2Qg\n\
             ControllerId:  2\n\
             Brokers:       2\n  \
             ID  HOST        PORT  RACK    FENCED\n  \
             1   b1.example  9092  rack-a  no\n  \
             2   b2.example  9092  -       yes\n"
        );
        assert_eq!(
            output.json.render(),
            r#"{"cluster_id":"MkU3OEVBNTcwNTJENDM2Qg","controller_id":2,"source":"DescribeCluster v2","brokers":[{"id":1,"host":"b1.example","port":9092,"rack":"rack-a","fenced":false},{"id":2,"host":"b2.example","port":9092,"rack":null,"fenced":true}]}"#
        );
        assert_eq!(output.exit_status(), ExitStatus::Success);
    }

    #[test]
    fn describe_cluster_v1_does_not_say_who_is_fenced() {
        let description = from_describe_cluster(&response(0), 1, "h:1").unwrap();
        let output = describe_output(&description);
        assert!(!output.text.contains("FENCED"), "{}", output.text);
        assert!(output.json.render().contains(r#""fenced":null"#));
    }

    #[test]
    fn a_refused_describe_cluster_names_the_error() {
        let error = from_describe_cluster(&response(115), 1, "h:1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "h:1 refused DescribeCluster: UNSUPPORTED_ENDPOINT_TYPE: nope"
        );
        assert_eq!(error.exit_status(), ExitStatus::Failed);
    }

    #[test]
    fn metadata_fallback_without_a_controller_or_cluster_id() {
        let view = ClusterView {
            cluster_id: None,
            controller_id: -1,
            brokers: vec![broker(3, None)],
            version: 1,
        };
        let output = describe_output(&from_metadata(&view));
        assert_eq!(
            output.text,
            "ClusterId:     -\nControllerId:  none\nBrokers:       1\n  \
             ID  HOST        PORT  RACK\n  3   b3.example  9092  -\n"
        );
        assert_eq!(
            output.json.render(),
            r#"{"cluster_id":null,"controller_id":null,"source":"Metadata v1","brokers":[{"id":3,"host":"b3.example","port":9092,"rack":null,"fenced":null}]}"#
        );
    }
}

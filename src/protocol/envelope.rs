//! Whole requests and responses: header + body inside a frame.
//!
//! Header versions follow Kafka's generator (`ApiMessageType.requestHeaderVersion` /
//! `responseHeaderVersion`): a flexible request version uses request header v2, otherwise v1; a
//! flexible response version uses response header v1, otherwise v0 — except ApiVersions, whose
//! response header is always v0 so that a client can read the error in any version (KIP-511).
//!
//! Decoding a request reads the api key and version first. An unknown api key or an unsupported
//! version is reported *before* the body is parsed, with the correlation id, so the server can
//! answer (ApiVersions: a v0 `UNSUPPORTED_VERSION` body listing the versions keel supports) or
//! close the connection (everything else, as Kafka does). Bytes after a complete request body
//! are ignored, as Kafka ignores them (librdkafka >= 2.1 sends such Metadata requests).

use std::fmt;

use super::error_code::ErrorCode;
use super::frame::write_frame;
use super::message::{ApiMessage, Message};
use super::messages::api_versions_response::ApiVersion;
use super::messages::{
    ApiKey, ApiVersionsResponse, RequestBody, RequestHeader, ResponseBody, ResponseHeader,
};
use super::primitives::{DecodeError, EncodeError, Reader};

/// Bytes every request header starts with: api key (2), api version (2), correlation id (4).
pub const REQUEST_HEADER_PREFIX_BYTES: usize = 8;

/// The request header version Kafka uses for `api_key` at `version`.
pub fn request_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key.request_is_flexible(version) {
        2
    } else {
        1
    }
}

/// The response header version Kafka uses for `api_key` at `version`.
pub fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        0
    } else if api_key.response_is_flexible(version) {
        1
    } else {
        0
    }
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    pub header: RequestHeader,
    pub body: RequestBody,
    /// Bytes after the body that were ignored (0 for well-formed requests).
    pub trailing_bytes: usize,
}

impl RequestFrame {
    pub fn api_key(&self) -> ApiKey {
        self.body.api_key()
    }

    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }

    pub fn correlation_id(&self) -> i32 {
        self.header.correlation_id
    }
}

/// Why a request frame could not be decoded, with what the server needs to react.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestDecodeError {
    /// Fewer than 8 bytes: there is no correlation id to answer to. Close the connection.
    TooShort { frame_bytes: usize },
    /// An api key keel does not implement. Kafka closes the connection.
    UnknownApiKey {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
    },
    /// A version keel does not support. For ApiVersions answer with
    /// [`encode_api_versions_unsupported`]; for everything else Kafka closes the connection.
    UnsupportedVersion {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
    },
    /// The header or body does not decode.
    Malformed {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        error: DecodeError,
    },
}

impl fmt::Display for RequestDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestDecodeError::TooShort { frame_bytes } => write!(
                f,
                "request frame of {frame_bytes} bytes is too short for a request header"
            ),
            RequestDecodeError::UnknownApiKey {
                api_key,
                api_version,
                correlation_id,
            } => write!(
                f,
                "unknown api key {api_key} (version {api_version}, correlation id {correlation_id})"
            ),
            RequestDecodeError::UnsupportedVersion {
                api_key,
                api_version,
                correlation_id,
            } => {
                let versions = api_key.versions();
                write!(
                    f,
                    "{} version {api_version} is not supported (keel supports {}-{}; correlation id {correlation_id})",
                    api_key.name(),
                    versions.start(),
                    versions.end()
                )
            }
            RequestDecodeError::Malformed {
                api_key,
                api_version,
                correlation_id,
                error,
            } => write!(
                f,
                "malformed {} v{api_version} request (correlation id {correlation_id}): {error}",
                api_key.name()
            ),
        }
    }
}

impl std::error::Error for RequestDecodeError {}

/// Decodes one request frame (the bytes after the size prefix).
pub fn decode_request(frame: &[u8]) -> Result<RequestFrame, RequestDecodeError> {
    let Some(prefix) = frame.first_chunk::<REQUEST_HEADER_PREFIX_BYTES>() else {
        return Err(RequestDecodeError::TooShort {
            frame_bytes: frame.len(),
        });
    };
    let raw_api_key = i16::from_be_bytes([prefix[0], prefix[1]]);
    let api_version = i16::from_be_bytes([prefix[2], prefix[3]]);
    let correlation_id = i32::from_be_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    let Some(api_key) = ApiKey::from_i16(raw_api_key) else {
        return Err(RequestDecodeError::UnknownApiKey {
            api_key: raw_api_key,
            api_version,
            correlation_id,
        });
    };
    if !api_key.versions().contains(&api_version) {
        return Err(RequestDecodeError::UnsupportedVersion {
            api_key,
            api_version,
            correlation_id,
        });
    }
    let malformed = |error| RequestDecodeError::Malformed {
        api_key,
        api_version,
        correlation_id,
        error,
    };
    let mut reader = Reader::new(frame);
    let header = RequestHeader::decode(&mut reader, request_header_version(api_key, api_version))
        .map_err(malformed)?;
    let body = RequestBody::decode(api_key, &mut reader, api_version).map_err(malformed)?;
    Ok(RequestFrame {
        header,
        body,
        trailing_bytes: reader.remaining(),
    })
}

fn encode_request_with(
    out: &mut Vec<u8>,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    encode_body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let header = RequestHeader {
        request_api_key: api_key as i16,
        request_api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        ..RequestHeader::default()
    };
    write_frame(out, |w| {
        header.encode(w, request_header_version(api_key, version))?;
        encode_body(w)
    })
}

/// Appends a framed request for `body` at `version`.
pub fn encode_request<M: ApiMessage>(
    out: &mut Vec<u8>,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &M,
) -> Result<(), EncodeError> {
    encode_request_with(out, M::API_KEY, version, correlation_id, client_id, |w| {
        body.encode(w, version)
    })
}

/// Appends a framed request for any body (used where the API is only known at run time).
pub fn encode_request_body(
    out: &mut Vec<u8>,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &RequestBody,
) -> Result<(), EncodeError> {
    encode_request_with(
        out,
        body.api_key(),
        version,
        correlation_id,
        client_id,
        |w| body.encode(w, version),
    )
}

fn encode_response_with(
    out: &mut Vec<u8>,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    encode_body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let header = ResponseHeader {
        correlation_id,
        ..ResponseHeader::default()
    };
    write_frame(out, |w| {
        header.encode(w, response_header_version(api_key, version))?;
        encode_body(w)
    })
}

/// Appends a framed response for `body` at `version`.
pub fn encode_response<M: ApiMessage>(
    out: &mut Vec<u8>,
    correlation_id: i32,
    version: i16,
    body: &M,
) -> Result<(), EncodeError> {
    encode_response_with(out, M::API_KEY, version, correlation_id, |w| {
        body.encode(w, version)
    })
}

/// Appends a framed response for any body.
pub fn encode_response_body(
    out: &mut Vec<u8>,
    correlation_id: i32,
    version: i16,
    body: &ResponseBody,
) -> Result<(), EncodeError> {
    encode_response_with(out, body.api_key(), version, correlation_id, |w| {
        body.encode(w, version)
    })
}

/// Appends Kafka's answer to an ApiVersions request at a version keel does not know (KIP-511):
/// response header v0 and a v0 body with `UNSUPPORTED_VERSION` and only the ApiVersions entry,
/// from which the client picks a version both sides support.
pub fn encode_api_versions_unsupported(out: &mut Vec<u8>, correlation_id: i32) {
    let versions = ApiKey::ApiVersions.versions();
    let body = ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: vec![ApiVersion {
            api_key: ApiKey::ApiVersions as i16,
            min_version: *versions.start(),
            max_version: *versions.end(),
            ..ApiVersion::default()
        }],
        ..ApiVersionsResponse::default()
    };
    encode_response(out, correlation_id, 0, &body)
        .expect("a v0 ApiVersions error body always encodes");
}

/// Reads the correlation id and header of a response frame and decodes a body of type `M` at
/// `version`. Bytes after the body are ignored, as for requests.
pub fn decode_response<M: ApiMessage>(frame: &[u8], version: i16) -> Result<(i32, M), DecodeError> {
    let mut reader = Reader::new(frame);
    let header = ResponseHeader::decode(&mut reader, response_header_version(M::API_KEY, version))?;
    let body = M::decode(&mut reader, version)?;
    Ok((header.correlation_id, body))
}

/// Like [`decode_response`] for an API known only at run time.
pub fn decode_response_body(
    frame: &[u8],
    api_key: ApiKey,
    version: i16,
) -> Result<(i32, ResponseBody), DecodeError> {
    let mut reader = Reader::new(frame);
    let header = ResponseHeader::decode(&mut reader, response_header_version(api_key, version))?;
    let body = ResponseBody::decode(api_key, &mut reader, version)?;
    Ok((header.correlation_id, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::FrameDecoder;
    use crate::protocol::messages::{ApiVersionsRequest, VoteRequest};

    fn single_frame(stream: &[u8]) -> Vec<u8> {
        let mut decoder = FrameDecoder::new(1 << 20);
        decoder.extend(stream);
        let frame = decoder.next_frame().unwrap().unwrap().to_vec();
        assert_eq!(decoder.buffered_bytes(), 0);
        frame
    }

    #[test]
    fn kcats_api_versions_v3_request_decodes() {
        // Captured from kcat 1.7.1 / librdkafka 2.0.2 (../shared/notes/kafka-clients.md 7.2).
        let stream = hex(
            "00000024 0012 0003 00000001 0007 72646b61666b61 00 0b 6c696272646b61666b61 06 322e302e32 00",
        );
        let request = decode_request(&single_frame(&stream)).unwrap();
        assert_eq!(request.api_key(), ApiKey::ApiVersions);
        assert_eq!(request.version(), 3);
        assert_eq!(request.correlation_id(), 1);
        assert_eq!(request.header.client_id.as_deref(), Some("rdkafka"));
        let RequestBody::ApiVersions(body) = &request.body else {
            panic!("not ApiVersions: {:?}", request.body)
        };
        assert_eq!(body.client_software_name, "librdkafka");
        assert_eq!(body.client_software_version, "2.0.2");
        let mut again = Vec::new();
        encode_request_body(&mut again, 1, Some("rdkafka"), 3, &request.body).unwrap();
        assert_eq!(again, stream);
    }

    #[test]
    fn an_api_versions_version_keel_does_not_know_gets_the_kip_511_answer() {
        // kafka-python's test_parser.py: an ApiVersions v4 request to a broker that knows 0-3
        // gets `0023 00000001 0012 0000 0003`. keel knows 0-4, so ask with v5.
        let request = hex("00000012 0012 0005 00000001 0007 72646b61666b61 00");
        let error = decode_request(&single_frame(&request)).unwrap_err();
        assert_eq!(
            error,
            RequestDecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                api_version: 5,
                correlation_id: 1
            }
        );
        let mut answer = Vec::new();
        encode_api_versions_unsupported(&mut answer, 1);
        assert_eq!(
            answer,
            hex("00000010 00000001 0023 00000001 0012 0000 0004")
        );
    }

    #[test]
    fn an_unknown_api_key_is_reported_with_its_correlation_id() {
        let frame = hex("7fff 0000 0000002a 0000");
        assert_eq!(
            decode_request(&frame),
            Err(RequestDecodeError::UnknownApiKey {
                api_key: 0x7fff,
                api_version: 0,
                correlation_id: 42
            })
        );
    }

    #[test]
    fn a_frame_too_short_for_a_header_is_refused() {
        assert_eq!(
            decode_request(&[0, 18, 0]),
            Err(RequestDecodeError::TooShort { frame_bytes: 3 })
        );
    }

    #[test]
    fn trailing_bytes_after_a_request_body_are_ignored_and_counted() {
        let mut framed = Vec::new();
        encode_request(
            &mut framed,
            7,
            Some("keel"),
            2,
            &ApiVersionsRequest::default(),
        )
        .unwrap();
        let mut frame = single_frame(&framed);
        frame.extend_from_slice(&[0xde, 0xad, 0xbe]);
        let request = decode_request(&frame).unwrap();
        assert_eq!(request.trailing_bytes, 3);
        assert_eq!(request.correlation_id(), 7);
    }

    #[test]
    fn a_malformed_body_names_api_version_and_field() {
        let mut framed = Vec::new();
        encode_request(&mut framed, 9, None, 2, &VoteRequest::default()).unwrap();
        let frame = single_frame(&framed);
        let truncated = &frame[..frame.len() - 1];
        let error = decode_request(truncated).unwrap_err();
        let RequestDecodeError::Malformed {
            api_key,
            correlation_id,
            ..
        } = &error
        else {
            panic!("expected Malformed, got {error:?}")
        };
        assert_eq!((*api_key, *correlation_id), (ApiKey::Vote, 9));
        assert!(error.to_string().contains("VoteRequest"), "{error}");
    }

    #[test]
    fn api_versions_responses_always_use_header_v0_and_others_follow_flexibility() {
        assert_eq!(response_header_version(ApiKey::ApiVersions, 4), 0);
        assert_eq!(response_header_version(ApiKey::Vote, 0), 1);
        assert_eq!(response_header_version(ApiKey::BeginQuorumEpoch, 0), 0);
        assert_eq!(response_header_version(ApiKey::BeginQuorumEpoch, 1), 1);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 2), 1);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
        assert_eq!(request_header_version(ApiKey::Fetch, 12), 2);
    }

    pub(crate) fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }
}

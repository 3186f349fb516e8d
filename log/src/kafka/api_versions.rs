//! ApiVersions: which APIs and versions this broker speaks.
//!
//! The table follows Kafka 4.x: the old versions Kafka 4.0 removed
//! (KIP-896: Produce < 3, Fetch < 4, …) are not offered, and each maximum is
//! the newest version Riffle implements (capped by what the
//! `kafka-protocol` crate can encode). A client that sends an ApiVersions
//! version newer than ours gets a v0 body with `UNSUPPORTED_VERSION` and our
//! table, then retries with a version it finds there (KIP-511).

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use super::code;

/// `(api, min, max)` that Riffle implements.
pub(crate) const IMPLEMENTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 17),
    (ApiKey::ListOffsets, 1, 9),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeConfigs, 1, 4),
];

/// The versions of `api` that this broker accepts, `None` if not at all.
pub fn supported_versions(api: ApiKey) -> Option<(i16, i16)> {
    let (_, min, max) = IMPLEMENTED.iter().find(|(k, _, _)| *k == api)?;
    let crate_range = api.valid_versions();
    let (lo, hi) = ((*min).max(crate_range.min), (*max).min(crate_range.max));
    (lo <= hi).then_some((lo, hi))
}

fn table() -> Vec<ApiVersion> {
    IMPLEMENTED
        .iter()
        .filter_map(|(k, _, _)| {
            let (min, max) = supported_versions(*k)?;
            let mut v = ApiVersion::default();
            v.api_key = *k as i16;
            v.min_version = min;
            v.max_version = max;
            Some(v)
        })
        .collect()
}

/// The response to a supported ApiVersions request.
pub(crate) fn handle(_req: ApiVersionsRequest) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = code::NONE;
    r.api_keys = table();
    r
}

/// The v0 body sent for an ApiVersions version we do not know.
pub(crate) fn unsupported() -> ApiVersionsResponse {
    let mut r = handle(ApiVersionsRequest::default());
    r.error_code = code::UNSUPPORTED_VERSION;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_4_floors_and_apiversions_itself() {
        assert_eq!(supported_versions(ApiKey::Produce).map(|v| v.0), Some(3));
        assert_eq!(supported_versions(ApiKey::Fetch).map(|v| v.0), Some(4));
        assert_eq!(supported_versions(ApiKey::ApiVersions), Some((0, 4)));
        assert_eq!(supported_versions(ApiKey::SaslHandshake), None);
        assert!(table().iter().all(|v| v.min_version <= v.max_version));
    }
}

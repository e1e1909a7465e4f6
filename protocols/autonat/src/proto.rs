//! The protobuf structs of `libp2p-autonat-v2.md`, "RPC Messages", field
//! for field (prost derives, no build script). proto3: scalars are not
//! optional and a zero value is not sent. Enums are carried as `int32`
//! (the same varint on the wire) so that an unknown value reaches
//! [`crate::message`], which refuses it. Private: the rest of the crate
//! speaks the typed messages of [`crate::message`].

/// `Message`: what travels on `/libp2p/autonat/2/dial-request`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Message {
    #[prost(oneof = "Msg", tags = "1, 2, 3, 4")]
    pub(crate) msg: Option<Msg>,
}

/// `Message.msg`.
#[allow(clippy::enum_variant_names)] // the spec's names
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Msg {
    #[prost(message, tag = "1")]
    DialRequest(DialRequest),
    #[prost(message, tag = "2")]
    DialResponse(DialResponse),
    #[prost(message, tag = "3")]
    DialDataRequest(DialDataRequest),
    #[prost(message, tag = "4")]
    DialDataResponse(DialDataResponse),
}

/// `DialRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DialRequest {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub(crate) addrs: Vec<Vec<u8>>,
    #[prost(fixed64, tag = "2")]
    pub(crate) nonce: u64,
}

/// `DialDataRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DialDataRequest {
    #[prost(uint32, tag = "1")]
    pub(crate) addr_idx: u32,
    #[prost(uint64, tag = "2")]
    pub(crate) num_bytes: u64,
}

/// `DialResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DialResponse {
    #[prost(int32, tag = "1")]
    pub(crate) status: i32,
    #[prost(uint32, tag = "2")]
    pub(crate) addr_idx: u32,
    #[prost(int32, tag = "3")]
    pub(crate) dial_status: i32,
}

/// `DialDataResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DialDataResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) data: Vec<u8>,
}

/// `DialBack`: what travels on `/libp2p/autonat/2/dial-back`, server to
/// client.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DialBack {
    #[prost(fixed64, tag = "1")]
    pub(crate) nonce: u64,
}

/// `DialBackResponse`: the client's answer on the dial-back stream.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DialBackResponse {
    #[prost(int32, tag = "1")]
    pub(crate) status: i32,
}

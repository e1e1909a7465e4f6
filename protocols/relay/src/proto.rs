//! The protobuf structs of `libp2p-relay-circuit-v2.md`, "Protobuf", field
//! for field (prost derives, no build script). Private: the rest of the
//! crate speaks the typed messages of [`crate::message`], which convert
//! from and to these.

/// `HopMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HopMessage {
    #[prost(int32, optional, tag = "1")]
    pub(crate) r#type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub(crate) peer: Option<Peer>,
    #[prost(message, optional, tag = "3")]
    pub(crate) reservation: Option<Reservation>,
    #[prost(message, optional, tag = "4")]
    pub(crate) limit: Option<Limit>,
    #[prost(int32, optional, tag = "5")]
    pub(crate) status: Option<i32>,
}

/// `StopMessage`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StopMessage {
    #[prost(int32, optional, tag = "1")]
    pub(crate) r#type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub(crate) peer: Option<Peer>,
    #[prost(message, optional, tag = "3")]
    pub(crate) limit: Option<Limit>,
    #[prost(int32, optional, tag = "4")]
    pub(crate) status: Option<i32>,
}

/// `Peer`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Peer {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) id: Option<Vec<u8>>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub(crate) addrs: Vec<Vec<u8>>,
}

/// `Reservation`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Reservation {
    #[prost(uint64, optional, tag = "1")]
    pub(crate) expire: Option<u64>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub(crate) addrs: Vec<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub(crate) voucher: Option<Vec<u8>>,
}

/// `Limit`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Limit {
    #[prost(uint32, optional, tag = "1")]
    pub(crate) duration: Option<u32>,
    #[prost(uint64, optional, tag = "2")]
    pub(crate) data: Option<u64>,
}

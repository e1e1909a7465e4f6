//! The protobuf of `libp2p-relay-DCUtR.md`, "RPC messages", field for field
//! (prost derives, no build script). proto2: `type` is `required`, so it is
//! always on the wire; a message without it decodes with `type = 0`, which
//! [`crate::message`] refuses as an unknown type. The enum is carried as
//! `int32` (the same varint) so that an unknown value reaches
//! [`crate::message`] instead of failing inside prost.

/// `holepunch.pb.HolePunch`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HolePunch {
    #[prost(int32, required, tag = "1")]
    pub(crate) r#type: i32,
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub(crate) obs_addrs: Vec<Vec<u8>>,
}

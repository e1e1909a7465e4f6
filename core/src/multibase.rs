//! Multibase: text encodings that name themselves by their first character.
//!
//! Spec: multiformats `multibase` (cited by `libp2p-peer-ids.md`, "String
//! representation", for peer ids written as CIDs, and used by the
//! `certhash` multiaddr component). `b` + base32 (lowercase, no padding) is
//! the default for CIDs; `u` + base64url (no padding) is what `certhash`
//! values are written in.
//!
//! Decoding accepts the common prefixes below; anything else is `None`.
//! Callers turn that into the error of their own context.

use data_encoding::{BASE32_NOPAD, BASE64_NOPAD, BASE64URL_NOPAD, HEXLOWER_PERMISSIVE};

/// The bases this module writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// `b`: RFC 4648 base32, lowercase, no padding.
    Base32Lower,
    /// `z`: base58 with the Bitcoin alphabet.
    Base58Btc,
    /// `u`: RFC 4648 base64url, no padding.
    Base64Url,
}

/// Encodes `bytes` in `base`, with the base's prefix character.
pub fn encode(base: Base, bytes: &[u8]) -> String {
    match base {
        Base::Base32Lower => format!("b{}", BASE32_NOPAD.encode(bytes).to_ascii_lowercase()),
        Base::Base58Btc => format!("z{}", bs58::encode(bytes).into_string()),
        Base::Base64Url => format!("u{}", BASE64URL_NOPAD.encode(bytes)),
    }
}

/// Decodes multibase text: `b`/`B` base32, `z` base58btc, `f`/`F` base16,
/// `m` base64, `u` base64url (all unpadded). `None` if the prefix is unknown
/// or the rest is not valid in that base.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut chars = text.chars();
    let prefix = chars.next()?;
    let rest = chars.as_str();
    match prefix {
        'b' if rest.bytes().all(|b| !b.is_ascii_uppercase()) => {
            BASE32_NOPAD.decode(rest.to_ascii_uppercase().as_bytes()).ok()
        }
        'B' => BASE32_NOPAD.decode(rest.as_bytes()).ok(),
        'z' => bs58::decode(rest).into_vec().ok(),
        'f' | 'F' => HEXLOWER_PERMISSIVE.decode(rest.as_bytes()).ok(),
        'm' => BASE64_NOPAD.decode(rest.as_bytes()).ok(),
        'u' => BASE64URL_NOPAD.decode(rest.as_bytes()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        let bytes = b"\x01\x72\x00\x24hello multibase";
        for base in [Base::Base32Lower, Base::Base58Btc, Base::Base64Url] {
            assert_eq!(decode(&encode(base, bytes)).unwrap(), bytes);
        }
        // The multibase spec's example: "yes mani !" in base32 and base16.
        assert_eq!(decode("bpfsxgidnmfxgsibb").unwrap(), b"yes mani !");
        assert_eq!(decode("f796573206d616e692021").unwrap(), b"yes mani !");
        assert_eq!(decode(""), None);
        assert_eq!(decode("q1234"), None);
        assert_eq!(decode("b1!"), None);
        assert_eq!(decode("bPFSXG"), None, "lowercase base32 has no uppercase letters");
    }
}

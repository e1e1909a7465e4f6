#![allow(clippy::unwrap_used)]

use super::*;

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

/// `libp2p-tls.md`, "Test vectors", 1: a valid certificate for an Ed25519 peer.
const VECTOR_ED25519: &str = "308201ae30820156a0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea37c307a3078060a2b0601040183a25a0101046a3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909300a06082a8648ce3d0403020346003043021f50f6b6c52711a881778718238f650c9fb48943ae6ee6d28427dc6071ae55e702203625f116a7a454db9c56986c82a25682f7248ea1cb764d322ea983ed36a31b77";

/// Test vector 2: a valid certificate for an ECDSA (P-256) peer.
const VECTOR_ECDSA: &str = "308201f63082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f2044730450220064ea8124774caf8f50e57f436aa62350ce652418c019df5d98a3ac666c9386a022100aa59d704a931b5f72fb9222cb6cc51f954d04a4e2e5450f8805fe8918f71eaae300a06082a8648ce3d04030203470030440220799395b0b6c1e940a7e4484705f610ab51ed376f19ff9d7c16757cfbf61b8d4302206205c03fbb0f95205c779be86581d3e31c01871ad5d1f3435bcf375cb0e5088a";

/// Test vector 3: a valid certificate for a secp256k1 peer.
const VECTOR_SECP256K1: &str = "308201ba3082015fa0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea38184308181307f060a2b0601040183a25a01010471306f0425080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382044630440220145e15a991961f0d08cd15425bb95ec93f6ffa03c5a385eedc34ecf464c7a8ab022026b3109b8a3f40ef833169777eb2aa337cfb6282f188de0666d1bcec2a4690dd300a06082a8648ce3d0403020349003046022100e1a217eeef9ec9204b3f774a08b70849646b6a1e6b8b27f93dc00ed58545d9fe022100b00dafa549d0f03547878338c7b15e7502888f6d45db387e5ae6b5d46899cef0";

/// Test vector 4: the key that signed the certificate is not the one the
/// extension's signature covers.
const VECTOR_INVALID: &str = "308201f73082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f204473045022100bb6e03577b7cc7a3cd1558df0da2b117dfdcc0399bc2504ebe7de6f65cade72802206de96e2a5be9b6202adba24ee0362e490641ac45c240db71fe955f2c5cf8df6e300a06082a8648ce3d0403020348003045022100e847f267f43717358f850355bdcabbefb2cfbf8a3c043b203a14788a092fe8db022027c1d04a2d41fd6b57a7e8b3989e470325de4406e52e084e34a3fd56eef0d0df";

#[test]
fn the_spec_ed25519_vector_authenticates_its_peer() {
    let peer = verify(&unhex(VECTOR_ED25519), SystemTime::now()).unwrap();
    assert_eq!(peer.peer_id().to_string(), "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv");
}

#[test]
fn the_spec_ecdsa_and_secp256k1_vectors_authenticate_their_peers() {
    let peer = verify(&unhex(VECTOR_ECDSA), SystemTime::now()).unwrap();
    assert_eq!(peer.peer_id().to_string(), "QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE");
    let peer = verify(&unhex(VECTOR_SECP256K1), SystemTime::now()).unwrap();
    assert_eq!(peer.peer_id().to_string(), "16Uiu2HAkutTMoTzDw1tCvSRtu6YoixJwS46S1ZFxW8hSx9fWHiPs");
}

#[test]
fn the_spec_invalid_vector_is_refused_for_its_signature() {
    // Vector 4: an ECDSA identity whose signature covers another
    // certificate key.
    assert!(matches!(verify(&unhex(VECTOR_INVALID), SystemTime::now()), Err(CertificateError::IdentitySignature)));
}

#[test]
fn certificates_of_every_identity_type_we_sign_with_verify() {
    let rsa = strata_core::Keypair::from_protobuf_encoding(&unhex(
        include_str!("../../../../../core/tests/vectors/rsa_private_key.hex").trim(),
    ))
    .unwrap();
    for identity in [Keypair::generate_secp256k1(), Keypair::generate_ecdsa(), rsa] {
        let ours = generate(&identity).unwrap();
        let peer = verify(&ours.certificate, SystemTime::now()).unwrap();
        assert_eq!(peer.peer_id(), identity.peer_id(), "{:?}", identity.key_type());
    }
}

#[test]
fn our_certificate_verifies_and_names_us() {
    let identity = Keypair::ed25519_from_secret([3; 32]);
    let ours = generate(&identity).unwrap();
    let peer = verify(&ours.certificate, SystemTime::now()).unwrap();
    assert_eq!(peer.peer_id(), identity.peer_id());
    // Two certificates of one identity have different throwaway keys.
    let again = verify(&generate(&identity).unwrap().certificate, SystemTime::now()).unwrap();
    assert_ne!(peer.spki, again.spki);
}

#[test]
fn a_signature_over_another_certificate_key_is_refused() {
    let victim = Keypair::ed25519_from_secret([5; 32]);
    // An extension copied from the victim's certificate into ours: the
    // signature covers the victim's certificate key, not ours.
    let theirs = generate(&victim).unwrap();
    let (_, parsed) = X509Certificate::from_der(&theirs.certificate).unwrap();
    let stolen = parsed.extensions().iter().find(|ext| ext.oid.to_id_string() == OID_TEXT).unwrap().value.to_vec();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.custom_extensions.push(rcgen::CustomExtension::from_oid_content(&OID, stolen));
    let forged = params.self_signed(&key).unwrap();
    assert!(matches!(verify(forged.der(), SystemTime::now()), Err(CertificateError::IdentitySignature)));
}

#[test]
fn without_the_extension_or_with_an_unknown_critical_one_a_certificate_is_refused() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let bare = rcgen::CertificateParams::default().self_signed(&key).unwrap();
    assert!(matches!(verify(bare.der(), SystemTime::now()), Err(CertificateError::Extensions(0))));

    let identity = Keypair::ed25519_from_secret([6; 32]);
    let signature = identity.sign(&[SIGNING_PREFIX, &key.public_key_der()].concat());
    let value = SignedKey { public_key: identity.public().encode_protobuf(), signature }.encode();
    let mut params = rcgen::CertificateParams::default();
    params.custom_extensions.push(rcgen::CustomExtension::from_oid_content(&OID, value));
    let mut unknown = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
    unknown.set_criticality(true);
    params.custom_extensions.push(unknown);
    let certificate = params.self_signed(&key).unwrap();
    assert!(matches!(verify(certificate.der(), SystemTime::now()), Err(CertificateError::UnknownCritical(_))));
}

#[test]
fn an_expired_certificate_is_refused() {
    let identity = Keypair::ed25519_from_secret([7; 32]);
    let ours = generate(&identity).unwrap();
    // rcgen's default validity ends in 4096.
    let far = UNIX_EPOCH + std::time::Duration::from_secs(70_000_000_000);
    assert!(matches!(verify(&ours.certificate, far), Err(CertificateError::Expired)));
}

#[test]
fn garbage_is_refused() {
    for bytes in [&[][..], &[0x30], &[0x30, 0x03, 0x02, 0x01, 0x00], &unhex(VECTOR_ED25519)[..100]] {
        assert!(matches!(verify(bytes, SystemTime::now()), Err(CertificateError::Parse(_))), "{bytes:?}");
    }
}

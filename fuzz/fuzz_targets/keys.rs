//! Key and certificate files a user points us at: cosign and sigstore
//! private-key envelopes, public keys, PEM chains, DER certificates and TLS
//! keys. None may panic. An envelope that parses is decrypted with a wrong
//! password, which must fail (and, as its scrypt cost is bounded when parsed,
//! fail quickly).
#![no_main]

use harbor_lab::cosign::keys;
use harbor_lab::tls;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = keys::parse_private_key(data) {
        let _ = envelope.decrypt(b"not the password");
    }
    let _ = keys::parse_public_key(data);
    let _ = tls::parse_pem_chain(data);
    if let Ok(info) = tls::parse_der(data) {
        let _ = info.covers("10.0.0.5");
        let _ = info.covers("harbor.lab.test");
        let _ = info.names();
    }
    let _ = tls::parse_key(data);
});

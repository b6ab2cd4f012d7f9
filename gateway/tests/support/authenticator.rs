//! A passkey authenticator in the test: what a browser and its platform authenticator answer to
//! the gateway's WebAuthn options (`PublicKeyCredential.toJSON()`), with an ES256 key of its own
//! (`ring`), "none" attestation, user presence and verification. Enough of CTAP2's CBOR to write
//! an attestation object and a COSE key (maps of small integers, text and byte strings, in the
//! canonical order WebAuthn asks for); no crate in the tree writes CBOR.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One credential: its id, its key, its signature counter.
pub struct Authenticator {
    rp_id: String,
    origin: String,
    credential_id: [u8; 16],
    key: EcdsaKeyPair,
    rng: SystemRandom,
    counter: u32,
    /// The user handle the credential was made for (from the registration options).
    user_handle: Vec<u8>,
}

/// The CBOR head of major type `major` with argument `n`.
fn head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=255 => out.extend_from_slice(&[m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
}

fn text(s: &str, out: &mut Vec<u8>) {
    head(3, s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    head(2, b.len(), out);
    out.extend_from_slice(b);
}

/// A CBOR integer from -24 to 23.
fn small(n: i8, out: &mut Vec<u8>) {
    if n >= 0 {
        head(0, n as usize, out);
    } else {
        head(1, (-1 - n) as usize, out);
    }
}

impl Authenticator {
    /// An authenticator for the pages at `origin` (`https://localhost:3100`), relying party
    /// `rp_id` (`localhost`).
    pub fn new(rp_id: &str, origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut credential_id = [0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut credential_id).unwrap();
        Self {
            rp_id: rp_id.into(),
            origin: origin.into(),
            credential_id,
            key,
            rng,
            counter: 0,
            user_handle: Vec::new(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"{kind}","challenge":"{challenge}","origin":"{}","crossOrigin":false}}"#,
            self.origin
        )
        .into_bytes()
    }

    /// The authenticator data: the relying party's hash, flags (user present and verified, and
    /// `attested` with the credential), the counter.
    fn authenticator_data(&self, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(0x01 | 0x04 | if attested { 0x40 } else { 0 });
        data.extend_from_slice(&self.counter.to_be_bytes());
        if attested {
            data.extend_from_slice(&[0; 16]); // AAGUID: none
            data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            data.extend_from_slice(&self.credential_id);
            // The COSE key: EC2 (1: 2), ES256 (3: -7), P-256 (-1: 1), x (-2), y (-3).
            let public = self.key.public_key().as_ref();
            let (x, y) = (&public[1..33], &public[33..65]);
            head(5, 5, &mut data);
            for (k, v) in [(1, 2), (3, -7), (-1, 1)] {
                small(k, &mut data);
                small(v, &mut data);
            }
            small(-2, &mut data);
            bytes(x, &mut data);
            small(-3, &mut data);
            bytes(y, &mut data);
        }
        data
    }

    /// The answer to registration options (`navigator.credentials.create()`'s).
    pub fn register(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("a challenge");
        self.user_handle = B64
            .decode(options["user"]["id"].as_str().expect("a user handle"))
            .unwrap();
        let client_data = self.client_data("webauthn.create", challenge);
        let auth_data = self.authenticator_data(true);
        let mut attestation = Vec::new();
        head(5, 3, &mut attestation);
        text("fmt", &mut attestation);
        text("none", &mut attestation);
        text("attStmt", &mut attestation);
        head(5, 0, &mut attestation);
        text("authData", &mut attestation);
        bytes(&auth_data, &mut attestation);
        let id = B64.encode(self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "attestationObject": B64.encode(&attestation),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }

    /// The answer to sign-in options (`navigator.credentials.get()`'s); the counter grows.
    pub fn sign_in(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("a challenge");
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.authenticator_data(false);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.key.sign(&self.rng, &signed).unwrap();
        let id = B64.encode(self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": B64.encode(&self.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
    }
}

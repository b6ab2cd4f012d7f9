//! Web Push: the gateway's VAPID key (RFC 8292), payload encryption (RFC 8291, `aes128gcm` of
//! RFC 8188) and one push request.
//!
//! Built on `ring`, which the gateway already has as rustls' provider: ECDH P-256, HKDF-SHA256,
//! AES-128-GCM and ECDSA P-256 are each one call there, and what is left is the framing the
//! RFCs spell out (a 21-byte header plus the key, one record, a `0x02` delimiter). The crates
//! that package it would bring a second cryptography stack (`web-push-native` adds 32 crates to
//! the lock file, 65 with its VAPID feature, which pulls `jwt-simple` and its curves); the unit
//! test below pins this code to RFC 8291's own worked example.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, agreement, hkdf, signature};

/// Record size announced in the header: one record holds the whole payload.
const RECORD_SIZE: u32 = 4096;
/// Largest payload one record holds (record size less the tag and the delimiter).
pub const MAX_PAYLOAD: usize = RECORD_SIZE as usize - 17;
/// A VAPID token is valid this long (RFC 8292 allows at most 24 h).
const VAPID_LIFETIME_SECS: i64 = 12 * 60 * 60;

/// The gateway's VAPID key pair (P-256), kept in `<data>/vapid_key.p8` (PKCS#8, mode 0600);
/// gateways sharing a store use the one in the store (see [`Vapid::shared`]).
pub struct Vapid {
    key: signature::EcdsaKeyPair,
    /// `mailto:` or `https:` contact, the JWT's `sub`.
    subject: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public_key", &self.public_key())
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Vapid {
    /// Load the key from `data_dir`, generating it on first start.
    pub fn load_or_create(data_dir: &Path, subject: String) -> anyhow::Result<Self> {
        let pkcs8 = local_key(data_dir)?;
        Self::from_pkcs8(&pkcs8, subject)
            .with_context(|| format!("{}", data_dir.join("vapid_key.p8").display()))
    }

    /// The key of every gateway sharing `store`: a browser subscribes with the key of the
    /// gateway that served its page, the push may leave from any other, and a push service
    /// refuses a push signed with another key. The first gateway to start puts its key (its
    /// data directory's, so subscriptions made before keep working) in the store's `meta`;
    /// every gateway takes the one there.
    pub async fn shared(
        store: &dyn crate::store::Store,
        data_dir: &Path,
        subject: String,
    ) -> anyhow::Result<Self> {
        use base64::engine::general_purpose::STANDARD;
        let mine = STANDARD.encode(local_key(data_dir)?);
        let stored = store
            .meta_or_insert(META_KEY.into(), mine)
            .await
            .context("read the shared VAPID key")?;
        let pkcs8 = STANDARD
            .decode(stored)
            .context("the shared VAPID key is not base64")?;
        Self::from_pkcs8(&pkcs8, subject).context("the shared VAPID key")
    }

    fn from_pkcs8(pkcs8: &[u8], subject: String) -> anyhow::Result<Self> {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let key = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &SystemRandom::new())
            .map_err(|e| anyhow::anyhow!("not a P-256 key: {e}"))?;
        Ok(Self { key, subject })
    }

    /// The public key as browsers take it (`applicationServerKey`): the uncompressed point,
    /// base64url without padding.
    pub fn public_key(&self) -> String {
        use signature::KeyPair;
        B64.encode(self.key.public_key().as_ref())
    }

    /// The `Authorization` header for a push to `endpoint`: `vapid t=<JWT ES256>, k=<key>`,
    /// the JWT's `aud` the endpoint's origin.
    pub fn authorization(&self, endpoint: &reqwest::Url, now_secs: i64) -> anyhow::Result<String> {
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": endpoint.origin().ascii_serialization(),
            "exp": now_secs + VAPID_LIFETIME_SECS,
            "sub": self.subject,
        });
        let signing_input = format!("{header}.{}", B64.encode(claims.to_string()));
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| anyhow::anyhow!("sign the VAPID token"))?;
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            B64.encode(sig.as_ref()),
            self.public_key()
        ))
    }
}

/// Where gateways sharing a store keep their one VAPID key (PKCS#8, base64).
const META_KEY: &str = "vapid_key";

/// The PKCS#8 key in `<data_dir>/vapid_key.p8`, generated and written (mode 0600) if absent.
fn local_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("vapid_key.p8");
    if path.exists() {
        return std::fs::read(&path).with_context(|| format!("read {}", path.display()));
    }
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let doc = signature::EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new())
        .map_err(|_| anyhow::anyhow!("generate the VAPID key"))?;
    crate::secrets::write_private(&path, doc.as_ref())?;
    Ok(doc.as_ref().to_vec())
}

/// An HKDF output length.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf(salt: &[u8], secret: &[u8], info: &[u8], out: &mut [u8]) -> anyhow::Result<()> {
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(secret)
        .expand(&[info], Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| anyhow::anyhow!("HKDF output too long"))
}

/// Encrypt `plaintext` for a subscription (RFC 8291): a fresh P-256 key and salt each time.
/// `ua_public` is the subscription's `p256dh` (65 bytes), `auth` its 16-byte secret.
pub fn encrypt(ua_public: &[u8], auth: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    let private = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| anyhow::anyhow!("generate an ECDH key"))?;
    let as_public = private
        .compute_public_key()
        .map_err(|_| anyhow::anyhow!("compute the ECDH public key"))?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, ua_public);
    let shared = agreement::agree_ephemeral(private, &peer, |s| s.to_vec())
        .map_err(|_| anyhow::anyhow!("the subscription's key is not a P-256 point"))?;
    encrypt_with(
        &shared,
        as_public.as_ref(),
        ua_public,
        auth,
        salt,
        plaintext,
    )
}

/// The deterministic part of [`encrypt`], after the key agreement.
fn encrypt_with(
    ecdh_secret: &[u8],
    as_public: &[u8],
    ua_public: &[u8],
    auth: &[u8],
    salt: [u8; 16],
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        plaintext.len() <= MAX_PAYLOAD,
        "a push payload holds at most {MAX_PAYLOAD} bytes"
    );
    // IKM = HKDF(auth, ecdh_secret, "WebPush: info" 0x00 ua_public as_public, 32)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    hkdf(auth, ecdh_secret, &key_info, &mut ikm)?;
    let mut cek = [0u8; 16];
    hkdf(&salt, &ikm, b"Content-Encoding: aes128gcm\0", &mut cek)?;
    let mut nonce = [0u8; 12];
    hkdf(&salt, &ikm, b"Content-Encoding: nonce\0", &mut nonce)?;

    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &cek)
            .map_err(|_| anyhow::anyhow!("AES-128-GCM key"))?,
    );
    let mut record = plaintext.to_vec();
    record.push(0x02); // the last (and only) record's delimiter
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        &mut record,
    )
    .map_err(|_| anyhow::anyhow!("encrypt the push payload"))?;

    // Header: salt (16), record size (u32 BE), key id length (1), key id (the sender's key).
    let mut body = Vec::with_capacity(21 + as_public.len() + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(u8::try_from(as_public.len()).context("key id length")?);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// A push endpoint: `https://` with a host, at most 2 KiB; `http://` only to a loopback address
/// (a push service under test). Push services are public HTTPS services; a subscription is
/// made by a signed-in person's browser, and this keeps the gateway's pushes off plain-text
/// links and the rest of a private network.
pub fn check_push_endpoint(endpoint: &str) -> Result<reqwest::Url, crate::error::ApiError> {
    let bad =
        |why: &str| crate::error::ApiError::bad_request("invalid_field", format!("endpoint {why}"));
    if endpoint.len() > 2048 {
        return Err(bad("is longer than 2048 bytes"));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|_| bad("is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(bad("must be an https:// URL")),
    }
}

/// One push: the encrypted payload, VAPID-signed, to the subscription's endpoint.
pub(super) async fn send(
    http: &reqwest::Client,
    vapid: &Vapid,
    sub: &crate::store::PushSubscription,
    payload: &[u8],
    urgent: bool,
    now_secs: i64,
) -> super::webhook::Sent {
    use super::webhook::Sent;
    let url = match reqwest::Url::parse(&sub.endpoint) {
        Ok(url) => url,
        Err(_) => return Sent::Unreachable("the endpoint is not a URL".into()),
    };
    let prepared = encrypt(&sub.p256dh, &sub.auth, payload)
        .and_then(|body| Ok((body, vapid.authorization(&url, now_secs)?)));
    let (body, authorization) = match prepared {
        Ok(p) => p,
        Err(e) => return Sent::Unreachable(format!("{e:#}")),
    };
    let request = http
        .post(url)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header("ttl", ttl_secs(urgent).to_string())
        .header("urgency", if urgent { "high" } else { "normal" })
        .body(body);
    match request.send().await {
        Ok(resp) if resp.status().is_success() => Sent::Delivered(resp.status().as_u16()),
        Ok(resp) => Sent::Refused(resp.status().as_u16()),
        Err(e) => Sent::Unreachable(e.without_url().to_string()),
    }
}

/// How long a push service keeps a notification for an offline browser (s).
pub fn ttl_secs(urgent: bool) -> u32 {
    if urgent { 10 * 60 } else { 24 * 60 * 60 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    /// RFC 8291, Appendix A: the worked example, byte for byte.
    #[test]
    fn rfc8291_example() {
        let body = encrypt_with(
            &b64("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs"),
            &b64("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"),
            &b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
            &b64("BTBZMqHH6r4Tts7J_aSIgg"),
            b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap(),
            b"When I grow up, I want to be a watermelon",
        )
        .unwrap();
        assert_eq!(
            B64.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn push_endpoints() {
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "http://127.0.0.1:9/push",
            "http://[::1]:9/push",
            "http://localhost:9/p",
        ] {
            assert!(check_push_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://push.example.com/x",
            "http://10.0.0.1/x",
            "ftp://x/",
            "nope",
        ] {
            assert!(check_push_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn too_large_a_payload_is_refused() {
        let ua =
            agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &SystemRandom::new())
                .unwrap();
        let ua_public = ua.compute_public_key().unwrap();
        assert!(encrypt(ua_public.as_ref(), &[1; 16], &[b'x'; MAX_PAYLOAD]).is_ok());
        assert!(encrypt(ua_public.as_ref(), &[1; 16], &[b'x'; MAX_PAYLOAD + 1]).is_err());
        assert!(encrypt(&[4; 65], &[1; 16], b"{}").is_err(), "not a point");
    }

    #[test]
    fn the_key_is_made_once_and_signs_verifiable_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vapid::load_or_create(dir.path(), "mailto:a@example.com".into()).unwrap();
        let again = Vapid::load_or_create(dir.path(), "mailto:a@example.com".into()).unwrap();
        assert_eq!(v.public_key(), again.public_key());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("vapid_key.p8"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let url = reqwest::Url::parse("https://push.example.com:8443/send/abc").unwrap();
        let header = v.authorization(&url, 1_700_000_000).unwrap();
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        assert_eq!(k, v.public_key());
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, b64(k))
            .verify(input.as_bytes(), &b64(sig))
            .unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&b64(input.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.com:8443");
        assert_eq!(claims["exp"], 1_700_000_000 + VAPID_LIFETIME_SECS);
        assert_eq!(claims["sub"], "mailto:a@example.com");
    }
}

//! The test client's identity at `altinn-sim`: an RSA key pair generated once for every
//! test (generation is the slow part), and the client id and key id the stand-in accepts.

use std::sync::OnceLock;

/// The client id `altinn-sim` accepts (its built-in default; it has no flag for it).
pub(crate) const CLIENT_ID: &str = "reachcheck-altinn-sim";
/// The key id `altinn-sim` accepts (its built-in default; it has no flag for it).
pub(crate) const KEY_ID: &str = "altinn-sim-key-1";

/// One RSA key pair for every test: (private PKCS#8 PEM, public PEM), made as `altinn-sim
/// --write-config` makes its own.
pub(crate) fn keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let mut rng = rand08::rngs::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let public = rsa::RsaPublicKey::from(&private);
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
        (private_pem, public_pem)
    })
}

//! `--write-config`: a fresh test key pair and the reachcheck configuration that points
//! every live base URL at the stand-in.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::grant::{CLIENT_ID, KEY_ID};

/// A fresh RSA key pair for a test client: (private PKCS#8 PEM, public PEM).
///
/// # Errors
/// Key generation or encoding failed.
pub(crate) fn generate_key_pair() -> Result<(String, String), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut rng = rand08::rngs::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
    let public = rsa::RsaPublicKey::from(&private);
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    let public_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?;
    Ok((private_pem, public_pem))
}

/// The `[live]` configuration that points reachcheck at a stand-in at `base_url`, with the
/// private key in `key_file` (a path as it should appear in the config).
pub(crate) fn live_config(
    base_url: &str,
    key_file: &str,
    client_org: Option<reachcheck::model::OrgNumber>,
    profile_for_system_users: bool,
) -> String {
    let mut s = format!(
        "# Written by altinn-sim: reachcheck's live sources pointed at a local stand-in.\n\
         # The key is a throwaway test key. Plain http:// is allowed only because of allow_http.\n\
         [live]\n\
         allow_http = true\n\
         altinn_url = \"{base_url}\"\n\
         brreg_url = \"{base_url}\"\n\
         maskinporten_token_url = \"{base_url}/token\"\n\
         maskinporten_audience = \"{base_url}/\"\n\
         client_id = \"{CLIENT_ID}\"\n\
         key_file = \"{key_file}\"\n\
         key_id = \"{KEY_ID}\"\n"
    );
    if let Some(org) = client_org {
        // The client's organisation: it owns the resources whose access lists it reads.
        s.push_str(&format!("client_org = \"{org}\"\n"));
    }
    if profile_for_system_users {
        s.push_str("notification_addresses = \"profile\"\n");
    }
    s
}

/// The `[outcomes]` section that polls the stand-in's Correspondence, with the
/// subscription key in `key_file` when one is required.
pub(crate) fn outcomes_config(key_file: Option<&str>) -> String {
    let mut s = String::from(
        "\n# The stand-in plays Altinn Correspondence for the sender (--client-org).\n[outcomes]\nenabled = true\n",
    );
    if let Some(k) = key_file {
        s.push_str(&format!("subscription_key_file = \"{k}\"\n"));
    }
    s
}

/// The `[onboarding]` section for the system `system_id` the stand-in registers.
pub(crate) fn onboarding_config(system_id: &str) -> String {
    format!(
        "\n# The stand-in registers reachcheck's system (--system-id).\n[onboarding]\nsystem_id = \"{system_id}\"\n"
    )
}

/// Where the private key goes: beside `config`, named `FILE.key.pem`.
pub(crate) fn key_file_for(config: &Path) -> PathBuf {
    let mut name = config
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".key.pem");
    config.with_file_name(name)
}

/// Writes the private key readable by the owner only.
pub(crate) fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::fs::OpenOptions;
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(pem.as_bytes())
}

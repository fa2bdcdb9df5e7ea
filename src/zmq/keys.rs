//! CURVE key pairs: generate, save and load them in Z85.
//!
//! A key pair is saved as two files, in the spirit of CZMQ's `zcert`:
//! `NAME.key` holds the public key and may be copied anywhere (a server's
//! `--curve-allow` directory is a directory of them), `NAME.key_secret`
//! holds both keys and is written with mode 0600. The secret key is never
//! printed by `Debug` and never logged.
//!
//! ```text
//! # zgreen CURVE public key
//! public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//! ```
//!
//! Key generation needs a libzmq built with CURVE, as the default build's
//! is (see [`auth`](super::auth#curve)).

use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Length of a CURVE key in bytes.
pub const KEY_BYTES: usize = 32;
/// Length of a CURVE key in Z85 characters.
pub const KEY_Z85_CHARS: usize = 40;

/// A CURVE public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; KEY_BYTES]);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_z85())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_z85())
    }
}

impl PublicKey {
    /// Parses a 40-character Z85 key.
    pub fn from_z85(text: &str) -> Result<PublicKey> {
        decode_key(text.trim()).map(PublicKey)
    }

    /// A 32-byte binary key (as found in a ZAP CURVE credentials frame).
    pub fn from_bytes(bytes: &[u8]) -> Option<PublicKey> {
        bytes.try_into().ok().map(PublicKey)
    }

    /// The key in Z85 (40 characters).
    pub fn to_z85(&self) -> String {
        encode_key(&self.0)
    }

    /// Loads a public key file: a `public-key = "…"` line, or a file that
    /// is just the 40-character Z85 key.
    pub fn load(path: impl AsRef<Path>) -> Result<PublicKey> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| with_path(e, path))?;
        match field(&text, "public-key") {
            Some(z85) => PublicKey::from_z85(z85),
            None => {
                let bare: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .collect();
                match bare.as_slice() {
                    [one] => PublicKey::from_z85(one),
                    _ => Err(invalid(format!("{}: no public-key in the file", path.display()))),
                }
            }
        }
    }

    /// Writes `path` as a public key file (mode 0644).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = format!("# zgreen CURVE public key\npublic-key = \"{}\"\n", self.to_z85());
        write_file(path.as_ref(), text.as_bytes(), 0o644)
    }
}

/// A CURVE key pair. `Debug` shows the public key only.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The public key: give it to peers.
    pub public: PublicKey,
    secret: [u8; KEY_BYTES],
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl KeyPair {
    /// Generates a new key pair (libzmq's `zmq_curve_keypair`, from
    /// libsodium's random source).
    pub fn generate() -> Result<KeyPair> {
        let pair = zmq::CurveKeyPair::new()?;
        Ok(KeyPair {
            public: PublicKey(pair.public_key),
            secret: pair.secret_key,
        })
    }

    /// A key pair from its two halves (binary).
    pub fn from_parts(public: [u8; KEY_BYTES], secret: [u8; KEY_BYTES]) -> KeyPair {
        KeyPair {
            public: PublicKey(public),
            secret,
        }
    }

    /// The secret key (binary). Keep it out of logs.
    pub fn secret_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.secret
    }

    /// Saves `DIR/NAME.key` (public, 0644) and `DIR/NAME.key_secret`
    /// (both keys, 0600) and returns their paths.
    pub fn save(&self, dir: impl AsRef<Path>, name: &str) -> Result<(PathBuf, PathBuf)> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        let public = dir.join(format!("{name}.key"));
        let secret = dir.join(format!("{name}.key_secret"));
        self.public.save(&public)?;
        self.save_secret(&secret)?;
        Ok((public, secret))
    }

    /// Writes `path` as a secret key file, mode 0600 (also when the file
    /// already existed with wider permissions).
    pub fn save_secret(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = format!(
            "# zgreen CURVE secret key: keep it private (mode 0600)\npublic-key = \"{}\"\nsecret-key = \"{}\"\n",
            self.public.to_z85(),
            encode_key(&self.secret)
        );
        write_file(path.as_ref(), text.as_bytes(), 0o600)
    }

    /// Loads a secret key file written by [`save_secret`](Self::save_secret).
    /// A file readable by group or others is refused.
    pub fn load_secret(path: impl AsRef<Path>) -> Result<KeyPair> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| with_path(e, path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(invalid(format!(
                "{}: a secret key file must not be readable by group or others (mode {mode:o}; chmod 600 it)",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| with_path(e, path))?;
        let (Some(public), Some(secret)) = (field(&text, "public-key"), field(&text, "secret-key")) else {
            return Err(invalid(format!(
                "{}: a secret key file needs public-key and secret-key lines",
                path.display()
            )));
        };
        let public = PublicKey::from_z85(public)?;
        let secret =
            decode_key(secret).map_err(|_| invalid(format!("{}: malformed secret-key", path.display())))?;
        Ok(KeyPair { public, secret })
    }
}

/// Key files of a directory that did not parse, with the reason.
pub type BadKeyFiles = Vec<(PathBuf, Error)>;

/// Loads every public key file (any name not ending in `_secret`) in
/// `dir`. Files that do not parse are returned in the second list with
/// their error, so a caller can log them.
pub fn load_public_dir(dir: impl AsRef<Path>) -> Result<(Vec<PublicKey>, BadKeyFiles)> {
    let dir = dir.as_ref();
    let mut keys = Vec::new();
    let mut bad = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| with_path(e, dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| !p.to_string_lossy().ends_with("_secret") && !is_hidden(p))
        .collect();
    paths.sort();
    for path in paths {
        match PublicKey::load(&path) {
            Ok(k) => keys.push(k),
            Err(e) => bad.push((path, e)),
        }
    }
    Ok((keys, bad))
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The quoted value of `name = "value"` in a key file.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (key, value) = line.trim().split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        Some(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value),
        )
    })
}

fn encode_key(key: &[u8; KEY_BYTES]) -> String {
    // 32 is a multiple of 4: z85_encode cannot fail.
    zmq::z85_encode(key).expect("a 32-byte key encodes")
}

fn decode_key(text: &str) -> Result<[u8; KEY_BYTES]> {
    if text.len() != KEY_Z85_CHARS {
        return Err(invalid(format!(
            "a Z85 CURVE key has {KEY_Z85_CHARS} characters, not {}",
            text.len()
        )));
    }
    let bytes = zmq::z85_decode(text).map_err(|_| invalid("malformed Z85 key".to_string()))?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| invalid("malformed Z85 key".to_string()))
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| with_path(e, path))?;
    // `mode` only applies to a new file: narrow an existing one too.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| with_path(e, path))?;
    file.write_all(data).map_err(|e| with_path(e, path))?;
    file.sync_all().map_err(|e| with_path(e, path))?;
    Ok(())
}

fn with_path(e: io::Error, path: &Path) -> Error {
    Error::from(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn invalid(message: String) -> Error {
    Error::from(io::Error::new(io::ErrorKind::InvalidData, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z85_round_trip_and_length_check() {
        let key = PublicKey([7u8; KEY_BYTES]);
        let z85 = key.to_z85();
        assert_eq!(z85.len(), KEY_Z85_CHARS);
        assert_eq!(PublicKey::from_z85(&z85).unwrap(), key);
        assert!(PublicKey::from_z85("short").is_err());
    }

    #[test]
    fn generated_pairs_are_distinct_and_survive_z85() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        assert_ne!(a.public, b.public);
        assert_ne!(a.secret_bytes(), b.secret_bytes());
        assert_eq!(PublicKey::from_z85(&a.public.to_z85()).unwrap(), a.public);
    }

    #[test]
    fn debug_hides_the_secret() {
        let pair = KeyPair::from_parts([1; KEY_BYTES], [2; KEY_BYTES]);
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&encode_key(&[2; KEY_BYTES])), "{shown}");
        assert!(shown.contains("redacted"));
    }
}

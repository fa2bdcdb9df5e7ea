//! `zkeys`: CURVE key pairs for the brokers, workers and clients.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use zgreen::zmq::keys::{KeyPair, PublicKey};
use zgreen_brokers::cli;

const NAME: &str = "zkeys";

/// CURVE key pairs in Z85: NAME.key (public, give it to peers) and
/// NAME.key_secret (both keys, mode 0600, never printed).
#[derive(Parser, Debug)]
#[command(name = "zkeys", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Generates a key pair into DIR/NAME.key and DIR/NAME.key_secret and
    /// prints the public key.
    Generate {
        /// Directory to write to (created if missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Base name of the two files.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Prints the public key (Z85) of a NAME.key or NAME.key_secret file.
    Public {
        /// The key file.
        file: PathBuf,
    },
    /// Exits 0 if the linked libzmq has CURVE (the default build's does;
    /// a system libzmq linked instead may not), 1 if not.
    Check,
}

fn main() {
    let cli: Cli = cli::parse(NAME);
    match cli.cmd {
        Cmd::Generate { dir, name, force } => {
            if name.is_empty() || name.contains('/') {
                cli::fail(NAME, "--name must be a plain file name");
            }
            let secret = dir.join(format!("{name}.key_secret"));
            if secret.exists() && !force {
                cli::fail(
                    NAME,
                    format_args!("{} exists (--force overwrites it)", secret.display()),
                );
            }
            let pair = KeyPair::generate().unwrap_or_else(|e| cli::fail(NAME, e));
            let (public, secret) = pair.save(&dir, &name).unwrap_or_else(|e| cli::fail(NAME, e));
            println!("{}", pair.public);
            eprintln!(
                "{NAME}: wrote {} and {} (mode 0600)",
                public.display(),
                secret.display()
            );
        }
        Cmd::Public { file } => {
            let key = if file.to_string_lossy().ends_with("_secret") {
                KeyPair::load_secret(&file).map(|p| p.public)
            } else {
                PublicKey::load(&file)
            };
            println!("{}", key.unwrap_or_else(|e| cli::fail(NAME, e)));
        }
        Cmd::Check => {
            if zmq::has("curve") == Some(true) {
                println!("CURVE available (libzmq {:?})", zmq::version());
            } else {
                cli::fail(
                    NAME,
                    format_args!(
                        "libzmq {:?} has no CURVE (built without libsodium)",
                        zmq::version()
                    ),
                );
            }
        }
    }
}

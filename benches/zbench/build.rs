//! Records which zgreen source the binary was built from (the runner's
//! report prints it: other engineers change src/ while benchmarks run).

use std::process::Command;

fn git(args: &[&str]) -> String {
    Command::new("git")
        .current_dir("../..")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = git(&["status", "--porcelain", "--", "src"]).lines().count();
    println!("cargo:rustc-env=ZBENCH_BUILT_FROM={head}");
    println!("cargo:rustc-env=ZBENCH_BUILT_DIRTY={dirty}");
    println!("cargo:rerun-if-changed=../../src");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/index");
}

//! The plugins the tests and benchmarks run, built from `plugins/` by the build, never
//! committed as binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The component of the plugin crate `name` without its `-plugin` suffix (`probe`, `minimal`,
/// `foreign-import`), among the plugins or the test fixtures: from `$SG_PLUGIN_DIR`, which
/// `scripts/test` fills, or else built now by `scripts/build-plugins` into a target directory
/// of its own.
pub fn plugin(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| match std::env::var_os("SG_PLUGIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => build(),
    });
    let file = format!("{name}.wasm");
    [dir.join(&file), dir.join("fixtures").join(&file)]
        .into_iter()
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("no {file} in {}: run scripts/build-plugins", dir.display()))
}

fn build() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // A target directory apart from the one `cargo test` is using.
    let target = repo.join("target").join("plugin-fixtures");
    let output = Command::new(repo.join("scripts").join("build-plugins"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("scripts/build-plugins runs");
    assert!(
        output.status.success(),
        "scripts/build-plugins failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).expect("a path").trim())
}

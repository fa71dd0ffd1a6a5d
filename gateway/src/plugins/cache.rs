//! Compiled components on disk, so that a plugin is compiled once per file and engine, not at
//! every start: a Python component takes seconds to compile, a cache hit milliseconds.
//!
//! An entry is named by the component's sha256 and a hash of the engine's settings, and holds
//! the sha256 of the compiled artifact ahead of it, so that a truncated or altered file is
//! compiled afresh instead of being trusted.

use std::hash::{Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use wasmtime::Engine;
use wasmtime::component::Component;

const DIGEST_LEN: usize = 32;

pub(super) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

/// Where a component came from, for the load log and the benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompiledFrom {
    Cache,
    Compiler,
}

impl CompileCache {
    pub fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        // SipHash with the fixed keys of `DefaultHasher::new` is stable across runs of one
        // build, which is all a cache key needs: another build also changes the engine's hash.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_owned(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    pub fn path(&self, component_sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{component_sha256}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `bytes` (whose sha256 is `sha256`): from the cache, or
    /// compiled and then stored. A cache that cannot be written only costs the next start time.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CompiledFrom)> {
        let path = self.path(sha256);
        if let Some(component) = self.load(engine, &path) {
            return Ok((component, CompiledFrom::Cache));
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Err(err) = self.store(&path, &compiled) {
            tracing::warn!(path = %path.display(), error = %err, "cannot write the compile cache");
        }
        let component = deserialize(engine, &compiled)?;
        Ok((component, CompiledFrom::Compiler))
    }

    /// Compiles `bytes` into the cache, replacing an entry that is there.
    pub fn precompile(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<PathBuf> {
        let path = self.path(sha256);
        let compiled = engine.precompile_component(bytes)?;
        self.store(&path, &compiled)?;
        Ok(path)
    }

    fn load(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let entry = std::fs::read(path).ok()?;
        let (recorded, compiled) = entry.split_at_checked(DIGEST_LEN)?;
        if digest::digest(&digest::SHA256, compiled).as_ref() != recorded {
            tracing::warn!(path = %path.display(), "compile cache entry is damaged; compiling again");
            return None;
        }
        match deserialize(engine, compiled) {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "compile cache entry is unusable; compiling again");
                None
            }
        }
    }

    fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        // Written aside and renamed, so a reader never sees half a file.
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(digest::digest(&digest::SHA256, compiled).as_ref())?;
        file.write_all(compiled)?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|err| err.error)?;
        Ok(())
    }
}

/// Turns a compiled artifact back into a component.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` trusts its input to be what `precompile_component`
    // produced, as native code is loaded from it. It is given either the output of
    // `precompile_component` just now, or a cache entry whose sha256, recorded when this code
    // wrote it, still matches; the cache directory is the gateway's own.
    unsafe { Component::deserialize(engine, compiled) }
}

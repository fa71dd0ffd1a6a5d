//! `secrets-gateway plugin …`: what a plugin author and an operator need before a plugin goes
//! into the configuration: its digest and imports, its compiled form in the cache, and one step
//! run against a target by hand.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::{Args, Subcommand};
use serde::Deserialize;

use crate::config::{Config, LogFormat};
use crate::plugins::{
    Grant, HostSettings, PluginHost, PluginSpec, RotationContext, SecretLookup, SecretVersion,
    Step, WIT_PACKAGE,
};
use crate::store::SecretText;

/// The exit code of `run-step` when the step itself failed (the plugin loaded and ran); 1 is
/// any other error and 2 a usage error, as clap has it.
pub const STEP_FAILED_EXIT: u8 = 3;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check that FILE is a component of the rotator world; print its sha256, imports and
    /// exports.
    Check { file: PathBuf },
    /// Compile each FILE into the compile cache, so that the gateway's start takes it from
    /// there.
    Precompile {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Run one step of FILE with the context in a JSON file, granted what the flags say.
    RunStep(RunStepArgs),
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Use the compile cache of this gateway configuration (`plugins.cache_dir`).
    #[arg(long, value_name = "FILE", conflicts_with = "cache_dir")]
    config: Option<PathBuf>,
    /// Use this compile cache directory.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

impl CacheArgs {
    fn dir(&self) -> anyhow::Result<Option<PathBuf>> {
        Ok(match (&self.config, &self.cache_dir) {
            (Some(config), _) => Some(Config::load(config)?.plugins.cache_dir),
            (None, Some(dir)) => Some(dir.clone()),
            (None, None) => None,
        })
    }
}

#[derive(Debug, Args)]
pub struct RunStepArgs {
    file: PathBuf,
    /// createSecret, setSecret, testSecret or finishSecret (or create-secret, …).
    #[arg(long, value_parser = parse_step)]
    step: Step,
    /// A JSON file: secret_id, token, current/pending/previous ({version_id, stages,
    /// secret_string}), and `secrets`, an object of the other secrets (the master) by id.
    #[arg(long, value_name = "FILE")]
    context: PathBuf,
    /// A setting passed to the plugin; repeatable.
    #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// A host or host:port SQL connections may go to; repeatable.
    #[arg(long = "sql-host", value_name = "HOST")]
    sql_hosts: Vec<String>,
    /// A host or host:port HTTP requests may go to; repeatable.
    #[arg(long = "http-host", value_name = "HOST")]
    http_hosts: Vec<String>,
    /// A master secret (name, ARN, wildcards) the plugin may use; repeatable.
    #[arg(long = "master-secret", value_name = "PATTERN")]
    master_secrets: Vec<String>,
    /// Let the plugin read the master secret's value itself.
    #[arg(long)]
    master_secret_read: bool,
    #[arg(long, default_value_t = PluginSpec::DEFAULT_MEMORY_MIB)]
    memory_mib: u32,
    #[arg(long, default_value_t = PluginSpec::DEFAULT_STEP_TIMEOUT.as_secs())]
    timeout_seconds: u64,
    #[command(flatten)]
    cache: CacheArgs,
}

/// A step that ran and failed, for the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{step} failed: {message}")]
pub struct StepFailed {
    step: Step,
    message: String,
}

pub fn run(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Check { file } => check(&file),
        PluginCommand::Precompile { files, cache } => {
            let dir = cache.dir()?.ok_or_else(|| {
                anyhow!("say where the compile cache is: --config FILE or --cache-dir DIR")
            })?;
            let host = host(Some(dir))?;
            for file in files {
                let started = std::time::Instant::now();
                let path = host.precompile(&file)?;
                println!(
                    "{} ({:.0} ms)",
                    path.display(),
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
            Ok(())
        }
        PluginCommand::RunStep(args) => run_step(args),
    }
}

fn host(cache_dir: Option<PathBuf>) -> anyhow::Result<PluginHost> {
    let settings = HostSettings {
        cache_dir,
        max_concurrent_steps: 1,
        ..HostSettings::default()
    };
    Ok(PluginHost::new(&settings)?)
}

fn check(file: &Path) -> anyhow::Result<()> {
    let report = host(None)?.inspect(file)?;
    println!("{}: a {WIT_PACKAGE} rotator", file.display());
    println!("sha256  {}", report.sha256);
    println!("size    {} bytes", report.size);
    println!("imports");
    for (import, needs) in &report.imports {
        match needs {
            Some(needs) => println!("  {import}  (needs {needs})"),
            None => println!("  {import}"),
        }
    }
    println!("exports");
    for export in &report.exports {
        println!("  {export}");
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextFile {
    secret_id: String,
    #[serde(default)]
    secret_arn: Option<String>,
    token: String,
    #[serde(default)]
    current: Option<VersionFile>,
    #[serde(default)]
    pending: Option<VersionFile>,
    #[serde(default)]
    previous: Option<VersionFile>,
    #[serde(default)]
    secrets: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFile {
    version_id: String,
    #[serde(default)]
    stages: Vec<String>,
    secret_string: String,
}

impl VersionFile {
    fn into_version(self) -> SecretVersion {
        SecretVersion {
            version_id: self.version_id,
            stages: self.stages,
            secret_string: SecretText::new(self.secret_string),
        }
    }
}

/// The `secrets` of a context file, for the master secret.
struct FileSecrets(HashMap<String, SecretText>);

#[async_trait::async_trait]
impl SecretLookup for FileSecrets {
    async fn secret_string(&self, id: &str) -> Result<SecretText, String> {
        self.0
            .get(id)
            .cloned()
            .ok_or_else(|| format!("{id} is not among the context file's secrets"))
    }
}

fn run_step(args: RunStepArgs) -> anyhow::Result<()> {
    super::init_logging(LogFormat::Text, "info");
    let text = std::fs::read_to_string(&args.context)
        .with_context(|| format!("cannot read {}", args.context.display()))?;
    let file: ContextFile = serde_json::from_str(&text)
        .map_err(|err| anyhow!("{}: not a context file: {err}", args.context.display()))?;
    let patterns = |hosts: &[String]| {
        hosts
            .iter()
            .map(|host| host.parse().map_err(|err: String| anyhow!(err)))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let spec = PluginSpec {
        name: plugin_name(&args.file),
        file: args.file.clone(),
        sha256: None,
        memory_mib: args.memory_mib,
        step_timeout: Duration::from_secs(args.timeout_seconds),
        grant: Grant {
            sql_hosts: patterns(&args.sql_hosts)?,
            http_hosts: patterns(&args.http_hosts)?,
            master_secrets: args.master_secrets,
            master_secret_read: args.master_secret_read,
        },
        settings: args.settings,
    };
    let plugin = host(args.cache.dir()?)?.load(spec)?;
    let context = RotationContext {
        secret_arn: file.secret_arn.unwrap_or_else(|| file.secret_id.clone()),
        secret_id: file.secret_id,
        token: file.token,
        current: file.current.map(VersionFile::into_version),
        pending: file.pending.map(VersionFile::into_version),
        previous: file.previous.map(VersionFile::into_version),
    };
    let secrets = FileSecrets(
        file.secrets
            .into_iter()
            .map(|(id, secret)| (id, SecretText::new(secret)))
            .collect(),
    );
    let runtime = super::runtime(Some(1))?;
    let outcome = runtime.block_on(plugin.run(args.step, &context, Arc::new(secrets)));
    match outcome {
        // The value the plugin made is what the caller asked for: print it, as `get` would.
        Ok(Some(created)) => println!("{}", created.expose()),
        Ok(None) => {}
        Err(failure) => {
            return Err(StepFailed {
                step: args.step,
                message: failure.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

fn plugin_name(file: &Path) -> String {
    file.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into())
}

fn parse_step(text: &str) -> Result<Step, String> {
    Step::parse(text).ok_or_else(|| {
        format!("{text:?} is not createSecret, setSecret, testSecret or finishSecret")
    })
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

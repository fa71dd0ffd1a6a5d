//! The wasmtime host for rotation plugins: one engine with the pooling allocator and epoch
//! interruption, components compiled once and cached on disk, pre-instantiated per plugin, and
//! a fresh store per step with the plugin's memory limit, deadline and grant.
//!
//! The contract is the WIT package in `wit/`. The host links a plugin with the capabilities its
//! [`Grant`] allows and no others, so a plugin importing more is refused by [`PluginHost::load`]
//! with the import named; at run time each capability checks its allowlist at the door. The
//! WASI interfaces language runtimes need are linked with nothing ambient behind them: no
//! preopens, no environment, no arguments, an empty stdin, sockets off.
//!
//! A step that traps, runs past its deadline, exhausts its memory, calls for something it was
//! not granted or returns garbage fails with a [`StepFailure`] saying so; the gateway around it
//! is not affected.

mod bindings;
mod cache;
mod grant;
mod http;
mod log;
mod master;
mod password;
mod redact;
mod sql;
mod state;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use tokio::sync::Semaphore;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use self::bindings::{RotatorPre, types as wit};
use self::state::HostState;
use crate::store::SecretText;

pub use self::cache::CompiledFrom;
pub use self::grant::{Grant, HostPattern};
pub use self::sql::{quote_identifier, quote_literal};

/// The WIT package plugins are built against.
pub const WIT_PACKAGE: &str = "secrets-gateway:rotation@0.1.0";

/// How often the epoch advances; deadlines are this precise.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The most a createSecret may return: Secrets Manager's limit on a SecretString.
const MAX_SECRET_STRING_BYTES: usize = 65_536;
/// Plugin error messages are cut to this length.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Settings of the host as a whole.
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// Where compiled components are kept; none compiles at every load.
    pub cache_dir: Option<PathBuf>,
    /// The most memory any plugin may be given, in MiB; each plugin's own limit is at most this.
    pub max_memory_mib: u32,
    /// Steps that may run at once, across all plugins; more wait their turn.
    pub max_concurrent_steps: u32,
}

impl Default for HostSettings {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_memory_mib: 256,
            max_concurrent_steps: 16,
        }
    }
}

/// A plugin as configured.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// The name rotations refer to it by (`plugin:NAME`).
    pub name: String,
    pub file: PathBuf,
    /// The component's sha256 in hex; a file with another digest is refused.
    pub sha256: Option<String>,
    pub memory_mib: u32,
    pub step_timeout: Duration,
    pub grant: Grant,
    /// Passed to every step as the context's `settings`.
    pub settings: Vec<(String, String)>,
}

impl PluginSpec {
    pub const DEFAULT_MEMORY_MIB: u32 = 64;
    pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);
}

/// Why a plugin cannot be loaded. Each message names the plugin and says who must act.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin {name}: cannot read {}", file.display())]
    Read {
        name: String,
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin {name}: {} has sha256 {actual}, but the configuration pins {expected}", file.display())]
    WrongDigest {
        name: String,
        file: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("plugin {name}: memory_mib {memory_mib} is over plugins.max_memory_mib ({max})")]
    MemoryOverLimit {
        name: String,
        memory_mib: u32,
        max: u32,
    },
    #[error("plugin {name}: not a WebAssembly component wasmtime can compile: {problem}")]
    Compile { name: String, problem: String },
    #[error("plugin {name}: imports {import}, which the gateway does not offer")]
    UnknownImport { name: String, import: String },
    #[error("plugin {name}: imports {import}, which its grant does not allow ({needs})")]
    NotGranted {
        name: String,
        import: String,
        needs: &'static str,
    },
    #[error("plugin {name}: does not fit the {WIT_PACKAGE} rotator world: {problem}")]
    WrongWorld { name: String, problem: String },
}

/// The engine failed to start, which only a broken configuration of this code causes.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The four steps of a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    /// The name Secrets Manager's rotation functions use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSecret => "createSecret",
            Self::SetSecret => "setSecret",
            Self::TestSecret => "testSecret",
            Self::FinishSecret => "finishSecret",
        }
    }

    /// Reads `createSecret` or `create-secret`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let squashed = text.replace('-', "").to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|step| step.as_str().to_ascii_lowercase() == squashed)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of the rotated secret, as a step sees it.
#[derive(Clone, Debug)]
pub struct SecretVersion {
    pub version_id: String,
    pub stages: Vec<String>,
    pub secret_string: SecretText,
}

/// What a step is told about its rotation.
#[derive(Clone, Debug)]
pub struct RotationContext {
    pub secret_id: String,
    pub secret_arn: String,
    pub token: String,
    pub current: Option<SecretVersion>,
    pub pending: Option<SecretVersion>,
    pub previous: Option<SecretVersion>,
}

/// Reads other secrets for a step: the master secret a rotated secret's `masterarn` names.
/// The rotation engine implements it over the store; the host calls it only after the grant
/// allowed the id.
#[async_trait::async_trait]
pub trait SecretLookup: Send + Sync {
    async fn secret_string(&self, id: &str) -> Result<SecretText, String>;
}

/// A lookup that finds nothing, for steps that have no store behind them.
pub struct NoSecrets;

#[async_trait::async_trait]
impl SecretLookup for NoSecrets {
    async fn secret_string(&self, id: &str) -> Result<SecretText, String> {
        Err(format!("{id} cannot be looked up here"))
    }
}

/// Why a step failed. Messages from the plugin are redacted and cut before they get here.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    #[error("the plugin reports a retryable error: {0}")]
    Retryable(String),
    #[error("the plugin reports a fatal error: {0}")]
    Fatal(String),
    #[error("the plugin exceeded its memory limit of {limit_mib} MiB")]
    OutOfMemory { limit_mib: u32 },
    #[error("the plugin did not finish within its step timeout of {0:?}")]
    Deadline(Duration),
    #[error("the plugin crashed: {0}")]
    Trapped(String),
    #[error("the plugin returned an invalid result: {0}")]
    InvalidOutput(String),
    #[error("the host could not run the plugin: {0}")]
    Host(String),
}

impl StepFailure {
    /// Whether running the same step again may succeed: the plugin said so, or it ran out of
    /// time (a slow target). A crash or an invalid result repeats.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_) | Self::Deadline(_))
    }
}

/// The engine, the compile cache and the limit on concurrent steps, shared by every plugin.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    engine: Engine,
    cache: Option<cache::CompileCache>,
    steps: Arc<Semaphore>,
    max_memory_mib: u32,
}

impl PluginHost {
    pub fn new(settings: &HostSettings) -> Result<Self, EngineError> {
        let concurrent = settings.max_concurrent_steps.max(1);
        let max_memory = settings.max_memory_mib as usize * 1024 * 1024;
        let mut pool = PoolingAllocationConfig::new();
        // Components from componentize-py hold a dozen core instances and a few memories.
        pool.total_component_instances(concurrent)
            .total_core_instances(concurrent * 16)
            .total_memories(concurrent * 4)
            .total_tables(concurrent * 16)
            .total_stacks(concurrent)
            .max_memory_size(max_memory)
            .table_elements(100_000);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|err| EngineError(format!("{err:#}")))?;
        let cache = match &settings.cache_dir {
            Some(dir) => Some(cache::CompileCache::open(dir, &engine).map_err(|err| {
                EngineError(format!(
                    "cannot open the compile cache {}: {err}",
                    dir.display()
                ))
            })?),
            None => None,
        };
        spawn_epoch_ticker(&engine);
        Ok(Self {
            inner: Arc::new(HostInner {
                engine,
                cache,
                steps: Arc::new(Semaphore::new(concurrent as usize)),
                max_memory_mib: settings.max_memory_mib,
            }),
        })
    }

    /// Loads a plugin: checks its pin and its imports against its grant, compiles it (or takes
    /// it from the cache) and pre-instantiates it.
    pub fn load(&self, spec: PluginSpec) -> Result<Plugin, LoadError> {
        let name = spec.name.clone();
        if spec.memory_mib > self.inner.max_memory_mib {
            return Err(LoadError::MemoryOverLimit {
                name,
                memory_mib: spec.memory_mib,
                max: self.inner.max_memory_mib,
            });
        }
        let started = Instant::now();
        let bytes = read_component(&name, &spec.file)?;
        let sha256 = sha256_hex(&bytes);
        if let Some(expected) = &spec.sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(LoadError::WrongDigest {
                name,
                file: spec.file,
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let (component, compiled_from) = self.compile(&name, &sha256, &bytes)?;
        let pre = self.pre_instantiate(&name, &component, &spec.grant)?;
        tracing::info!(
            plugin = %name,
            sha256 = %sha256,
            compiled_from = ?compiled_from,
            load_ms = started.elapsed().as_secs_f64() * 1e3,
            "plugin loaded"
        );
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                name: name.into(),
                sha256,
                compiled_from,
                pre,
                memory_limit_mib: spec.memory_mib,
                step_timeout: spec.step_timeout,
                grant: Arc::new(spec.grant),
                settings: spec.settings,
                host: Arc::clone(&self.inner),
            }),
        })
    }

    /// What `plugin check` prints: the digest, the imports with what each needs, and the
    /// exports, after checking the component against the world with every capability granted.
    pub fn inspect(&self, file: &Path) -> Result<ComponentReport, LoadError> {
        let name = file.display().to_string();
        let bytes = read_component(&name, file)?;
        let sha256 = sha256_hex(&bytes);
        let (component, _) = self.compile(&name, &sha256, &bytes)?;
        let everything = Grant {
            sql_hosts: vec!["any".parse().expect("a valid pattern")],
            http_hosts: vec!["any".parse().expect("a valid pattern")],
            master_secrets: vec!["*".into()],
            master_secret_read: true,
        };
        self.pre_instantiate(&name, &component, &everything)?;
        let ty = component.component_type();
        let engine = &self.inner.engine;
        let imports = ty
            .imports(engine)
            .map(|(import, _)| {
                let needs = match classify(import) {
                    Import::Wasi | Import::Always => None,
                    Import::Granted(needs) => Some(needs),
                    Import::Unknown => Some("not offered"),
                };
                (import.to_owned(), needs)
            })
            .collect();
        let exports = ty
            .exports(engine)
            .map(|(export, _)| export.to_owned())
            .collect();
        Ok(ComponentReport {
            sha256,
            size: bytes.len(),
            imports,
            exports,
        })
    }

    /// Compiles `file` into the compile cache; returns the entry's path.
    pub fn precompile(&self, file: &Path) -> Result<PathBuf, LoadError> {
        let name = file.display().to_string();
        let bytes = read_component(&name, file)?;
        let cache = self
            .inner
            .cache
            .as_ref()
            .ok_or_else(|| LoadError::Compile {
                name: name.clone(),
                problem: "no compile cache directory is configured".into(),
            })?;
        cache
            .precompile(&self.inner.engine, &sha256_hex(&bytes), &bytes)
            .map_err(|err| LoadError::Compile {
                name,
                problem: format!("{err:#}"),
            })
    }

    fn compile(
        &self,
        name: &str,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(Component, CompiledFrom), LoadError> {
        let engine = &self.inner.engine;
        let compiled = match &self.inner.cache {
            Some(cache) => cache.load_or_compile(engine, sha256, bytes),
            None => {
                Component::new(engine, bytes).map(|component| (component, CompiledFrom::Compiler))
            }
        };
        compiled.map_err(|err| LoadError::Compile {
            name: name.to_owned(),
            problem: format!("{err:#}"),
        })
    }

    /// Links `component` with WASI and the capabilities `grant` allows, and no others.
    fn pre_instantiate(
        &self,
        name: &str,
        component: &Component,
        grant: &Grant,
    ) -> Result<RotatorPre<HostState>, LoadError> {
        let engine = &self.inner.engine;
        for (import, _) in component.component_type().imports(engine) {
            match classify(import) {
                Import::Wasi | Import::Always => {}
                Import::Granted(needs) if !granted(grant, import) => {
                    return Err(LoadError::NotGranted {
                        name: name.to_owned(),
                        import: import.to_owned(),
                        needs,
                    });
                }
                Import::Granted(_) => {}
                Import::Unknown => {
                    return Err(LoadError::UnknownImport {
                        name: name.to_owned(),
                        import: import.to_owned(),
                    });
                }
            }
        }
        let wrong_world = |err: wasmtime::Error| LoadError::WrongWorld {
            name: name.to_owned(),
            problem: format!("{err:#}"),
        };
        let linker = linker(engine, grant).map_err(wrong_world)?;
        let pre = linker.instantiate_pre(component).map_err(wrong_world)?;
        RotatorPre::new(pre).map_err(wrong_world)
    }

    /// The engine, for benchmarks that compile components themselves.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

/// What `plugin check` learnt about a component.
#[derive(Clone, Debug)]
pub struct ComponentReport {
    pub sha256: String,
    pub size: usize,
    /// Each import with what it needs beyond the base (a grant, or "not offered").
    pub imports: Vec<(String, Option<&'static str>)>,
    pub exports: Vec<String>,
}

enum Import {
    /// A WASI interface that language runtimes import; linked with nothing ambient.
    Wasi,
    /// A capability every plugin has: logging, passwords, the shared types.
    Always,
    /// A capability that needs the grant named.
    Granted(&'static str),
    Unknown,
}

/// Sorts an import by its interface name, without the version.
fn classify(import: &str) -> Import {
    let interface = import.split('@').next().unwrap_or(import);
    match interface {
        "secrets-gateway:rotation/types"
        | "secrets-gateway:rotation/log"
        | "secrets-gateway:rotation/password" => Import::Always,
        "secrets-gateway:rotation/sql" => Import::Granted("sql_hosts"),
        "secrets-gateway:rotation/master-secret" => {
            Import::Granted("master_secret_read and master_secrets")
        }
        "wasi:http/outgoing-handler" => Import::Granted("http_hosts"),
        // Types only; nothing can be sent without the outgoing handler.
        "wasi:http/types" => Import::Wasi,
        _ if [
            "wasi:cli/",
            "wasi:clocks/",
            "wasi:io/",
            "wasi:random/",
            "wasi:filesystem/",
            "wasi:sockets/",
        ]
        .iter()
        .any(|prefix| interface.starts_with(prefix)) =>
        {
            Import::Wasi
        }
        _ => Import::Unknown,
    }
}

fn granted(grant: &Grant, import: &str) -> bool {
    let interface = import.split('@').next().unwrap_or(import);
    match interface {
        "secrets-gateway:rotation/sql" => !grant.sql_hosts.is_empty(),
        "secrets-gateway:rotation/master-secret" => {
            grant.master_secret_read && !grant.master_secrets.is_empty()
        }
        "wasi:http/outgoing-handler" => !grant.http_hosts.is_empty(),
        _ => true,
    }
}

fn linker(engine: &Engine, grant: &Grant) -> wasmtime::Result<Linker<HostState>> {
    use wasmtime_wasi_http::p2::bindings::{LinkOptions, http as wasi_http};

    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    let options = LinkOptions::default();
    wasi_http::types::add_to_linker::<_, wasmtime_wasi_http::WasiHttp>(
        &mut linker,
        &options.into(),
        <HostState as wasmtime_wasi_http::WasiHttpView>::http,
    )?;
    if !grant.http_hosts.is_empty() {
        wasi_http::outgoing_handler::add_to_linker::<_, wasmtime_wasi_http::WasiHttp>(
            &mut linker,
            <HostState as wasmtime_wasi_http::WasiHttpView>::http,
        )?;
    }
    bindings::log::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)?;
    bindings::password::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)?;
    if !grant.sql_hosts.is_empty() {
        bindings::sql::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)?;
    }
    if grant.master_secret_read && !grant.master_secrets.is_empty() {
        bindings::master_secret::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| {
            state
        })?;
    }
    Ok(linker)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("a thread can be spawned");
}

fn read_component(name: &str, file: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(file).map_err(|source| LoadError::Read {
        name: name.to_owned(),
        file: file.to_owned(),
        source,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

/// The sha256 of a component file, in hex, as the `sha256` pin of its configuration.
pub fn file_sha256(file: &Path) -> std::io::Result<String> {
    Ok(sha256_hex(&std::fs::read(file)?))
}

/// A loaded plugin, cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: Arc<str>,
    sha256: String,
    compiled_from: CompiledFrom,
    pre: RotatorPre<HostState>,
    memory_limit_mib: u32,
    step_timeout: Duration,
    grant: Arc<Grant>,
    settings: Vec<(String, String)>,
    host: Arc<HostInner>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("sha256", &self.inner.sha256)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// How long one step may run before it is stopped.
    pub fn step_timeout(&self) -> Duration {
        self.inner.step_timeout
    }

    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    pub fn compiled_from(&self) -> CompiledFrom {
        self.inner.compiled_from
    }

    /// Runs one step in a fresh instance. For createSecret, `Ok(Some(value))` is the pending
    /// value the plugin made; every other step returns `Ok(None)`.
    pub async fn run(
        &self,
        step: Step,
        context: &RotationContext,
        lookup: Arc<dyn SecretLookup>,
    ) -> Result<Option<SecretText>, StepFailure> {
        let plugin = &*self.inner;
        let started = Instant::now();
        let _permit = plugin
            .host
            .steps
            .acquire()
            .await
            .map_err(|_| StepFailure::Host("the plugin host is shutting down".into()))?;
        let memory_limit = plugin.memory_limit_mib as usize * 1024 * 1024;
        let state = HostState::new(
            Arc::clone(&plugin.name),
            step,
            Arc::clone(&plugin.grant),
            memory_limit,
            context,
            lookup,
        );
        let (stdout, stderr) = (state.stdout.clone(), state.stderr.clone());
        let mut store = Store::new(&plugin.host.engine, state);
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_trap();
        let ticks = plugin
            .step_timeout
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis()) as u64;
        store.set_epoch_deadline(ticks.max(1));

        let wit_context = self.wit_context(context);
        let call = async {
            let rotator = plugin.pre.instantiate_async(&mut store).await?;
            let steps = rotator.secrets_gateway_rotation_steps();
            Ok::<_, wasmtime::Error>(match step {
                Step::CreateSecret => steps.call_create_secret(&mut store, &wit_context).await?,
                Step::SetSecret => steps
                    .call_set_secret(&mut store, &wit_context)
                    .await?
                    .map(|()| None),
                Step::TestSecret => steps
                    .call_test_secret(&mut store, &wit_context)
                    .await?
                    .map(|()| None),
                Step::FinishSecret => steps
                    .call_finish_secret(&mut store, &wit_context)
                    .await?
                    .map(|()| None),
            })
        };
        // Epoch interruption cannot stop a guest waiting in a host call (a slow database), so
        // the whole step also runs under a timer, a little later than the epoch deadline.
        let outcome = tokio::time::timeout(plugin.step_timeout + 5 * EPOCH_TICK, call).await;

        let state = store.data();
        for (pipe, level) in [
            (&stdout, bindings::log::Level::Info),
            (&stderr, bindings::log::Level::Warn),
        ] {
            let output = pipe.contents();
            for line in String::from_utf8_lossy(&output).lines() {
                if !line.trim().is_empty() {
                    log::emit(&state.scope, level, line);
                }
            }
        }
        let result = match outcome {
            Err(_elapsed) => Err(StepFailure::Deadline(plugin.step_timeout)),
            Ok(Err(err)) => Err(self.classify_error(&err, state, &stderr.contents())),
            Ok(Ok(Err(wit::StepError::Retryable(message)))) if !state.scope.refusals.any() => {
                Err(StepFailure::Retryable(self.explain(state, &message)))
            }
            // A refused request is refused again on every retry, as the grant stays the same,
            // whatever the plugin made of the failure (JavaScript's fetch cannot tell it apart
            // from a network error).
            Ok(Ok(Err(wit::StepError::Retryable(message) | wit::StepError::Fatal(message)))) => {
                Err(StepFailure::Fatal(self.explain(state, &message)))
            }
            Ok(Ok(Ok(created))) => check_created(context, created),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(_) => {
                tracing::debug!(plugin = %plugin.name, %step, secret = %context.secret_id, elapsed_ms, "step succeeded")
            }
            Err(failure) => {
                tracing::warn!(plugin = %plugin.name, %step, secret = %context.secret_id, elapsed_ms, error = %failure, "step failed")
            }
        }
        result
    }

    fn wit_context(&self, context: &RotationContext) -> wit::Context {
        let version = |version: &Option<SecretVersion>| {
            version.as_ref().map(|version| wit::SecretVersion {
                version_id: version.version_id.clone(),
                stages: version.stages.clone(),
                secret_string: version.secret_string.expose().to_owned(),
            })
        };
        wit::Context {
            secret_id: context.secret_id.clone(),
            secret_arn: context.secret_arn.clone(),
            token: context.token.clone(),
            current: version(&context.current),
            pending: version(&context.pending),
            previous: version(&context.previous),
            settings: self.inner.settings.clone(),
        }
    }

    /// A plugin's message, redacted and cut, with the refusals that may explain it.
    fn explain(&self, state: &HostState, message: &str) -> String {
        let mut message = state
            .scope
            .redactor
            .redact(log::truncate(message, MAX_MESSAGE_BYTES));
        if let Some(refused) = state.scope.refusals.summary() {
            message.push_str(&format!(" (the host refused: {refused})"));
        }
        message
    }

    fn classify_error(
        &self,
        err: &wasmtime::Error,
        state: &HostState,
        stderr: &[u8],
    ) -> StepFailure {
        let Some(trap) = err.downcast_ref::<Trap>() else {
            return StepFailure::Host(self.explain(state, &format!("{err:#}")));
        };
        if *trap == Trap::Interrupt {
            return StepFailure::Deadline(self.inner.step_timeout);
        }
        if state.memory.refused {
            return StepFailure::OutOfMemory {
                limit_mib: self.inner.memory_limit_mib,
            };
        }
        // A Rust guest says why it panicked on stderr just before the trap, then adds a note
        // about backtraces.
        let stderr = String::from_utf8_lossy(stderr);
        let last_words = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty() && !line.starts_with("note: "));
        let message = match last_words {
            Some(line) => format!("{trap} ({})", line.trim()),
            None => trap.to_string(),
        };
        StepFailure::Trapped(self.explain(state, &message))
    }
}

/// What createSecret returned, if anything, checked as a SecretString: 1 to 65,536 bytes, and a
/// JSON object when the current version is one. (The other steps return nothing by their type.)
fn check_created(
    context: &RotationContext,
    created: Option<String>,
) -> Result<Option<SecretText>, StepFailure> {
    let Some(created) = created else {
        return Ok(None);
    };
    let created = SecretText::new(created);
    if created.is_empty() || created.len() > MAX_SECRET_STRING_BYTES {
        return Err(StepFailure::InvalidOutput(format!(
            "createSecret returned a value of {} bytes; a SecretString holds 1 to {MAX_SECRET_STRING_BYTES}",
            created.len()
        )));
    }
    let is_object =
        |text: &str| matches!(serde_json::from_str(text), Ok(serde_json::Value::Object(_)));
    let current_is_object = context
        .current
        .as_ref()
        .is_some_and(|current| is_object(current.secret_string.expose()));
    if current_is_object && !is_object(created.expose()) {
        return Err(StepFailure::InvalidOutput(
            "createSecret returned a value that is not a JSON object, but the current \
             version is one"
                .into(),
        ));
    }
    Ok(Some(created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_in_both_spellings() {
        assert_eq!(Step::parse("setSecret"), Some(Step::SetSecret));
        assert_eq!(Step::parse("set-secret"), Some(Step::SetSecret));
        assert_eq!(Step::parse("FINISHSECRET"), Some(Step::FinishSecret));
        assert_eq!(Step::parse("rotate"), None);
    }

    #[test]
    fn imports_are_sorted_by_what_they_need() {
        assert!(matches!(
            classify("wasi:cli/environment@0.2.6"),
            Import::Wasi
        ));
        assert!(matches!(
            classify("secrets-gateway:rotation/log@0.1.0"),
            Import::Always
        ));
        assert!(matches!(
            classify("secrets-gateway:rotation/sql@0.1.0"),
            Import::Granted("sql_hosts")
        ));
        assert!(matches!(
            classify("wasi:http/outgoing-handler@0.2.0"),
            Import::Granted("http_hosts")
        ));
        assert!(matches!(classify("example:escape/shell"), Import::Unknown));
    }
}

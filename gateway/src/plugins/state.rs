//! What a plugin's store holds during one step: the WASI context with nothing ambient, the
//! resource table, the memory limit and the step's scope (grant, credentials, redaction).

use std::sync::{Arc, Mutex};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::http::HttpGate;
use super::redact::Redactor;
use super::{Grant, RotationContext, SecretLookup, Step};
use crate::store::SecretText;

/// How much of a plugin's stdout and stderr is kept for the log, each.
pub(super) const OUTPUT_CAPTURE_BYTES: usize = 64 * 1024;

pub(super) struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub http: WasiHttpCtx,
    pub http_gate: HttpGate,
    pub memory: MemoryLimit,
    pub scope: StepScope,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

/// What the capabilities of one step may use and must remember.
pub(super) struct StepScope {
    pub plugin: Arc<str>,
    pub step: Step,
    pub secret_id: String,
    pub grant: Arc<Grant>,
    pub current: Option<SecretText>,
    pub pending: Option<SecretText>,
    pub previous: Option<SecretText>,
    pub lookup: Arc<dyn SecretLookup>,
    /// The master secret, once a capability has fetched it.
    pub master: Option<SecretText>,
    pub redactor: Redactor,
    pub open_connections: usize,
    pub refusals: Arc<Refusals>,
}

impl HostState {
    pub fn new(
        plugin: Arc<str>,
        step: Step,
        grant: Arc<Grant>,
        memory_limit: usize,
        context: &RotationContext,
        lookup: Arc<dyn SecretLookup>,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPTURE_BYTES);
        // The builder's defaults are the sandbox: no preopens, no environment, no arguments, an
        // empty stdin; sockets are turned off on top of denying every address.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut redactor = Redactor::default();
        for version in [&context.current, &context.pending, &context.previous]
            .into_iter()
            .flatten()
        {
            redactor.learn_secret_string(version.secret_string.expose());
        }
        let refusals = Arc::new(Refusals {
            plugin: Arc::clone(&plugin),
            step,
            secret_id: context.secret_id.clone(),
            refused: Mutex::new(Vec::new()),
        });
        let secret_string = |version: &Option<super::SecretVersion>| {
            version
                .as_ref()
                .map(|version| version.secret_string.clone())
        };
        Self {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_gate: HttpGate::new(Arc::clone(&grant), Arc::clone(&refusals)),
            memory: MemoryLimit::new(memory_limit),
            scope: StepScope {
                plugin,
                step,
                secret_id: context.secret_id.clone(),
                grant,
                current: secret_string(&context.current),
                pending: secret_string(&context.pending),
                previous: secret_string(&context.previous),
                lookup,
                master: None,
                redactor,
                open_connections: 0,
                refusals,
            },
            stdout,
            stderr,
        }
    }
}

/// Requests the host refused a step for lack of a grant: logged as they happen, and kept to
/// explain the step's failure.
pub(super) struct Refusals {
    plugin: Arc<str>,
    step: Step,
    secret_id: String,
    refused: Mutex<Vec<String>>,
}

impl Refusals {
    pub fn refuse(&self, what: String) {
        tracing::warn!(plugin = %self.plugin, step = %self.step, secret = %self.secret_id, "refused: {what}");
        self.refused.lock().expect("not poisoned").push(what);
    }

    pub fn any(&self) -> bool {
        !self.refused.lock().expect("not poisoned").is_empty()
    }

    /// The refusals so far, `; `-separated; none is `None`.
    pub fn summary(&self) -> Option<String> {
        let refused = self.refused.lock().expect("not poisoned");
        (!refused.is_empty()).then(|| refused.join("; "))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_gate,
        }
    }
}

/// The plugin's memory limit. A refused growth is remembered, so that the trap that usually
/// follows (an allocator aborting) is reported as what it is.
pub(super) struct MemoryLimit {
    limit: usize,
    pub refused: bool,
}

impl MemoryLimit {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            refused: false,
        }
    }
}

/// Table growth is bounded by the pooling allocator's `table_elements`.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

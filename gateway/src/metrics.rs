//! Counters and histograms, exported in the Prometheus text format at `/metrics`.
//!
//! Labels carry operations, surfaces and outcomes only: never a secret name, so the cardinality
//! stays bounded and the metrics reveal nothing about which secrets exist.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::operation::Operation;

/// The wire surfaces requests arrive on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    SecretsManager,
    Agent,
    Grpc,
}

impl Surface {
    const ALL: [Surface; 3] = [Self::SecretsManager, Self::Agent, Self::Grpc];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretsManager => "secretsmanager",
            Self::Agent => "agent",
            Self::Grpc => "grpc",
        }
    }
}

/// The metric handles of one (surface, operation) pair, resolved once so the request path
/// neither hashes label sets nor takes the family's lock.
struct Resolved {
    ok: Counter,
    latency: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub surface: &'static str,
    pub operation: &'static str,
    /// The error code, or `ok`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SurfaceLabels {
    pub surface: &'static str,
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// What was reloaded: `policy` or `tls`.
    pub what: &'static str,
    /// `ok` or `rejected` (the material in force was kept).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RotationLabels {
    pub plugin: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub plugin: String,
    pub step: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<SurfaceLabels, Histogram>,
    pub backend_calls: Family<OperationLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_refreshes: Counter,
    pub cache_stale: Counter,
    pub audit_failures: Counter,
    pub reloads: Family<ReloadLabels, Counter>,
    pub rotations: Family<RotationLabels, Counter>,
    pub rotation_step_seconds: Family<StepLabels, Histogram>,
    resolved: Vec<Resolved>,
}

pub type SharedMetrics = Arc<Metrics>;

fn step_histogram() -> Histogram {
    // 100 µs to ~100 s: a step waits on a database or an API.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        100e-6, 2.5, 16,
    ))
}

fn latency_histogram() -> Histogram {
    // 50 µs to ~3 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        50e-6, 2.0, 16,
    ))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("secrets_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by surface, operation and outcome",
            requests.clone(),
        );
        let request_seconds = Family::<SurfaceLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Request latency",
            request_seconds.clone(),
        );
        let backend_calls = Family::<OperationLabels, Counter>::default();
        registry.register(
            "backend_calls",
            "Calls to the secret store backend",
            backend_calls.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "cache_hits",
            "Reads answered from the cache",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "cache_misses",
            "Reads that had to ask the backend",
            cache_misses.clone(),
        );
        let cache_refreshes = Counter::default();
        registry.register(
            "cache_refreshes",
            "Background refreshes ahead of expiry",
            cache_refreshes.clone(),
        );
        let cache_stale = Counter::default();
        registry.register(
            "cache_stale_served",
            "Expired values served because the backend failed",
            cache_stale.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "audit_failures",
            "Requests refused because their audit record could not be written",
            audit_failures.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "reloads",
            "Reloads of the policy and the TLS material",
            reloads.clone(),
        );
        let rotations = Family::<RotationLabels, Counter>::default();
        registry.register(
            "rotations",
            "Rotations by plugin and outcome (succeeded, failed)",
            rotations.clone(),
        );
        let rotation_step_seconds = Family::<StepLabels, Histogram>::new_with_constructor(
            step_histogram as fn() -> Histogram,
        );
        registry.register(
            "rotation_step_duration_seconds",
            "Rotation steps by plugin and step",
            rotation_step_seconds.clone(),
        );
        let mut resolved = Vec::with_capacity(Surface::ALL.len() * Operation::ALL.len());
        for surface in Surface::ALL {
            for operation in Operation::ALL {
                let (surface, operation) = (surface.as_str(), operation.as_str());
                let ok = RequestLabels {
                    surface,
                    operation,
                    outcome: "ok",
                };
                resolved.push(Resolved {
                    ok: requests.get_or_create(&ok).clone(),
                    latency: request_seconds
                        .get_or_create(&SurfaceLabels { surface, operation })
                        .clone(),
                });
            }
        }
        Self {
            registry,
            requests,
            request_seconds,
            backend_calls,
            cache_hits,
            cache_misses,
            cache_refreshes,
            cache_stale,
            audit_failures,
            reloads,
            rotations,
            rotation_step_seconds,
            resolved,
        }
    }

    /// A rotation ended: `outcome` is succeeded or failed.
    pub fn rotation(&self, plugin: &str, outcome: &'static str) {
        let labels = RotationLabels {
            plugin: plugin.to_owned(),
            outcome,
        };
        self.rotations.get_or_create(&labels).inc();
    }

    pub fn rotation_step(&self, plugin: &str, step: &'static str, seconds: f64) {
        let labels = StepLabels {
            plugin: plugin.to_owned(),
            step,
        };
        self.rotation_step_seconds
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Records one finished request: `outcome` is the error code of a failed one.
    pub fn request(
        &self,
        surface: Surface,
        operation: Option<Operation>,
        outcome: Result<(), &'static str>,
        seconds: f64,
    ) {
        let Some(operation) = operation else {
            let labels = RequestLabels {
                surface: surface.as_str(),
                operation: "Unknown",
                outcome: outcome.err().unwrap_or("ok"),
            };
            self.requests.get_or_create(&labels).inc();
            return;
        };
        let resolved = &self.resolved[surface as usize * Operation::ALL.len() + operation.index()];
        resolved.latency.observe(seconds);
        match outcome {
            Ok(()) => {
                resolved.ok.inc();
            }
            Err(code) => {
                let labels = RequestLabels {
                    surface: surface.as_str(),
                    operation: operation.as_str(),
                    outcome: code,
                };
                self.requests.get_or_create(&labels).inc();
            }
        }
    }

    pub fn backend_call(&self, operation: &'static str) {
        self.backend_calls
            .get_or_create(&OperationLabels { operation })
            .inc();
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

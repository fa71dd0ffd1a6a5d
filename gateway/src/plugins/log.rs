//! The log capability: a plugin's lines go to the gateway's log under its name and step,
//! redacted of every secret value the host knows of.

use super::bindings::log::{self, Level};
use super::state::{HostState, StepScope};

/// Longer lines are cut, so a plugin cannot flood the log with one call.
pub(super) const MAX_LINE_BYTES: usize = 4096;

impl log::Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        emit(&self.scope, level, &message);
        Ok(())
    }
}

/// Writes one line said by the plugin (a log call, or a line of its stdout or stderr).
pub(super) fn emit(scope: &StepScope, level: Level, message: &str) {
    let message = scope.redactor.redact(truncate(message, MAX_LINE_BYTES));
    let (plugin, step, secret) = (&*scope.plugin, scope.step, &scope.secret_id);
    match level {
        Level::Trace => tracing::trace!(plugin, %step, secret, "plugin: {message}"),
        Level::Debug => tracing::debug!(plugin, %step, secret, "plugin: {message}"),
        Level::Info => tracing::info!(plugin, %step, secret, "plugin: {message}"),
        Level::Warn => tracing::warn!(plugin, %step, secret, "plugin: {message}"),
        Level::Error => tracing::error!(plugin, %step, secret, "plugin: {message}"),
    }
}

/// The longest prefix of `text` within `max` bytes that ends on a character boundary.
pub(super) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

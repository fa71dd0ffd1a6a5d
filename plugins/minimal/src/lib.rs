//! The smallest useful rotation plugin. Every step succeeds without touching a target, and
//! createSecret leaves the new value to the gateway. The gateway's tests and benchmarks use it
//! to measure what a step costs by itself.

wit_bindgen::generate!({
    path: "../../wit",
    world: "rotator",
});

use exports::secrets_gateway::rotation::steps::Guest;
use secrets_gateway::rotation::log::{Level, log};
use secrets_gateway::rotation::types::{Context, StepError};

struct Minimal;

impl Guest for Minimal {
    fn create_secret(context: Context) -> Result<Option<String>, StepError> {
        log(
            Level::Debug,
            &format!("createSecret for {}", context.secret_id),
        );
        Ok(None)
    }

    fn set_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }

    fn test_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }

    fn finish_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }
}

export!(Minimal);

//! The password capability: GetRandomPassword's generator, for plugins that make their own
//! pending value. Every password handed out is learnt by the redactor.

use super::bindings::password::{self, Options};
use super::state::HostState;
use crate::store::password::PasswordPolicy;

impl password::Host for HostState {
    fn generate(&mut self, options: Options) -> wasmtime::Result<Result<String, String>> {
        let length = options.length.unwrap_or(32);
        if !(1..=4096).contains(&length) {
            return Ok(Err(format!("length {length} is not between 1 and 4096")));
        }
        let policy = PasswordPolicy {
            length: length as usize,
            exclude_characters: options.exclude_characters,
            exclude_numbers: options.exclude_numbers,
            exclude_punctuation: options.exclude_punctuation,
            exclude_uppercase: options.exclude_uppercase,
            exclude_lowercase: options.exclude_lowercase,
            include_space: options.include_space,
            require_each_included_type: options.require_each_included_type,
        };
        Ok(match policy.generate() {
            Ok(generated) => {
                self.scope.redactor.learn(generated.expose());
                Ok(generated.expose().to_owned())
            }
            Err(error) => Err(error.to_string()),
        })
    }
}

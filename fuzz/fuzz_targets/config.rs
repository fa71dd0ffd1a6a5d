//! The configuration file: arbitrary text parsed and validated as `serve --config` does, and
//! every accepted file turned into the settings the daemon builds from it (plugin specs,
//! policy, cache, store, retry policy). Proves that no file makes parsing, validation or
//! that conversion panic: what validation accepts, the daemon can use.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use secrets_gateway::authz::Policy;
use secrets_gateway::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text, Path::new("/etc/secrets-gateway/gateway.toml")) else {
        return;
    };
    for plugin in &config.plugin {
        plugin
            .spec()
            .expect("validation accepted a plugin whose spec fails");
    }
    let _ = Policy::new(&config.policy.statement, 0);
    let _ = config.policy.source();
    let _ = config.rotation.retry_policy();
    let _ = config.plugins.host_settings();
    let _ = config.cache.settings();
    let _ = config.store.aws.settings();
    let _ = config.store.embedded.store_config();
    let _ = config.tls.files();
    let _ = config.audit.sink();
});

//! The one place that runs `bindgen!` over the WIT package in `wit/`. Hand-written host code
//! lives beside it, one module per capability.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "rotator",
    imports: {
        "secrets-gateway:rotation/sql": async | trappable,
        "secrets-gateway:rotation/master-secret": async,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "secrets-gateway:rotation/sql.connection": super::sql::Connection,
    },
});

pub use self::secrets_gateway::rotation::{log, master_secret, password, sql, types};

//! Rust bindings for the `gantry:stage` world, generated from `wit/`.
//!
//! Every import is `async` (exec waits on a child process) and trappable (a
//! host failure ends the stage instead of lying to the plugin).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "gantry:stage/stage",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::gantry::stage::exec;
pub use self::gantry::stage::http;
pub use self::gantry::stage::log;
pub use self::gantry::stage::sign;
pub use self::gantry::stage::types;

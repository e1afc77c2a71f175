//! The formats and checks the standard Gantry plugins share.
//!
//! Nothing here knows about WebAssembly or the host: each module reads or
//! writes one format, so it is tested natively by the root workspace and
//! compiled into the plugins for `wasm32-wasip2`.

pub mod cvss;
pub mod junit;
pub mod lockfile;
pub mod oci;
pub mod oscal;
pub mod osv;
pub mod package;
pub mod policy;
pub mod purl;
pub mod sarif;
pub mod sbom;
pub mod spdx;

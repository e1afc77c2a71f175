//! The WASI p2 imports a plugin gets: all of them, linked the way
//! `wasmtime_wasi::p2::add_to_linker_async` links them, except
//! `wasi:filesystem`, which goes through [`super::fs`] so that its
//! refusals are audited and its writes counted.

use wasmtime::component::{HasData, Linker, ResourceTable};

use super::fs;
use super::state::StageState;

/// Adds the WASI p2 interfaces to `linker` the way
/// `wasmtime_wasi::p2::add_to_linker_async` does, except the filesystem,
/// which goes through [`super::fs`].
///
/// # Errors
///
/// When an interface is already in the linker.
pub(super) fn add_wasi_to_linker(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, io, random, sockets};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

    let l = linker;
    io::error::add_to_linker::<_, HasIo>(l, |s| &mut s.table)?;
    io::poll::add_to_linker::<_, HasIo>(l, |s| &mut s.table)?;
    io::streams::add_to_linker::<_, HasIo>(l, |s| &mut s.table)?;

    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, StageState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, StageState::clocks)?;
    fs::add_to_linker(l)?;
    random::random::add_to_linker::<_, WasiRandom>(l, StageState::random)?;
    random::insecure::add_to_linker::<_, WasiRandom>(l, StageState::random)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, StageState::random)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, StageState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, StageState::cli)?;

    // Sockets are linked so that plugins importing them load, and refused
    // at every use by the context (`allow_tcp(false)` and so on).
    let network = sockets::network::LinkOptions::default();
    sockets::tcp_create_socket::add_to_linker::<_, WasiSockets>(l, StageState::sockets)?;
    sockets::instance_network::add_to_linker::<_, WasiSockets>(l, StageState::sockets)?;
    sockets::network::add_to_linker::<_, WasiSockets>(l, &network, StageState::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<_, WasiSockets>(l, StageState::sockets)?;
    sockets::tcp::add_to_linker::<_, WasiSockets>(l, StageState::sockets)?;
    sockets::udp::add_to_linker::<_, WasiSockets>(l, StageState::sockets)?;
    sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, StageState::sockets)?;
    Ok(())
}

/// `wasi:io` works on the resource table alone.
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

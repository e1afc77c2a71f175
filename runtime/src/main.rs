//! The `gantry` binary; everything it does is in [`gantry::cli`].

fn main() -> std::process::ExitCode {
    gantry::cli::main()
}

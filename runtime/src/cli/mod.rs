//! The `gantry` command line: parsing, dispatch, and exit codes.
//!
//! Commands are thin: each opens a [`Session`] on the state directory, asks
//! the engine, and prints. People read stderr; `--json` puts one JSON object
//! on stdout for machines.

mod inspect;
mod output;
mod review;
mod signing;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::engine::{EngineError, PreparedRun, Progress, RunRecord, Session};
use crate::store::RunId;

const EXIT_CODES: &str = "\
Exit codes:
  0    succeeded (for `audit verify`: the trail is intact)
  1    the pipeline failed: a stage said no, a reviewer rejected, or the trail is broken;
       for `plugin verify`: the signature does not hold;
       for `inspect --deny-warnings`: the audit has a finding
  2    usage or configuration error: bad flags, bad TOML, missing plugin, refused command
  3    a plugin fault: trap, limit exceeded, malformed output
  4    stopped at a review gate, awaiting approval
  130  interrupted (Ctrl-C or SIGTERM); `gantry resume <RUN>` continues

Examples:
  gantry inspect pipelines/contact-tracing.toml
  gantry run pipelines/contact-tracing.toml
  gantry approve 20261203-141500-3fa2c1 --as officer   # add --key FILE if the roles
                                                       # file binds officer a key
  gantry resume 20261203-141500-3fa2c1
  gantry show 20261203-141500-3fa2c1 --json
  gantry audit verify
  gantry keygen --out keys/platform.pem
  gantry plugin sign plugins/check.wasm --key keys/platform.pem --kind scan
  gantry plugin verify plugins/check.wasm --policy pipelines/policy/cdc.toml

Logging: set GANTRY_LOG (e.g. `GANTRY_LOG=info` or `GANTRY_LOG=gantry=debug`).";

/// Runs compliance pipelines whose stages are sandboxed WebAssembly
/// components.
///
/// A pipeline (TOML) names its stages: build, test, scan, ATO paperwork, a
/// review gate, promote. Each stage is a WebAssembly component that can touch
/// only what the pipeline grants it, and every step is recorded in a
/// hash-chained audit log.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where runs, the audit log, the registry and the compile cache live.
    ///
    /// Default: `.gantry` in the current directory.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "GANTRY_STATE_DIR",
        default_value = ".gantry"
    )]
    state_dir: PathBuf,

    /// Where compiled plugins are cached (native code: kept at mode 0700).
    ///
    /// Default: `cache/` in the state directory. Share one between state
    /// directories, or keep it across CI jobs, to compile each plugin once.
    #[arg(long, global = true, value_name = "DIR", env = "GANTRY_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Print one JSON object on stdout instead of text for people.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline, stopping at review gates.
    ///
    /// On a terminal, a review gate shows the ATO summary and asks who
    /// reviews; otherwise the run stops with exit code 4 and prints the
    /// `approve` and `resume` commands.
    Run {
        /// The pipeline file, e.g. `pipelines/contact-tracing.toml`.
        #[arg(value_name = "PIPELINE")]
        pipeline: PathBuf,
        /// Who starts the run. Default: the operating-system user.
        #[arg(long = "as", value_name = "ID")]
        initiator: Option<String>,
    },
    /// Approve a run waiting at a review gate; `resume` then continues it.
    ///
    /// When the roles file binds a key to the identity (`public-key`), the
    /// approval is signed with that key's private half, given with `--key`.
    Approve {
        #[arg(value_name = "RUN")]
        run: String,
        /// The reviewing identity, as named in the pipeline's roles file.
        #[arg(long = "as", value_name = "ID")]
        identity: String,
        /// The identity's private key (a `gantry keygen` file), to sign the
        /// decision.
        ///
        /// Default: none; required when the roles file binds a key to the
        /// identity.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Reject a run waiting at a review gate; the run ends failed.
    Reject {
        #[arg(value_name = "RUN")]
        run: String,
        /// The reviewing identity, as named in the pipeline's roles file.
        #[arg(long = "as", value_name = "ID")]
        identity: String,
        /// Why, for the record.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The identity's private key, to sign the decision.
        ///
        /// Default: none; required when the roles file binds a key to the
        /// identity.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Continue a run that was approved, interrupted, or killed.
    ///
    /// Refuses when the pipeline, roles, policy, a plugin or the workspace's
    /// commit changed since the run started.
    Resume {
        #[arg(value_name = "RUN")]
        run: String,
    },
    /// List the runs in the state directory, oldest first.
    Runs,
    /// Show one run: stages, artifacts with digests, findings.
    Show {
        #[arg(value_name = "RUN")]
        run: String,
    },
    /// Show what every stage of a pipeline may touch, without running it.
    ///
    /// For each stage: the plugin and its digest, what the component
    /// imports, what it says it wants, what the pipeline grants, its limits,
    /// and findings: grants it cannot use, wants not granted, grants beyond
    /// the policy's ceilings, write grants other stages read.
    ///
    /// Exit codes: 0 when the report is printed (findings or not), 1 with
    /// `--deny-warnings` when there is any finding, 2 for a bad pipeline or
    /// a plugin that cannot be loaded. `--json` prints the whole report
    /// either way.
    Inspect {
        /// The pipeline file.
        #[arg(value_name = "PIPELINE")]
        pipeline: PathBuf,
        /// Exit 1 when the audit has any finding, e.g. to fail a CI job.
        ///
        /// Default: findings are reported and the exit code is 0.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Make an ed25519 key pair: a pipeline's, an approver's or a plugin signer's.
    ///
    /// The private key is written to FILE as PKCS#8 PEM with mode 0600 (an
    /// existing file is never replaced); the public key to FILE.pub and to
    /// stdout, as `ed25519:<base64>`: the form a policy's
    /// `[[trust.signer]] public-key` takes.
    Keygen {
        /// Where to write the private key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign plugins, and verify their signatures.
    Plugin {
        #[command(subcommand)]
        command: signing::PluginCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain of `<state-dir>/audit.jsonl`; exit 1 names the
    /// first bad line.
    Verify,
}

/// Parses the command line, runs the command, and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let err = anyhow::anyhow!("failed to start the async runtime: {err}");
            return fail(&err, cli.json);
        }
    };
    match runtime.block_on(dispatch(&cli)) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => fail(&err, cli.json),
    }
}

async fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    let json = cli.json;
    if let Command::Audit {
        command: AuditCommand::Verify,
    } = &cli.command
    {
        return output::audit_verify(&cli.state_dir.join("audit.jsonl"), json);
    }
    match &cli.command {
        Command::Keygen { out } => return signing::keygen(out, json),
        Command::Plugin { command } => return signing::plugin(command, json),
        _ => {}
    }
    let creates_state = matches!(cli.command, Command::Run { .. } | Command::Inspect { .. });
    if !creates_state && !cli.state_dir.exists() {
        anyhow::bail!(
            "no state directory at `{}`\n  hint: pass the --state-dir the runs were started \
             with, or start one with `gantry run <PIPELINE>`",
            cli.state_dir.display()
        );
    }
    let session = Session::open(&cli.state_dir, cli.cache_dir.as_deref())?;
    match &cli.command {
        Command::Run {
            pipeline,
            initiator,
        } => {
            let initiator = initiator.clone().unwrap_or_else(os_user);
            run(&session, cli, pipeline, &initiator).await
        }
        Command::Approve { run, identity, key } => {
            let key = approver_key(key.as_deref())?;
            let record = session.approve(&RunId::parse(run)?, identity, key.as_ref())?;
            output::decision(cli_state(cli), &record, identity, json)
        }
        Command::Reject {
            run,
            identity,
            reason,
            key,
        } => {
            let key = approver_key(key.as_deref())?;
            let record = session.reject(&RunId::parse(run)?, identity, reason, key.as_ref())?;
            output::decision(cli_state(cli), &record, identity, json)
        }
        Command::Resume { run } => {
            let prepared = session.reopen(&RunId::parse(run)?).await?;
            output::run_header(&prepared.record, "resuming", json);
            drive(&session, cli, prepared).await
        }
        Command::Runs => output::runs(&session.list_runs()?, json),
        Command::Show { run } => {
            output::show(&session, &session.load_run(&RunId::parse(run)?)?, json)
        }
        Command::Inspect {
            pipeline,
            deny_warnings,
        } => inspect::inspect(&session.inspect(pipeline).await?, json, *deny_warnings),
        Command::Audit { .. } | Command::Keygen { .. } | Command::Plugin { .. } => {
            unreachable!("handled above")
        }
    }
}

async fn run(
    session: &Session,
    cli: &Cli,
    pipeline: &Path,
    initiator: &str,
) -> anyhow::Result<i32> {
    let prepared = session.prepare(pipeline, initiator).await?;
    output::run_header(&prepared.record, "started", cli.json);
    drive(session, cli, prepared).await
}

/// Drives a run to its end or gate, asks for a review on a terminal, and
/// reports.
async fn drive(session: &Session, cli: &Cli, mut prepared: PreparedRun) -> anyhow::Result<i32> {
    let progress = output::HumanProgress { quiet: cli.json };
    let mut record = drive_until_signal(session, &mut prepared, &progress).await?;
    let interactive =
        !cli.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive && record.status == crate::engine::RunStatus::AwaitingApproval {
        record = review::at_terminal(session, record, &progress).await?;
    }
    output::run_report(cli_state(cli), &record, cli.json)
}

/// Drives the run; Ctrl-C or SIGTERM stops it, kills whatever the running
/// stage started, and records the interruption.
async fn drive_until_signal(
    session: &Session,
    prepared: &mut PreparedRun,
    progress: &dyn Progress,
) -> anyhow::Result<RunRecord> {
    let run = prepared.record.id.clone();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let signal = tokio::select! {
        record = session.drive(prepared, progress) => return Ok(record?),
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    // The stage's future is dropped by now, and with it every process group
    // its programs ran in.
    eprintln!("interrupted by {signal}; recording the interruption");
    Ok(session.record_interruption(&run, signal)?)
}

/// The approver's private key, when `--key` names one.
fn approver_key(path: Option<&Path>) -> anyhow::Result<Option<ed25519_dalek::SigningKey>> {
    let Some(path) = path else {
        return Ok(None);
    };
    Ok(Some(crate::audit::keys::load_private_key(path)?))
}

/// `--state-dir` as the user wrote it, for the commands we print.
fn cli_state(cli: &Cli) -> Option<&Path> {
    (cli.state_dir != Path::new(".gantry")).then_some(cli.state_dir.as_path())
}

fn os_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid-{uid}"))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GANTRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// Prints an error with its causes and returns its exit code.
/// With `--json`, the error is also the one JSON object on stdout.
fn fail(err: &anyhow::Error, json: bool) -> ExitCode {
    // Messages quote values from pipeline files and plugins as written.
    eprintln!("error: {}", output::terminal_safe(&err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", output::terminal_safe(&cause.to_string()));
    }
    let code = match err.downcast_ref::<EngineError>() {
        Some(engine) => engine.exit_code(),
        None => 2,
    };
    if json {
        let causes: Vec<String> = err.chain().map(|c| c.to_string()).collect();
        let object = serde_json::json!({ "error": causes.join(": "), "exit_code": code });
        println!("{object}");
    }
    ExitCode::from(code as u8)
}

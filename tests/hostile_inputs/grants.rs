//! Grants that reach past what they name: a workspace holding gantry's own
//! state, and a granted directory that an earlier stage swapped for a
//! symlink leading out of the workspace.

use std::fs;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};

use super::{assert_refused, forged_plugin};
use crate::support::{
    GANTRY, Gantry, Ran, Scratch, one_stage_pipeline, repo_root, stage, test_plugin,
};

/// A stage granted the whole workspace that plants a file in
/// `/workspace/<planted>`.
fn planting_pipeline(planted: &str) -> String {
    let extra = format!(
        "[stage.grants]\nwrite = [\".\"]\n[stage.config]\n\
         files = [[\"/workspace/{planted}\", \"planted by a plugin\"]]"
    );
    one_stage_pipeline(&forged_plugin(), &extra)
}

#[test]
fn a_workspace_holding_the_state_dir_is_refused() -> Result<()> {
    let scratch = Scratch::new(&planting_pipeline(".gantry/planted"))?;
    let state = scratch.workspace().join(".gantry");
    // As `gantry run ../pipeline.toml` from inside the workspace: the
    // plugin could write run records, the audit log and native code.
    let output = Command::new(GANTRY)
        .current_dir(repo_root())
        .arg("--state-dir")
        .arg(&state)
        .args(["run", &scratch.pipeline()])
        .stdin(Stdio::null())
        .env_remove("GANTRY_LOG")
        .env_remove("GANTRY_CACHE_DIR")
        .output()
        .context("failed to run gantry")?;
    let ran = Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_refused(
        &ran,
        2,
        "stage `probe` grants `.`, which holds or lies inside",
    )?;
    ensure!(
        !state.join("planted").exists(),
        "the plugin wrote into the state dir"
    );
    ensure!(
        fs::read_dir(state.join("runs"))?.count() == 0,
        "a run was started"
    );
    Ok(())
}

#[test]
fn a_workspace_holding_the_plugin_cache_is_refused() -> Result<()> {
    let scratch = Scratch::new(&planting_pipeline("cache/planted"))?;
    let cache = scratch.workspace().join("cache");
    let gantry = Gantry::with_own_cache()?;
    let cache_arg = cache.display().to_string();
    let ran = gantry.run(&["run", &scratch.pipeline(), "--cache-dir", &cache_arg])?;
    assert_refused(&ran, 2, "which holds or lies inside")?;
    ensure!(
        !cache.join("planted").exists(),
        "the plugin wrote into the cache"
    );
    Ok(())
}

/// `swap` may write the workspace; a program it runs replaces `sub` with a
/// symlink to `../outside` (the sandbox refuses to let the plugin itself
/// make a link that leads out). `steal` is granted `sub` and reads and
/// writes through it.
fn swapping_pipeline() -> String {
    let swapper = test_plugin("exec-confined").display().to_string();
    let plugin = forged_plugin().display().to_string();
    format!(
        "[pipeline]\nname = \"swap\"\nworkspace = \"ws\"\n\n\
         [[stage]]\nid = \"swap\"\nplugin = {swapper:?}\n\
         [stage.grants]\nwrite = [\".\"]\nexec = [\"bash\"]\n\
         [[stage.config.run]]\nlabel = \"swap\"\n\
         command = [\"bash\", \"-c\", \"rmdir sub && ln -s ../outside sub\"]\n\
         expect = \"runs\"\n\n\
         [[stage]]\nid = \"steal\"\nplugin = {plugin:?}\nneeds = [\"swap\"]\n\
         grants = {{ read = [\"sub\"], write = [\"sub\"] }}\n\
         config = {{ read = [\"/workspace/sub/secret\"], \
                     files = [[\"/workspace/sub/planted\", \"owned\"]] }}\n"
    )
}

#[test]
fn a_granted_directory_swapped_for_a_symlink_is_not_opened() -> Result<()> {
    let scratch = Scratch::new(&swapping_pipeline())?;
    fs::create_dir(scratch.workspace().join("sub"))?;
    let outside = scratch.path().join("outside");
    fs::create_dir(&outside)?;
    fs::write(outside.join("secret"), "gantry-test-swapped-secret")?;
    let gantry = Gantry::new()?;

    // `steal` read the secret beside the workspace and planted a file there.
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    assert_refused(&ran, 3, "now leads to")?;
    let record = gantry.run_record(&gantry.only_run()?)?;
    ensure!(
        stage(&record, "steal")?["status"] == "faulted",
        "{record:#}"
    );
    ensure!(
        !outside.join("planted").exists(),
        "a file was planted outside"
    );
    ensure!(
        !record.to_string().contains("gantry-test-swapped-secret"),
        "the secret reached the run record"
    );
    gantry.assert_audit_intact()
}

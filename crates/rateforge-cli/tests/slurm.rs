//! `rateforge slurm`: the job scripts it writes, run as Slurm runs them (always), and a real
//! single-node Slurm running them (`#[ignore]`d: `scripts/test` runs it where Slurm can be
//! installed, and says so where it cannot).

mod common;

use common::{command, npz_array, root, text, tmp, user_error};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The sweep of these tests: the 4-node network with noise and a drawn initial value, so that
/// the shards' numbers depend on the global instance index.
const SWEEP: &[&str] = &[
    "examples/models/networks/g2do4.yaml/g2do4",
    "--time",
    "200",
    "--dt",
    "0.1",
    "--solver",
    "heun",
    "--noise",
    "g2do_op/V=0.01",
    "--seed",
    "11",
    "--set",
    "g2do_op/V=-0.5",
    "--range",
    "g2do_op/V->g2do_op/c_0/a=0:1:18",
    "--range",
    "g2do_op/W=-1:1",
    "--sample",
    "uniform",
    "--samples",
    "18",
];

fn ok(out: Output) -> String {
    let err = text(&out.stderr);
    assert!(out.status.success(), "failed ({}):\n{err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The unsharded sweep, written to `out`.
fn whole(out: &Path) {
    ok(command()
        .arg("sweep")
        .args(SWEEP)
        .arg("-q")
        .arg("-o")
        .arg(out)
        .output()
        .unwrap());
}

fn assert_same(merged: &Path, whole: &Path) {
    for name in [
        "mean/g2do_op/V",
        "var/g2do_op/W",
        "last/g2do_op/V",
        "grid/g2do_op/V->g2do_op/c_0/a",
        "grid/g2do_op/W",
    ] {
        assert_eq!(npz_array(merged, name), npz_array(whole, name), "{name}");
    }
}

fn fresh(name: &str) -> PathBuf {
    let dir = tmp(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_written_jobs_run_each_shard_and_merge_into_the_sweep() {
    let dir = fresh("slurm-jobs");
    let err = ok(command()
        .arg("slurm")
        .args(SWEEP)
        .args(["--shards", "4", "-o"])
        .arg(&dir)
        .output()
        .unwrap());
    // The calibration ran and set the requests.
    assert!(err.contains("calibration: "), "{err}");
    assert!(err.contains("asking --time="), "{err}");
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=1-4\n",
        "#SBATCH --cpus-per-task=1\n",
        "#SBATCH --job-name=rateforge-g2do4\n",
        &format!("#SBATCH --chdir={}\n", root().display()),
        "--shard \"$K/4\" --resume -o ",
        "--threads \"${SLURM_CPUS_PER_TASK:-1}\"",
        "--range 'g2do_op/V->g2do_op/c_0/a=0:1:18'",
    ] {
        assert!(script.contains(line), "lacks {line:?}:\n{script}");
    }
    assert!(!script.contains("--shards"), "{script}");
    let time = script
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --time="))
        .expect("a time limit");
    assert!(time.len() == 8 && time.as_bytes()[2] == b':', "{time}");
    assert!(script.contains("#SBATCH --mem="), "{script}");
    let submit = std::fs::read_to_string(dir.join("submit.sh")).unwrap();
    assert!(
        submit.contains("--dependency=afterok:\"$array\""),
        "{submit}"
    );
    assert!(
        std::fs::read_to_string(dir.join("README"))
            .unwrap()
            .contains("sh ")
    );

    // Run as Slurm runs them: each task with its SLURM_ARRAY_TASK_ID (bash reads `#SBATCH` as
    // comments), then the merge.
    let bash = |script: &str, task: Option<usize>| {
        let mut c = Command::new("bash");
        c.arg(dir.join(script))
            .current_dir(root())
            .env("RATEFORGE", env!("CARGO_BIN_EXE_rateforge"))
            .env(
                "RATEFORGE_CACHE_DIR",
                root().join("target/test-kernel-cache"),
            )
            .env("SLURM_CPUS_PER_TASK", "1");
        if let Some(k) = task {
            c.env("SLURM_ARRAY_TASK_ID", k.to_string());
        }
        ok(c.output().unwrap())
    };
    // Without a task id the script says how to run it.
    let o = Command::new("bash")
        .arg(dir.join("sweep.sbatch"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("run this script with sbatch"));
    for k in [3, 1, 4, 2] {
        bash("sweep.sbatch", Some(k));
    }
    // A task run again keeps its complete shard.
    assert!(bash("sweep.sbatch", Some(2)).contains("complete result: kept"));
    let merged = bash("merge.sbatch", None);
    assert!(merged.contains("merged 4 shards (18 instances"), "{merged}");
    let reference = tmp("slurm-jobs-whole.npz");
    whole(&reference);
    assert_same(&dir.join("sweep.npz"), &reference);
}

#[test]
fn requests_and_options_given_are_written_as_given() {
    let dir = fresh("slurm-options");
    let err = ok(command()
        .arg("slurm")
        .args(SWEEP)
        .args([
            "--shards",
            "3",
            "--time-limit",
            "1-02:00:00",
            "--mem=3G",
            "--gpus-per-task",
            "1",
            "--cpus-per-task",
            "4",
            "--partition",
            "gpu",
            "--account=brain",
            "--max-running",
            "2",
            "--sbatch=--qos=long",
            "--threads",
            "8",
            "--output",
        ])
        .arg(&dir)
        .output()
        .unwrap());
    // Both requests given: no calibration.
    assert!(!err.contains("calibration"), "{err}");
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=1-3%2\n",
        "#SBATCH --time=1-02:00:00\n",
        "#SBATCH --mem=3G\n",
        "#SBATCH --gpus-per-task=1\n",
        "#SBATCH --cpus-per-task=4\n",
        "#SBATCH --partition=gpu\n",
        "#SBATCH --account=brain\n",
        "#SBATCH --qos=long\n",
        "--threads 8 ",
        "--backend cuda --shard \"$K/3\"",
    ] {
        assert!(script.contains(line), "lacks {line:?}:\n{script}");
    }
    assert!(!script.contains("SLURM_CPUS_PER_TASK"), "{script}");
    let merge = std::fs::read_to_string(dir.join("merge.sbatch")).unwrap();
    assert!(merge.contains("#SBATCH --partition=gpu\n"), "{merge}");
    assert!(!merge.contains("--gpus"), "{merge}");
}

#[test]
fn mistakes_are_explained() {
    let slurm = |extra: &[&str]| {
        command()
            .arg("slurm")
            .args(SWEEP)
            .args(extra)
            .output()
            .unwrap()
    };
    user_error(&slurm(&["--shards", "4"]), &["needs `-o DIR`", "help:"]);
    let dir = tmp("slurm-mistakes");
    let d = dir.to_str().unwrap();
    user_error(
        &slurm(&["--shards", "4", "--shard", "1/4", "-o", d]),
        &["sets `--shard` itself", "--shards N"],
    );
    user_error(&slurm(&["--shards", "0", "-o", d]), &["at least one shard"]);
    user_error(
        &slurm(&["--shards", "40", "-o", d]),
        &["the sweep has only 18 instances", "at most 18"],
    );
    user_error(
        &slurm(&[
            "--shards",
            "2",
            "--gpus-per-task",
            "1",
            "--backend",
            "interp",
            "-o",
            d,
        ]),
        &["`--gpus-per-task` runs the tasks on `--backend cuda`"],
    );
    user_error(
        &slurm(&["--shards", "2", "--partition", "a\nrm -rf x", "-o", d]),
        &["is not one line of text"],
    );
    user_error(
        &slurm(&["--shards", "2", "--sbatch", "qos=long", "-o", d]),
        &["is not an sbatch option", "--sbatch=--qos=long"],
    );
    // No sbatch on this PATH: submitting fails and says where to submit from.
    let bin = tmp("slurm-no-sbatch-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sh = bin.join("sh");
    if !sh.exists() {
        std::os::unix::fs::symlink("/bin/sh", &sh).unwrap();
    }
    let o = command()
        .arg("slurm")
        .args(SWEEP)
        .args(["--shards", "2", "--no-calibrate", "--submit", "-o", d])
        .env("PATH", &bin)
        .output()
        .unwrap();
    user_error(&o, &["submitting failed", "sbatch", "submit.sh"]);
}

/// A private Slurm started by `scripts/slurm-local`, stopped when dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = fresh("slurm-cluster");
        let o = Command::new(root().join("scripts/slurm-local"))
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        let cluster = Cluster { dir };
        assert!(
            o.status.success(),
            "could not start Slurm:\n{}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/slurm-local"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

#[test]
#[ignore = "starts a private Slurm (scripts/slurm-local); scripts/test runs it where Slurm can be installed"]
fn a_real_slurm_runs_the_array_and_the_merge_after_it() {
    let cluster = Cluster::start();
    let dir = fresh("slurm-real");
    let reference = tmp("slurm-real-whole.npz");
    let start = Instant::now();
    whole(&reference);
    let unsharded = start.elapsed();
    let start = Instant::now();
    let o = command()
        .arg("slurm")
        .args(SWEEP)
        .args(["--shards", "4", "--submit", "-o"])
        .arg(&dir)
        .env("SLURM_CONF", cluster.conf())
        .output()
        .unwrap();
    let err = ok(o.clone());
    let out = text(&o.stdout);
    assert!(
        out.contains("array job ") && out.contains("merge job "),
        "{out}{err}"
    );
    // Wait for both jobs to leave the queue.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-o", "%i %T %r"])
            .env("SLURM_CONF", cluster.conf())
            .output()
            .unwrap();
        let queue = text(&q.stdout);
        if q.status.success() && queue.trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs did not finish in 10 minutes:\n{queue}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let array = start.elapsed();
    let log = std::fs::read_to_string(dir.join("logs/merge.out")).unwrap_or_default();
    assert!(
        log.contains("merged 4 shards (18 instances"),
        "merge log:\n{log}\nshard 1 log:\n{}",
        std::fs::read_to_string(dir.join("logs/shard-1.out")).unwrap_or_default()
    );
    assert_same(&dir.join("sweep.npz"), &reference);
    println!(
        "Slurm: 4-shard array + merge {:.2} s from submission; the unsharded sweep {:.2} s",
        array.as_secs_f64(),
        unsharded.as_secs_f64()
    );
}

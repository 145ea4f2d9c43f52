//! `rateforge slurm`: a sweep as a Slurm job array, one task per shard (`sweep --shard K/N`),
//! and a merge job that runs when every task has succeeded (`--dependency=afterok`).
//!
//! What is written into the output directory:
//! - `sweep.sbatch`: the array; task K runs `rateforge sweep <the same options> --shard K/N
//!   --resume -o shard-K-of-N.npz` in the directory the command was given in (`--chdir`), so
//!   relative paths mean what they meant;
//! - `merge.sbatch`: `rateforge merge shard-*-of-N.npz -o sweep.npz`;
//! - `submit.sh`: submits both (what `--submit` runs) and prints the job ids;
//! - `README`: how to submit, resubmit failed shards, and where the result appears.
//!
//! The time and memory each task asks for come from a calibration: the first shard's first
//! instances run here for a short while, and the rate and the sizes are scaled to the shard
//! (`--time-limit` and `--mem` override them).

use crate::{SweepArgs, usage};
use rateforge::{Error, RunSpec};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The options of `rateforge slurm` beyond those of `sweep`.
#[derive(clap::Args, Clone)]
#[command(next_help_heading = "Slurm")]
pub(crate) struct SlurmOptions {
    /// The number of shards: array tasks, each a contiguous block of the sweep's instances.
    #[arg(long, value_name = "N")]
    shards: usize,
    /// The partition (queue) to submit to (default: the cluster's default).
    #[arg(long, value_name = "P")]
    partition: Option<String>,
    /// Each task's time limit, in sbatch's format (`MM`, `HH:MM:SS`, `D-HH:MM`) (default: from
    /// the calibration).
    #[arg(long = "time-limit", value_name = "T")]
    time_limit: Option<String>,
    /// Each task's memory, in sbatch's format (`512M`, `4G`) (default: from the calibration).
    #[arg(long, value_name = "M")]
    mem: Option<String>,
    /// GPUs per task: the tasks run `--backend cuda` on them.
    #[arg(long = "gpus-per-task", value_name = "G")]
    gpus_per_task: Option<u32>,
    /// CPUs per task, the threads of each shard.
    #[arg(long = "cpus-per-task", value_name = "C", default_value_t = 1)]
    cpus_per_task: u32,
    /// The account charged (`sbatch --account`).
    #[arg(long, value_name = "A")]
    account: Option<String>,
    /// At most this many tasks run at once (`--array=1-N%M`).
    #[arg(long = "max-running", value_name = "M")]
    max_running: Option<usize>,
    /// Another `#SBATCH` line for both jobs, e.g. `--sbatch=--qos=long` (repeatable).
    #[arg(long, value_name = "OPTION", allow_hyphen_values = true)]
    sbatch: Vec<String>,
    /// Do not calibrate: without `--time-limit` and `--mem` the partition's defaults apply.
    #[arg(long = "no-calibrate")]
    no_calibrate: bool,
    /// Submit the jobs (`sbatch`) and print their ids; else only write them.
    #[arg(long)]
    submit: bool,
}

#[derive(clap::Args)]
pub(crate) struct SlurmArgs {
    #[command(flatten)]
    pub(crate) sweep: SweepArgs,
    #[command(flatten)]
    pub(crate) slurm: SlurmOptions,
}

/// What a task asks for: time in seconds and memory in bytes, and how that was found.
struct Estimate {
    seconds: f64,
    bytes: u64,
    merge_seconds: f64,
    merge_bytes: u64,
    /// The calibration and the time it predicts.
    how: String,
    /// How the memory was estimated.
    memory: String,
}

/// `rateforge slurm`. `argv` is the whole command line (after RateML's aliases).
pub(crate) fn slurm(args: &SlurmArgs, argv: &[String]) -> Result<(), Error> {
    let run = &args.sweep.run;
    let o = &args.slurm;
    let Some(dir) = &run.output else {
        return Err(usage(
            "`rateforge slurm` needs `-o DIR`, the directory for the job scripts and the results",
            "e.g. `rateforge slurm MODEL ... --shards 16 -o sweep-dir`",
        ));
    };
    for (given, flag, help) in [
        (
            args.sweep.shard.is_some(),
            "--shard",
            "each array task runs its own shard; give the number of shards with `--shards N`",
        ),
        (
            args.sweep.resume,
            "--resume",
            "the tasks always resume: resubmitting the array keeps the shards that are complete",
        ),
        (
            run.plot.is_some(),
            "--plot",
            "draw the merged result afterwards: `rateforge plot DIR/sweep.npz -o FIG.png`",
        ),
    ] {
        if given {
            return Err(usage(
                format!("`rateforge slurm` sets `{flag}` itself"),
                help,
            ));
        }
    }
    if o.shards == 0 {
        return Err(usage(
            "`--shards 0`: a sweep needs at least one shard",
            "e.g. `--shards 16`",
        ));
    }
    if o.cpus_per_task == 0 {
        return Err(usage(
            "`--cpus-per-task 0`: a task needs a CPU",
            "e.g. `--cpus-per-task 4`",
        ));
    }
    // What goes on an `#SBATCH` line: one line of text, and an option.
    let values = [
        ("--partition", o.partition.as_deref()),
        ("--account", o.account.as_deref()),
        ("--time-limit", o.time_limit.as_deref()),
        ("--mem", o.mem.as_deref()),
    ];
    let extra = o.sbatch.iter().map(|s| ("--sbatch", Some(s.as_str())));
    for (flag, value) in values.into_iter().chain(extra) {
        let Some(v) = value else { continue };
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(usage(
                format!("`{flag} {v:?}` is not one line of text"),
                "give the value without line breaks or other control characters",
            ));
        }
        if flag == "--sbatch" && !v.starts_with('-') {
            return Err(usage(
                format!("`--sbatch {v}` is not an sbatch option"),
                "write it as sbatch takes it, e.g. `--sbatch=--qos=long`",
            ));
        }
    }
    let gpu = o.gpus_per_task.is_some_and(|g| g > 0);
    if gpu
        && !matches!(
            run.backend,
            crate::BackendArg::Native | crate::BackendArg::Cuda
        )
    {
        return Err(usage(
            "`--gpus-per-task` runs the tasks on `--backend cuda`, and another backend is given",
            "leave out `--backend`, or `--gpus-per-task`",
        ));
    }
    let mut sweep_argv = sweep_command(argv)?;
    if gpu && run.backend == crate::BackendArg::Native {
        sweep_argv.extend(["--backend".to_string(), "cuda".to_string()]);
    }
    let threads_given = run.threads.is_some();
    // The sweep's size, checked (and every other mistake in the options found) before anything
    // is written.
    let (valid, spec, _) = crate::sweep_spec(&args.sweep)?;
    let total = spec.instances.max(1);
    rateforge::sweep::shard_range(total, 1, o.shards).map_err(|_| {
        usage(
            format!(
                "`--shards {}`: the sweep has only {total} instance{}",
                o.shards,
                if total == 1 { "" } else { "s" }
            ),
            format!("give `--shards N` with N at most {total}"),
        )
    })?;
    let largest = total.div_ceil(o.shards);
    let estimate = if o.no_calibrate || (o.time_limit.is_some() && o.mem.is_some()) {
        None
    } else {
        Some(calibrate(&valid, &spec, args, largest)?)
    };

    crate::create_dir(&dir.join("logs"))?;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    let cwd = std::env::current_dir().map_err(|e| {
        usage(
            format!("cannot read the current directory: {e}"),
            "run `rateforge slurm` from an existing directory",
        )
    })?;
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("rateforge"));
    for (what, path) in [("output directory", &dir), ("current directory", &cwd)] {
        if path.to_string_lossy().chars().any(char::is_control) {
            return Err(usage(
                format!(
                    "the {what} `{}` has a line break or another control character in its name",
                    path.display()
                ),
                "job scripts name it on `#SBATCH` lines: choose a directory whose path is one line",
            ));
        }
    }
    let name = job_name(&run.model.model);
    let n = o.shards;

    // Each task's requests: as given, else from the calibration, else the partition's defaults.
    let task_time =
        (o.time_limit.clone()).or_else(|| estimate.as_ref().map(|e| slurm_time(e.seconds)));
    let task_mem = (o.mem.clone()).or_else(|| estimate.as_ref().map(|e| slurm_mem(e.bytes)));
    let requests = estimate.as_ref().map(|e| {
        format!(
            "{}, asking --time={} (1.5x + 2 min) and --mem={} ({})",
            e.how,
            task_time.as_deref().unwrap_or_default(),
            task_mem.as_deref().unwrap_or_default(),
            e.memory
        )
    });
    let mut common = Vec::new();
    if let Some(p) = &o.partition {
        common.push(format!("--partition={p}"));
    }
    if let Some(a) = &o.account {
        common.push(format!("--account={a}"));
    }
    common.extend(o.sbatch.iter().cloned());

    let mut task = vec![
        format!("--job-name={name}"),
        format!(
            "--array=1-{n}{}",
            o.max_running.map_or(String::new(), |m| format!("%{m}"))
        ),
        format!("--chdir={}", cwd.display()),
        format!("--output={}", dir.join("logs/shard-%a.out").display()),
        "--open-mode=append".to_string(),
        "--ntasks=1".to_string(),
        format!("--cpus-per-task={}", o.cpus_per_task),
    ];
    if let Some(g) = o.gpus_per_task.filter(|g| *g > 0) {
        task.push(format!("--gpus-per-task={g}"));
    }
    let mut merge = vec![
        format!("--job-name={name}-merge"),
        format!("--chdir={}", cwd.display()),
        format!("--output={}", dir.join("logs/merge.out").display()),
        "--ntasks=1".to_string(),
        "--cpus-per-task=1".to_string(),
    ];
    task.extend(task_time.iter().map(|t| format!("--time={t}")));
    task.extend(task_mem.iter().map(|m| format!("--mem={m}")));
    if let Some(e) = &estimate {
        merge.push(format!("--time={}", slurm_time(e.merge_seconds)));
        merge.push(format!("--mem={}", slurm_mem(e.merge_bytes)));
    }
    task.extend(common.iter().cloned());
    merge.extend(common.iter().cloned());

    let shard_file = |k: &str| dir.join(format!("shard-{k}-of-{n}.npz"));
    let result = dir.join("sweep.npz");
    let mut sweep_line = format!("exec \"$RATEFORGE\" {}", join_quoted(&sweep_argv));
    if !threads_given {
        sweep_line.push_str(" --threads \"${SLURM_CPUS_PER_TASK:-1}\"");
    }
    let _ = write!(
        sweep_line,
        " --shard \"$K/{n}\" --resume -o {}\"$K\"{}",
        quote(&dir.join("shard-").display().to_string()),
        quote(&format!("-of-{n}.npz"))
    );
    let header = |what: &str, lines: &[String]| {
        let mut s = format!(
            "#!/bin/bash\n# {what}\n# Written by `rateforge slurm`; submit with `sh {}`.\n",
            quote(&dir.join("submit.sh").display().to_string())
        );
        for l in lines {
            let _ = writeln!(s, "#SBATCH {l}");
        }
        s.push_str("set -euo pipefail\n");
        let _ = writeln!(
            s,
            "RATEFORGE=\"${{RATEFORGE:-{}}}\"",
            exe.display()
                .to_string()
                .replace(['"', '$', '`', '\\'], "_")
        );
        s
    };
    let sweep_script = format!(
        "{}K=\"${{SLURM_ARRAY_TASK_ID:?run this script with sbatch, or set SLURM_ARRAY_TASK_ID=K (1 to {n})}}\"\n{sweep_line}\n",
        header(
            &format!("Shard $SLURM_ARRAY_TASK_ID of {n} of a sweep of {total} instances."),
            &task
        ),
    );
    let merge_script = format!(
        "{}exec \"$RATEFORGE\" merge {}-*-of-{n}.npz -o {}\n",
        header(
            &format!("Merges the {n} shards into {}.", result.display()),
            &merge
        ),
        quote(&dir.join("shard").display().to_string()),
        quote(&result.display().to_string()),
    );
    let submit_script = format!(
        "#!/bin/sh\n# Submits the sweep's array ({n} tasks) and the merge job, which starts when every task has\n# succeeded. Written by `rateforge slurm`.\nset -eu\narray=$(sbatch --parsable {})\narray=${{array%%;*}}\nmerge=$(sbatch --parsable --dependency=afterok:\"$array\" {})\nmerge=${{merge%%;*}}\necho \"array job $array ({n} shards), merge job $merge: the result will be {}\"\n",
        quote(&dir.join("sweep.sbatch").display().to_string()),
        quote(&dir.join("merge.sbatch").display().to_string()),
        result.display()
    );
    let readme = format!(
        "A sweep of {total} instances in {n} shards, written by `rateforge slurm`.\n\n\
         Submit (on the cluster's login node):  sh {submit}\n\
         That submits sweep.sbatch (a job array, task K runs shard K) and merge.sbatch (runs when\n\
         every task has succeeded and writes {result}).\n\n\
         The shards are written as {first} ... {last}; logs are in {logs}.\n\
         A task that fails or hits its time limit writes what it did, marked partial; resubmit\n\
         those tasks (`sbatch --array=K,... {sweep}`): complete shards are kept, partial ones run\n\
         again. Then merge by hand: `rateforge merge {dir}/shard-*-of-{n}.npz -o {result}`.\n\
         {estimate}",
        submit = dir.join("submit.sh").display(),
        sweep = dir.join("sweep.sbatch").display(),
        result = result.display(),
        first = shard_file("1").display(),
        last = shard_file(&n.to_string()).display(),
        logs = dir.join("logs").display(),
        dir = dir.display(),
        estimate = requests
            .as_ref()
            .map_or(String::new(), |r| format!("\nRequests: {r}\n")),
    );
    for (file, text) in [
        ("sweep.sbatch", &sweep_script),
        ("merge.sbatch", &merge_script),
        ("submit.sh", &submit_script),
        ("README", &readme),
    ] {
        crate::write_text(&dir.join(file), text)?;
    }
    if !run.quiet {
        if let Some(r) = &requests {
            eprintln!("{r}");
        }
        eprintln!(
            "wrote {} ({n} array tasks of at most {largest} instances), {} and {}",
            dir.join("sweep.sbatch").display(),
            dir.join("merge.sbatch").display(),
            dir.join("submit.sh").display()
        );
    }
    if o.submit {
        let out = std::process::Command::new("sh")
            .arg(dir.join("submit.sh"))
            .output()
            .map_err(|e| {
                usage(
                    format!("cannot run `sh`: {e}"),
                    "submit by hand with sbatch (see DIR/README)",
                )
            })?;
        if !out.status.success() {
            return Err(usage(
                format!(
                    "submitting failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                format!(
                    "submit from a machine where `sbatch` works: `sh {}`",
                    dir.join("submit.sh").display()
                ),
            ));
        }
        rateforge_rt::out!("{}", String::from_utf8_lossy(&out.stdout));
    } else if !run.quiet {
        eprintln!("submit with `sh {}`", dir.join("submit.sh").display());
    }
    Ok(())
}

/// The `sweep` command line of the tasks: this command's arguments without `rateforge slurm`'s
/// own options and `-o`; checked by parsing it as a sweep.
fn sweep_command(argv: &[String]) -> Result<Vec<String>, Error> {
    use clap::{Args, Parser};
    let Some(at) = argv.iter().position(|a| a == "slurm") else {
        return Err(usage(
            "`rateforge slurm` was not given as a command",
            "run `rateforge slurm MODEL ...`",
        ));
    };
    // The options that are ours, from their definitions: long names, and whether they take a
    // value.
    let ours = SlurmOptions::augment_args(clap::Command::new("slurm"));
    let mut takes_value: Vec<(String, bool)> = ours
        .get_arguments()
        .filter_map(|a| {
            Some((
                format!("--{}", a.get_long()?),
                a.get_action().takes_values(),
            ))
        })
        .collect();
    takes_value.extend([("--output".into(), true), ("-o".into(), true)]);
    let mut out = vec!["sweep".to_string()];
    let mut tokens = argv[at + 1..].iter();
    while let Some(t) = tokens.next() {
        if t == "--" {
            out.push(t.clone());
            out.extend(tokens.by_ref().cloned());
            break;
        }
        if let Some((_, value)) = takes_value.iter().find(|(name, _)| name == t) {
            if *value {
                tokens.next();
            }
            continue;
        }
        let joined = takes_value.iter().any(|(name, value)| {
            *value
                && (t.starts_with(&format!("{name}="))
                    || (name == "-o" && t.starts_with("-o") && t.len() > 2))
        });
        if !joined {
            out.push(t.clone());
        }
    }
    // The tasks' own arguments, to check the line parses as a sweep with them.
    let mut check = vec!["rateforge".to_string()];
    check.extend(out.iter().cloned());
    check.extend(["--shard", "1/1", "--resume", "-o", "shard.npz"].map(String::from));
    match crate::Cli::try_parse_from(&check) {
        Ok(cli) if matches!(cli.command, crate::Command::Sweep(_)) => {}
        Ok(_) => unreachable!("the line starts with `sweep`"),
        Err(e) => {
            return Err(usage(
                format!(
                    "the tasks' `rateforge sweep` command line does not parse: {}",
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("error: ")
                ),
                "give `-o DIR` as its own option (not inside a group of short flags)",
            ));
        }
    }
    Ok(out)
}

/// A calibration: the largest shard's first instances for a short time, timed, scaled to the
/// shard (its instances and all its steps) with a margin.
fn calibrate(
    valid: &rateforge::Validated,
    spec: &RunSpec,
    args: &SlurmArgs,
    shard: usize,
) -> Result<Estimate, Error> {
    let run = &args.sweep.run;
    let threads = spec.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let instances = shard.min(32 * threads).max(1);
    let steps = ((spec.time / spec.dt).round().max(1.0)) as u64;
    let mut cal = spec.clone();
    cal.instances = instances;
    for (_, v) in &mut cal.instance_values {
        v.truncate(instances);
    }
    // BOLD needs the whole run's length; its cost is within the margin, its memory is added
    // below from its sizes.
    cal.bold = None;
    let mut args_here = crate::RunArgs::clone(run);
    let gpu = args.slurm.gpus_per_task.is_some_and(|g| g > 0);
    if gpu {
        args_here.backend = crate::BackendArg::Cuda;
    }
    let mut note = String::new();
    let engine = match crate::engine(valid, &cal, &args_here) {
        Ok(e) => e,
        Err(_) if matches!(args_here.backend, crate::BackendArg::Cuda) => {
            // No GPU here: the CPU's rate bounds the GPU's from below.
            note = " (on the CPU: no GPU here, so the time asked for is generous)".into();
            args_here.backend = crate::BackendArg::Native;
            crate::engine(valid, &cal, &args_here)?
        }
        Err(e) => return Err(e),
    };
    let mut n = steps.min(200);
    let (elapsed, result) = loop {
        cal.time = n as f64 * spec.dt;
        let start = Instant::now();
        let result = valid.run(engine.backend(), &cal, rateforge::Controls::default())?;
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= 0.5 || n == steps {
            break (elapsed, result);
        }
        let grow = (0.6 / elapsed.max(1e-4)).ceil() as u64;
        n = n.saturating_mul(grow.clamp(2, 1000)).min(steps);
    };
    let rate = (instances as f64 * n as f64) / elapsed.max(1e-9);
    let per_cpu = rate / threads as f64;
    let cpus = f64::from(args.slurm.cpus_per_task).min(shard as f64);
    let run_seconds = shard as f64 * steps as f64 / (per_cpu * cpus);
    // Margin: 1.5x the run, two minutes for starting and for building the kernel on the node.
    let seconds = 1.5 * run_seconds + 120.0;

    // Memory: this process at its peak, plus the shard's results (held, and written), plus
    // what the observers hold per instance.
    let scale = steps as f64 / n as f64;
    let (observers, observers_largest) = observer_bytes(spec, steps, result.n_nodes);
    let per_instance = 8.0
        * ((result.trace.len() as f64 * scale)
            + (result.stats.len() + result.final_state.len()) as f64
            + result.varied.len() as f64)
        / instances as f64
        + observers;
    let peak = peak_rss().unwrap_or(256 << 20);
    let bytes = ((peak as f64 + 2.0 * shard as f64 * per_instance) * 1.25) as u64;
    let total = spec.instances as f64 * per_instance;
    // The merge holds one array of the whole sweep at a time (with the shards' parts of it).
    let trace_array =
        result.trace.len() as f64 * scale / (result.names.len().max(1) * instances) as f64;
    let largest = (8.0 * trace_array.max(result.n_nodes as f64)).max(observers_largest);
    let merge_bytes = ((256u64 << 20) as f64 + 3.0 * spec.instances as f64 * largest) as u64;
    let merge_seconds = 300.0 + total / 100e6;
    let how = format!(
        "calibration{note}: {instances} instance{} x {n} steps in {elapsed:.2} s on {threads} thread{} ({rate:.3e} instance-steps/s); \
         a shard of {shard} instances x {steps} steps on {cpus} CPU{}: about {run_seconds:.1} s",
        if instances == 1 { "" } else { "s" },
        if threads == 1 { "" } else { "s" },
        if cpus == 1.0 { "" } else { "s" },
    );
    let memory = format!(
        "this process's peak {} MiB + 2x the shard's {:.1} MiB of results, + 25%",
        peak >> 20,
        shard as f64 * per_instance / f64::from(1u32 << 20),
    );
    Ok(Estimate {
        seconds,
        bytes,
        merge_seconds,
        merge_bytes,
        how,
        memory,
    })
}

/// The bytes per instance of BOLD, FC and FCD: all of them (the results, and what is held while
/// running), and the largest single array; from the kernels' own sizes.
fn observer_bytes(spec: &RunSpec, steps: u64, nodes: usize) -> (f64, f64) {
    let Some(request) = spec
        .bold
        .as_ref()
        .and_then(|b| b.request(0, steps, spec.dt).ok())
    else {
        return (0.0, 0.0);
    };
    let shape = request.shape(nodes);
    let n = nodes as f64;
    let windows = shape.n_windows() as f64;
    let kept = if request.keep_bold {
        shape.n_tr as f64 * n
    } else {
        0.0
    };
    let running = shape.scratch_values().unwrap_or(usize::MAX) as f64 + 4.0 * n;
    (
        8.0 * (n * n + windows * windows + kept + running),
        8.0 * (n * n).max(windows * windows).max(kept),
    )
}

/// This process's peak resident memory in bytes (Linux's `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Seconds as sbatch's `--time`: `HH:MM:SS` or `D-HH:MM:SS`, rounded up to a minute.
fn slurm_time(seconds: f64) -> String {
    let minutes = (seconds / 60.0).ceil().max(1.0) as u64;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:00")
    } else {
        format!("{h:02}:{m:02}:00")
    }
}

/// Bytes as sbatch's `--mem`, in MiB rounded up to 64.
fn slurm_mem(bytes: u64) -> String {
    let mib = bytes.div_ceil(1 << 20).div_ceil(64).max(4) * 64;
    format!("{mib}M")
}

/// The jobs' name: `rateforge-` and the model's name (letters, digits, `-` and `_` only).
fn job_name(model: &str) -> String {
    let stem = Path::new(model.trim_end_matches('/'))
        .file_stem()
        .map_or("sweep".into(), |s| s.to_string_lossy().into_owned());
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("rateforge-{clean}")
}

fn quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| "''".to_string(), |q| q.into_owned())
}

fn join_quoted(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_memory_in_sbatch_formats() {
        assert_eq!(slurm_time(1.0), "00:01:00");
        assert_eq!(slurm_time(61.0), "00:02:00");
        assert_eq!(slurm_time(3.0 * 3600.0 + 59.0 * 60.0 + 1.0), "04:00:00");
        assert_eq!(slurm_time(86400.0 + 3600.0), "1-01:00:00");
        assert_eq!(slurm_mem(1), "256M");
        assert_eq!(slurm_mem(300 << 20), "320M");
        assert_eq!(slurm_mem(4 << 30), "4096M");
    }

    #[test]
    fn observer_memory_is_the_documented_size() {
        // docs/fitting.md: 68 regions, 1200 samples, windows of 44 every 5 (232 windows): 4.3 MB
        // while running, 0.47 MB of output.
        let spec = RunSpec {
            time: 1200.0 * 720.0,
            dt: 0.5,
            bold: Some(rateforge::BoldSpec {
                driver: "x".into(),
                fcd_window: 44,
                fcd_step: 5,
                ..rateforge::BoldSpec::default()
            }),
            ..RunSpec::default()
        };
        let (all, largest) = observer_bytes(&spec, 1200 * 1440, 68);
        assert!((all / 1e6 - (4.3 + 0.47)).abs() < 0.05, "{all}");
        assert_eq!(largest, 8.0 * 232.0 * 232.0);
    }

    #[test]
    fn job_names_keep_only_safe_characters() {
        assert_eq!(
            job_name("examples/models/networks/g2do4.yaml/g2do4"),
            "rateforge-g2do4"
        );
        assert_eq!(job_name("a b/$(x).xml"), "rateforge-__x_");
        assert_eq!(job_name("library/kuramoto.xml"), "rateforge-kuramoto");
    }

    #[test]
    fn the_tasks_command_drops_our_options_and_the_output() {
        let argv: Vec<String> = [
            "rateforge",
            "slurm",
            "m.yaml/m",
            "--shards",
            "4",
            "--time",
            "10",
            "--time-limit=1:00:00",
            "--dt",
            "0.1",
            "-o",
            "dir",
            "--sbatch=--qos=x",
            "--sbatch",
            "--constraint=gpu",
            "--submit",
            "--set",
            "p/a=1 2",
            "--range",
            "p/b=0:1:4",
        ]
        .map(String::from)
        .to_vec();
        let out = sweep_command(&argv).unwrap();
        assert_eq!(
            out,
            [
                "sweep",
                "m.yaml/m",
                "--time",
                "10",
                "--dt",
                "0.1",
                "--set",
                "p/a=1 2",
                "--range",
                "p/b=0:1:4"
            ]
        );
        assert_eq!(join_quoted(&out[6..8]), "--set 'p/a=1 2'");
    }
}

//! Runs the two compiled-in models and writes their results as `.npz` files (numpy), the same
//! arrays and metadata `rateforge run` and `rateforge sweep` write:
//!
//!     rateforge-downstream-example [OUTDIR] [--gpu N | --cuda-emulated]
//!
//! By default on every core of this CPU; `--gpu N` on GPU N (the models' CUDA kernels),
//! `--cuda-emulated` the CUDA kernels on the CPU.

use rateforge_downstream_example::{jansen_rit, mpr68_sweep};
use rateforge_rt::Target;
use std::path::PathBuf;

fn main() -> Result<(), rateforge_rt::RuntimeError> {
    let mut dir = PathBuf::from(".");
    let mut target = Target::Cpu;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--gpu" => {
                let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                target = Target::Gpu(n);
            }
            "--cuda-emulated" => target = Target::CudaEmulated,
            _ => dir = PathBuf::from(a),
        }
    }
    let jrc = jansen_rit(target)?;
    let v = jrc.array("pc/pro/v").expect("recorded");
    println!(
        "Jansen-Rit ({}): {} samples of pc/pro/v, last {:.9}",
        jrc.metadata["backend"],
        v.len(),
        v[v.len() - 1]
    );
    jrc.write_npz(&dir.join("jrc.npz"))?;
    let sweep = mpr68_sweep(target)?;
    let r = sweep.array("r").expect("recorded");
    println!(
        "Montbrio-Pazo-Roxin, 68 regions ({}): {} instances, r has shape {:?}",
        sweep.metadata["backend"],
        sweep.n_instances,
        r.shape()
    );
    sweep.write_npz(&dir.join("mpr68_sweep.npz"))?;
    Ok(())
}

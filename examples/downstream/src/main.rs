//! Runs the two compiled-in models and writes their results as `.npz` files (numpy), the same
//! arrays and metadata `rateforge run` and `rateforge sweep` write.

use rateforge_downstream_example::{jansen_rit, mpr68_sweep};
use std::path::PathBuf;

fn main() -> Result<(), rateforge_rt::RuntimeError> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let jrc = jansen_rit()?;
    let v = jrc.array("pc/pro/v").expect("recorded");
    println!(
        "Jansen-Rit: {} samples of pc/pro/v, last {:.6} mV",
        v.len(),
        v[v.len() - 1]
    );
    jrc.write_npz(&dir.join("jrc.npz"))?;
    let sweep = mpr68_sweep()?;
    let r = sweep.array("r").expect("recorded");
    println!(
        "Montbrio-Pazo-Roxin, 68 regions: {} instances, r has shape {:?}",
        sweep.n_instances,
        r.shape()
    );
    sweep.write_npz(&dir.join("mpr68_sweep.npz"))?;
    Ok(())
}

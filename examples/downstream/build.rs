// Compiles the two models into this crate: $OUT_DIR/rateforge_models.rs holds the modules `jrc`
// (Jansen-Rit, PyRates YAML) and `mpr68` (Montbrio-Pazo-Roxin on 68 regions, RateML XML, with the
// connectivity embedded), each with its Rust kernel and its CUDA kernel (PTX for GPUs where NVRTC
// is found, and the CPU emulation). Editing either model file, or a file it inherits from, reruns
// this.
fn main() -> Result<(), rateforge_build::Error> {
    rateforge_build::Build::new()
        .model("../models/jansen_rit.yaml/JRC")
        .model("../models/networks/mpr68.xml")
        .connectivity("../data/connectivity_68")
        .cuda()
        .compile()
}

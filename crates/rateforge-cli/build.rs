// Compiles two models of the benchmark suite into the binary with rateforge-build, so
// `rateforge bench` can time the statically linked typed API beside kernels built at run time.
fn main() -> Result<(), rateforge_build::Error> {
    rateforge_build::Build::new()
        .model("../../examples/models/montbrio.yaml/qif")
        .model("../../examples/models/networks/mpr68.xml")
        .compile()
}

//! The C ABI on every path. It is described once (`rateforge_kernel::abi`); these tests check
//! that every consumer lays it out as the description says:
//! * C/C++: the definitions printed from the description, compiled by the C++ compiler, give the
//!   size, alignment, offset and size of every field of every struct that Rust gives;
//! * Rust kernels: a loaded kernel reports the layout hash of the crate it was compiled against,
//!   and a library with another layout is refused before anything runs;
//! * CUDA kernels (emulated here, on a GPU in `cuda.rs`'s GPU tests): the kernel's own probe
//!   (`rf_layout`) is run on the device before the first launch, and a kernel whose argument block
//!   differs is refused, naming the field.

use rateforge::crates::runtime::abi::{
    AbiStruct, LAYOUT_HASH, Layout, RfArgs, RfCudaArgs, RfInfo, RfObserve, RfSeries,
};
use rateforge::crates::runtime::cuda::{CudaKernel, CudaKernelInfo, cuda_model, emulate};
use rateforge::crates::runtime::{Kernel, build_rust};
use rateforge_tests::*;
use std::process::Command;

const LAYOUTS: [Layout; 5] = [
    RfSeries::LAYOUT,
    RfObserve::LAYOUT,
    RfArgs::LAYOUT,
    RfInfo::LAYOUT,
    RfCudaArgs::LAYOUT,
];

#[test]
fn the_cpp_compiler_lays_out_every_struct_as_rust_does() {
    let dir = root().join("target").join("abi-test");
    std::fs::create_dir_all(&dir).unwrap();
    for history in ["double", "float"] {
        let mut src = format!("#include <cstdio>\ntypedef {history} H;\n");
        for l in &LAYOUTS {
            src.push_str(&l.c_definition());
            src.push_str(&l.c_probe("static", &format!("probe_{}", l.name)));
        }
        src.push_str("int main() {\n    unsigned long long out[256];\n");
        for l in &LAYOUTS {
            src.push_str(&format!(
                "    probe_{n}(out);\n    for (int k = 0; k < {w}; ++k) std::printf(\"%llu \", out[k]);\n    std::printf(\"\\n\");\n",
                n = l.name,
                w = l.words().len()
            ));
        }
        src.push_str("    return 0;\n}\n");
        let cpp = dir.join(format!("layout_{history}.cpp"));
        let exe = dir.join(format!("layout_{history}"));
        std::fs::write(&cpp, &src).unwrap();
        let cxx = emulate::compiler();
        let out = match Command::new(&cxx)
            .args(["-std=c++17", "-o"])
            .arg(&exe)
            .arg(&cpp)
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                eprintln!("SKIPPED: no C++ compiler `{}`: {e}", cxx.display());
                return;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Command::new(&exe).output().unwrap();
        let text = String::from_utf8(run.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), LAYOUTS.len());
        for (l, line) in LAYOUTS.iter().zip(lines) {
            let words: Vec<u64> = line
                .split_whitespace()
                .map(|w| w.parse().unwrap())
                .collect();
            l.check(&words)
                .unwrap_or_else(|e| panic!("{} (history {history}): {e}", l.name));
            eprintln!(
                "{}: {} bytes, {} fields agree (history {history})",
                l.name,
                l.size,
                l.fields.len()
            );
        }
    }
}

#[test]
fn rust_kernels_report_their_layout_and_another_layout_is_refused() {
    let model = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap();
    let k = kernel(&model);
    assert_eq!(k.info().layout_hash, LAYOUT_HASH);
    // A library that speaks ABI 4 with another layout of the structs.
    let info = k.info();
    let source = format!(
        "#[repr(C)] pub struct Info {{ a: [u32; 12], layout: u64, hash: [u8; 64] }}\n\
         static INFO: Info = Info {{ a: [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}], layout: {}, hash: *b\"{}\" }};\n\
         #[unsafe(no_mangle)] pub extern \"C\" fn rf_info_fake() -> *const Info {{ &INFO }}\n\
         #[unsafe(no_mangle)] pub extern \"C\" fn rf_run_fake(_: *const u8) -> i32 {{ 0 }}\n",
        info.abi_version,
        info.lanes,
        info.n_state,
        info.n_param,
        info.n_derived,
        info.n_series,
        info.n_delay,
        info.n_coupling,
        info.network,
        info.float_bits,
        info.history_bits,
        info.n_inlined,
        LAYOUT_HASH ^ 1,
        model.hash()
    );
    let lib = build_rust(&source, &build_options()).unwrap();
    let err = Kernel::load(&lib.library, model.ir(), "fake").unwrap_err();
    assert!(err.to_string().contains("argument structs"), "{err}");
    // A missing symbol is named.
    let err = Kernel::load(&lib.library, model.ir(), "other").unwrap_err();
    assert!(err.to_string().contains("rf_info_other"), "{err}");
}

#[test]
fn a_cuda_kernel_with_another_argument_block_is_refused_before_a_launch() {
    let model = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap();
    let options = rateforge::EmitOptions::default();
    let source = model.generate_cuda(&options).unwrap();
    let info = || CudaKernelInfo {
        float_bits: 64,
        history_bits: 64,
        inline: Vec::new(),
        uncomputed: Vec::new(),
    };
    // The kernel as generated passes the check.
    let dev = emulate::load(&source, &build_options()).unwrap();
    assert!(CudaKernel::new(cuda_model(model.ir(), 0), info(), Box::new(dev)).is_ok());
    // One field wider than the runtime expects (as an out-of-date kernel would be).
    let altered = source.replace(
        "    unsigned int dense;\n",
        "    unsigned long long dense;\n",
    );
    assert_ne!(altered, source);
    let dev = emulate::load(&altered, &build_options()).unwrap();
    let err = CudaKernel::new(cuda_model(model.ir(), 0), info(), Box::new(dev)).unwrap_err();
    assert!(err.to_string().contains("`dense`"), "{err}");
}

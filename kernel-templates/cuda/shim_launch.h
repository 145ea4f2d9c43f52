// rateforge CUDA shim, part 2 (after the kernel source): a launch as a loop over blocks and threads.
#ifndef RATEFORGE_CUDA_SHIM_LAUNCH_H
#define RATEFORGE_CUDA_SHIM_LAUNCH_H

// A launch of any kernel (the runtime's and the stand-alone driver's RF_LAUNCH): `kernel(args...)`
// for every block and thread.
template <class Kernel, class... Args>
static inline void rf_shim_launch(Kernel kernel, unsigned int grid, unsigned int block, Args... args) {
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned int b = 0; b < grid; ++b) {
        blockIdx.x = b;
        for (unsigned int t = 0; t < block; ++t) {
            threadIdx.x = t;
            kernel(args...);
        }
    }
}

// The names of the two entry points: define them before this file to link several kernels into
// one program (rateforge-build names them after each kernel's module).
#ifndef RF_EMULATE
#define RF_EMULATE rf_emulate
#endif
#ifndef RF_EMULATE_LAYOUT
#define RF_EMULATE_LAYOUT rf_emulate_layout
#endif

// For the runtime's emulated device: one launch of `rf_run` over `grid` blocks of `block` threads.
extern "C" int RF_EMULATE(const RfCudaArgs* args, unsigned int grid, unsigned int block) {
    if (!args) return 1;
    rf_shim_launch(rf_run, grid, block, *args);
    return 0;
}

// The C++ compiler's layout of the argument block (`rf_layout`), which the host compares with its
// own before the first launch.
extern "C" void RF_EMULATE_LAYOUT(unsigned long long* out) { rf_shim_launch(rf_layout, 1, 1, out); }

#endif

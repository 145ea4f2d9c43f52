// rateforge CUDA shim: compiles a generated CUDA kernel (and the stand-alone driver) as plain C++
// on the CPU, for testing without a GPU. The kernel is one thread per instance with no shared
// memory and no synchronisation, so a launch is a loop over blocks and threads.
//
// Use: this header, then the kernel source, then `shim_launch.h` (which defines
// `rf_emulate`). Compile with `-ffp-contract=off` so that, like NVRTC with `--fmad=false`, no
// multiply-add is fused.
#ifndef RATEFORGE_CUDA_SHIM_H
#define RATEFORGE_CUDA_SHIM_H

#include <math.h>
#include <cstdlib>
#include <cstring>

#define RF_DEVICE static inline
#define RF_KERNEL static
#define RF_SQRT(x) __builtin_sqrt(x)
#define RF_AS_U64(x) __builtin_bit_cast(unsigned long long, (double)(x))
#define RF_FROM_U64(u) __builtin_bit_cast(double, (unsigned long long)(u))
#define RF_AS_U32(x) __builtin_bit_cast(unsigned int, (float)(x))
#define RF_FROM_U32(u) __builtin_bit_cast(float, (unsigned int)(u))
#define __fma_rn(a, b, c) __builtin_fma((a), (b), (c))
#define __fmaf_rn(a, b, c) __builtin_fmaf((a), (b), (c))

// The CUDA built-ins the kernel reads.
struct rf_shim_dim3 {
    unsigned int x, y, z;
};
static thread_local rf_shim_dim3 threadIdx = {0, 0, 0};
static thread_local rf_shim_dim3 blockIdx = {0, 0, 0};
static thread_local rf_shim_dim3 blockDim = {1, 1, 1};
static thread_local rf_shim_dim3 gridDim = {1, 1, 1};
#define RF_THREAD_INDEX ((unsigned long long)blockIdx.x * (unsigned long long)blockDim.x + (unsigned long long)threadIdx.x)

// The device math library: the C library's functions (math.h declares them globally).

// The runtime API the stand-alone driver uses, on host memory.
typedef int cudaError_t;
#define cudaSuccess 0
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
static inline cudaError_t cudaMalloc(void** p, size_t n) {
    *p = std::calloc(n ? n : 1, 1);
    return *p ? 0 : 2;
}
static inline cudaError_t cudaFree(void* p) {
    std::free(p);
    return 0;
}
static inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
    if (n) std::memcpy(d, s, n);
    return 0;
}
static inline cudaError_t cudaMemset(void* d, int v, size_t n) {
    std::memset(d, v, n);
    return 0;
}
static inline cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
    *free_bytes = *total_bytes = (size_t)1 << 40;
    return 0;
}
static inline cudaError_t cudaDeviceSynchronize() { return 0; }
static inline cudaError_t cudaGetLastError() { return 0; }
static inline const char* cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }

#endif

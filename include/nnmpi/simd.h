/* simd: NN_SIMD, put on the functions holding the hot element loops (optimiser updates, fixed-
 * point conversions, activations, batch assembly): GCC compiles each for AVX-512 (x86-64-v4),
 * AVX2 (x86-64-v3) and the x86-64 baseline, and the loader picks the best the CPU has. Element
 * loops only: each value's arithmetic is the same IEEE operations in every variant (no FMA
 * contraction in ISO C mode; reductions in floating point stay sequential), so results have the
 * same bits on any CPU — which exact mode and replicated weights rely on. cmake -DNN_SIMD=OFF
 * builds the baseline only. Layer 0. */
#ifndef NNMPI_SIMD_H
#define NNMPI_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(NN_NO_SIMD)
#define NN_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_SIMD
#endif

#endif

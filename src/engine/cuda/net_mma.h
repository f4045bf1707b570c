/* Warp-level tensor-core helpers: mma.sync m16n8k16 (FP16 in, FP32
 * accumulation) and ldmatrix, for kernels that keep a product's result in
 * registers (to apply its epilogue there, or feed it to the next product)
 * instead of WMMA's opaque fragments, which go through shared memory.
 *
 * Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16"), lane =
 * 4 g + t, each register two FP16 values (lower column in the low half):
 *   A 16x16:   a0 (row g, col 2t), a1 (row g+8, col 2t),
 *              a2 (row g, col 2t+8), a3 (row g+8, col 2t+8)
 *   B 16x8:    b0 (k 2t, col g), b1 (k 2t+8, col g)
 *   C 16x8:    c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, same cols)
 * so the two C tiles of columns 16j..16j+15, rounded to FP16 pairs, are
 * exactly the A fragment of k-step j of a following product.
 * CUDA C++ only; sm_75+ (sm_75 runs each k16 step as two k8 steps). */
#ifndef PS_ENGINE_CUDA_NET_MMA_H
#define PS_ENGINE_CUDA_NET_MMA_H

#include <cuda_fp16.h>

__device__ __forceinline__ unsigned mma_smem(const void *p) {
    return (unsigned)__cvta_generic_to_shared(p);
}

/* Four 8x8 FP16 matrices from shared memory: lanes 8i..8i+7 give the row
 * addresses of matrix i (16-byte aligned), r[i] is that matrix's fragment.
 * For a 16x16 tile at p (row stride ld halves) each lane passes
 * p + (lane % 16) * ld + (lane / 16) * 8: without .trans that yields the A
 * fragment of a row-major [row][k] tile; with .trans (mma_ldsm4_t) of a
 * row-major [k][n] tile it yields the B fragments of columns 0-7 (r0, r1)
 * and 8-15 (r2, r3). */
__device__ __forceinline__ void mma_ldsm4(unsigned r[4], const __half *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(mma_smem(p)));
}

__device__ __forceinline__ void mma_ldsm4_t(unsigned r[4], const __half *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(mma_smem(p)));
}

/* The B fragment of one 16x8 tile of a row-major [k][n] tile at p: two
 * 8x8 matrices, rows from lanes 0-15 (pass the same address formula). */
__device__ __forceinline__ void mma_ldsm2_t(unsigned r[2], const __half *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(mma_smem(p)));
}

/* c += a (16x16) x b (16x8). */
__device__ __forceinline__ void mma_16816(float c[4], const unsigned a[4], unsigned b0,
                                          unsigned b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
        "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(b0));
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[2]), "r"(a[3]), "r"(b1));
#endif
}

/* Two floats as one register of FP16 (round to nearest even), x low. */
__device__ __forceinline__ unsigned mma_pack(float x, float y) {
    __half2 h = __floats2half2_rn(x, y);
    return *reinterpret_cast<unsigned *>(&h);
}

#endif

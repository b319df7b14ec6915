/* blas — the one door to the BLAS library (OpenBLAS, OpenMP build).
 *
 * Every matrix product in runnel goes through rn_sgemm, so the vendor, its
 * header and its thread settings live in blas.c and nowhere else. All
 * matrices are row-major; op(X) is X or its transpose.
 *
 *     rn_blas_set_threads(2);   // OpenBLAS and runnel's OpenMP loops share it
 *     // C (M,N) = A (M,K) @ B^T, with B stored (N,K)
 *     rn_sgemm(RN_NOTRANS, RN_TRANS, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
 *
 * rn_sgemm_ref is the naive triple loop with the same contract: slow,
 * obviously right, for tests.
 */
#ifndef RN_BLAS_H
#define RN_BLAS_H

enum rn_trans { RN_NOTRANS = 0, RN_TRANS = 1 };

/* C = alpha * op(A) @ op(B) + beta * C, op(A) (M,K), op(B) (K,N), C (M,N).
 * A is stored (M,K) with row stride lda >= K, or (K,M) with lda >= M when
 * transposed; likewise B; C has row stride ldc >= N. beta == 0 means C is
 * write-only (NaN or garbage in C does not propagate), as in BLAS.
 * M, N or K may be 0. Bad strides are a caller bug (RN_ASSERT).
 * Called inside an OpenMP parallel region it runs on the calling thread. */
void rn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C,
              int ldc);
void rn_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);

/* Threads for OpenBLAS and for runnel's own OpenMP loops (one pool: the
 * OpenMP build of OpenBLAS runs on libgomp's threads). n <= 0 leaves the
 * default (all cores, or OMP_NUM_THREADS). */
void rn_blas_set_threads(int n);
/* Threads a parallel product will use now. */
int rn_blas_threads(void);
/* How the linked OpenBLAS parallelises: "openmp", "pthreads" or
 * "sequential". runnel expects "openmp"; anything else means the binary
 * picked up another build at run time (check its rpath / LD_LIBRARY_PATH). */
const char *rn_blas_parallel(void);
/* OpenBLAS's build line and the kernel set chosen for this CPU, e.g.
 * "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64" and
 * "SkylakeX". Static strings owned by the library. */
const char *rn_blas_config(void);
const char *rn_blas_corename(void);

#endif

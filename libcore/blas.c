/* blas — rn_sgemm over OpenBLAS's cblas_sgemm; the only includer of cblas.h. */
#include "blas.h"

#include <cblas.h>
#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "err.h"

static void check_args(int trans_a, int trans_b, int M, int N, int K, int lda, int ldb,
                       int ldc)
{
    RN_ASSERT(M >= 0 && N >= 0 && K >= 0);
    RN_ASSERT(lda >= (trans_a ? (M > 1 ? M : 1) : (K > 1 ? K : 1)));
    RN_ASSERT(ldb >= (trans_b ? (K > 1 ? K : 1) : (N > 1 ? N : 1)));
    RN_ASSERT(ldc >= (N > 1 ? N : 1));
}

void rn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C,
              int ldc)
{
    check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
    if (M == 0 || N == 0)
        return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
                beta, C, ldc);
}

/* Accumulates in double so that it is a better reference than what it checks. */
void rn_sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc)
{
    check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++) {
                float a = trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                float b = trans_b ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}

void rn_blas_set_threads(int n)
{
    if (n <= 0)
        return;
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int rn_blas_threads(void)
{
    return openblas_get_num_threads();
}

const char *rn_blas_parallel(void)
{
    switch (openblas_get_parallel()) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "openmp";
    default: return "unknown";
    }
}

const char *rn_blas_config(void)
{
    return openblas_get_config();
}

const char *rn_blas_corename(void)
{
    return openblas_get_corename();
}

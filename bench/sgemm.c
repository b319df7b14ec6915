/* sgemm — the fp32 matrix-product ceiling of this machine through rn_sgemm
 * (OpenBLAS, OpenMP build), the number every training-speed claim is
 * measured against (DESIGN.md 5). Run by bench/sgemm.sh.
 *
 *   sgemm [-t THREADS] [-r RUNS] MxNxK...
 *
 * For each shape: one untimed warm-up, then RUNS timed products
 * C (M,N) = A (M,K) B (K,N); prints "sgemm M N K GFLOPS_MEDIAN MIN MAX"
 * (2MNK flops per product) on stdout, one line per shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = 0, runs = 7, i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        if (!strcmp(argv[i], "-t"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            runs = atoi(argv[i + 1]);
        else
            goto usage;
    }
    if (i >= argc || runs < 1 || runs > 1000)
        goto usage;
    rn_blas_set_threads(threads);
    fprintf(stderr, "sgemm: %s, core %s, %s threads: %d\n", rn_blas_config(), rn_blas_corename(),
            rn_blas_parallel(), rn_blas_threads());
    for (; i < argc; i++) {
        int M, N, K;
        if (sscanf(argv[i], "%dx%dx%d", &M, &N, &K) != 3 || M < 1 || N < 1 || K < 1)
            goto usage;
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N),
              *C = malloc(sizeof(float) * M * N);
        double *t = malloc(sizeof(double) * runs);
        if (!A || !B || !C || !t) {
            fprintf(stderr, "sgemm: out of memory for %s\n", argv[i]);
            return 1;
        }
        for (size_t j = 0; j < (size_t)M * K; j++)
            A[j] = (float)(j % 13) * 0.01f;
        for (size_t j = 0; j < (size_t)K * N; j++)
            B[j] = (float)(j % 7) * 0.01f;
        rn_sgemm(RN_NOTRANS, RN_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        for (int r = 0; r < runs; r++) {
            double t0 = now();
            rn_sgemm(RN_NOTRANS, RN_NOTRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
            t[r] = now() - t0;
        }
        qsort(t, runs, sizeof(double), cmp);
        double fl = 2.0 * M * N * K * 1e-9;
        printf("sgemm %d %d %d %.1f %.1f %.1f\n", M, N, K, fl / t[runs / 2], fl / t[runs - 1],
               fl / t[0]);
        fflush(stdout);
        free(A), free(B), free(C), free(t);
    }
    return 0;
usage:
    fprintf(stderr, "usage: sgemm [-t THREADS] [-r RUNS] MxNxK...\n");
    return 2;
}

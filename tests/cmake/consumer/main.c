/*
 * The consumer that tests/cmake/run.sh builds against libgmmvi.a three ways (find_package,
 * add_subdirectory, pkg-config). It fits a Gaussian with a known mean and standard deviations
 * in GMMVI_DIM dimensions, for whatever sizes the library was built with, and exits with 0 only
 * if the fitted mixture's mean and standard deviations match them. It also reports whether the
 * library has every design option (GMMVI_ALL_OPTIONS).
 */
#include <math.h>
#include <stdio.h>

#include "gmmvi.h"

static gmmvi_state state;

static double target_mean(int i) { return 1.0 + 0.5 * i; }
static double target_std(int i) { return 0.5 + 0.1 * (i % 3); }

/* log N(x; mean, diag(std^2)) up to a constant, and its gradient when asked for. */
static int log_density(void *ctx, const gmmvi_real *x, size_t n, gmmvi_real *log_p, gmmvi_real *grad) {
    (void)ctx;
    for (size_t s = 0; s < n; ++s) {
        double acc = 0.0;
        for (int i = 0; i < GMMVI_DIM; ++i) {
            double z = ((double)x[s * GMMVI_DIM + i] - target_mean(i)) / target_std(i);
            acc += z * z;
            if (grad) grad[s * GMMVI_DIM + i] = (gmmvi_real)(-z / target_std(i));
        }
        log_p[s] = (gmmvi_real)(-0.5 * acc);
    }
    return 0;
}

static int fail(const char *what, gmmvi_status st) {
    fprintf(stderr, "%s: %s\n", what, gmmvi_status_str(st));
    return 1;
}

int main(void) {
    /* A SAMTRUX-only library (GMMVI_ALL_OPTIONS=OFF) rejects the other options. */
    gmmvi_config cfg;
    gmmvi_status st = gmmvi_config_from_codeword("SAMTRON", &cfg);
    if (st != GMMVI_OK) return fail("gmmvi_config_from_codeword", st);
    st = gmmvi_init(&state, sizeof state, &cfg, 7);
    if (st != GMMVI_OK && st != GMMVI_BAD_CONFIG) return fail("gmmvi_init(SAMTRON)", st);
    const char *options = st == GMMVI_OK ? "all options" : "SAMTRUX only";

    st = gmmvi_config_default(&cfg); /* SAMTRUX from one N(0, I) component */
    if (st != GMMVI_OK) return fail("gmmvi_config_default", st);
    st = gmmvi_init(&state, sizeof state, &cfg, 7);
    if (st != GMMVI_OK) return fail("gmmvi_init", st);
    gmmvi_report rep;
    st = gmmvi_run(&state, log_density, NULL, 400, 0, &rep);
    if (st != GMMVI_OK) return fail("gmmvi_run", st);

    /* Mean and variance of the mixture: sum_k w_k m_k and sum_k w_k (S_k + m_k m_k^T) - m m^T. */
    double mean[GMMVI_DIM] = {0}, second[GMMVI_DIM] = {0};
    for (size_t k = 0; k < rep.components; ++k) {
        gmmvi_real w, m[GMMVI_DIM], cov[GMMVI_DIM * GMMVI_DIM];
        st = gmmvi_get_component(&state, k, &w, m, cov, NULL);
        if (st != GMMVI_OK) return fail("gmmvi_get_component", st);
        for (int i = 0; i < GMMVI_DIM; ++i) {
            mean[i] += (double)w * m[i];
            second[i] += (double)w * ((double)cov[i * GMMVI_DIM + i] + (double)m[i] * m[i]);
        }
    }
    double worst_mean = 0.0, worst_std = 0.0;
    for (int i = 0; i < GMMVI_DIM; ++i) {
        double sd = sqrt(second[i] - mean[i] * mean[i]);
        worst_mean = fmax(worst_mean, fabs(mean[i] - target_mean(i)));
        worst_std = fmax(worst_std, fabs(sd / target_std(i) - 1.0));
    }
    printf("GMMVI_DIM=%d, %s: %llu iterations, %u components, largest mean error %.1e, "
           "largest relative std error %.1e\n",
           GMMVI_DIM, options, (unsigned long long)rep.iterations, (unsigned)rep.components, worst_mean, worst_std);
    return worst_mean < 0.02 && worst_std < 0.05 ? 0 : 2;
}

/*
 * Fitting and sampling at the same time: one thread runs gmmvi_step and publishes a snapshot
 * of the mixture after every step into a double buffer; another thread draws from the latest
 * published snapshot every 200 microseconds with its own gmmvi_rng. The fitting thread never
 * waits for the sampler longer than one draw, and the sampler never sees a half-written model.
 *
 * The target is N(1, I) in GMMVI_DIM dimensions. Exits 0 when every draw was finite and the
 * last snapshot's mean is near 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "gmmvi.h"

#define ITERATIONS 60
#define DRAWS 16

static gmmvi_state state;
static gmmvi_model models[2];
static pthread_mutex_t locks[2] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
/* Index of the newest complete snapshot, -1 before the first. */
static atomic_int published = -1;
static atomic_bool fitting_done = 0;

/* log p(x) = -|x - 1|^2 / 2 and its gradient 1 - x. */
static int target(void *ctx, const gmmvi_real *x, size_t n, gmmvi_real *log_p, gmmvi_real *grad) {
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        gmmvi_real s = 0;
        for (size_t d = 0; d < GMMVI_DIM; d++) {
            gmmvi_real r = x[i * GMMVI_DIM + d] - 1;
            s += r * r;
            if (grad) grad[i * GMMVI_DIM + d] = -r;
        }
        log_p[i] = -s / 2;
    }
    return 0;
}

static void *fit(void *arg) {
    int *failed = arg;
    for (int it = 0; it < ITERATIONS && !*failed; it++) {
        gmmvi_status st = gmmvi_step(&state, target, NULL, NULL);
        /* Write the buffer the sampler is not reading from (it may still finish a draw from
         * it if it loaded the index before the last switch: the lock waits for that). */
        int w = atomic_load(&published) == 0 ? 1 : 0;
        pthread_mutex_lock(&locks[w]);
        if (st == GMMVI_OK) st = gmmvi_snapshot(&state, &models[w]);
        pthread_mutex_unlock(&locks[w]);
        if (st != GMMVI_OK) {
            fprintf(stderr, "fit: %s\n", gmmvi_status_str(st));
            *failed = 1;
        }
        atomic_store(&published, w);
    }
    atomic_store(&fitting_done, 1);
    return NULL;
}

struct sampler {
    long draws, nonfinite, failures;
};

static void *sample(void *arg) {
    struct sampler *s = arg;
    gmmvi_rng rng;
    gmmvi_rng_seed(&rng, 42);
    gmmvi_real xs[DRAWS * GMMVI_DIM];
    const struct timespec pause = {0, 200000};
    while (!atomic_load(&fitting_done)) {
        int p = atomic_load(&published);
        if (p >= 0) {
            pthread_mutex_lock(&locks[p]);
            gmmvi_status st = gmmvi_model_sample(&models[p], &rng, xs, DRAWS);
            pthread_mutex_unlock(&locks[p]);
            if (st != GMMVI_OK) {
                s->failures++;
            } else {
                s->draws += DRAWS;
                for (size_t i = 0; i < DRAWS * GMMVI_DIM; i++) s->nonfinite += !isfinite(xs[i]);
            }
        }
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int main(void) {
    gmmvi_config cfg;
    gmmvi_config_default(&cfg);
    gmmvi_status st = gmmvi_init(&state, sizeof state, &cfg, 1);
    for (int i = 0; i < 2 && st == GMMVI_OK; i++) st = gmmvi_model_init(&models[i]);
    if (st != GMMVI_OK) {
        fprintf(stderr, "init: %s\n", gmmvi_status_str(st));
        return 1;
    }
    int failed = 0;
    struct sampler s = {0, 0, 0};
    pthread_t fitter, sampler;
    if (pthread_create(&sampler, NULL, sample, &s) != 0 || pthread_create(&fitter, NULL, fit, &failed) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    pthread_join(fitter, NULL);
    pthread_join(sampler, NULL);

    /* Both threads are joined: the last snapshot is read without locks. */
    int p = atomic_load(&published);
    double mean = 0;
    long n = 0;
    gmmvi_rng rng;
    gmmvi_rng_seed(&rng, 7);
    gmmvi_real xs[DRAWS * GMMVI_DIM];
    for (int b = 0; b < 64 && p >= 0; b++) {
        if (gmmvi_model_sample(&models[p], &rng, xs, DRAWS) != GMMVI_OK) break;
        for (size_t i = 0; i < DRAWS * GMMVI_DIM; i++) mean += xs[i];
        n += DRAWS * GMMVI_DIM;
    }
    mean = n ? mean / (double)n : NAN;
    printf("fit: %d iterations, sampler: %ld draws, %ld non-finite values, %ld failed calls\n", ITERATIONS,
           s.draws, s.nonfinite, s.failures);
    printf("last snapshot: mean %.3f (target 1)\n", mean);
    int ok = !failed && s.draws > 0 && s.nonfinite == 0 && s.failures == 0 && fabs(mean - 1) < 0.2;
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

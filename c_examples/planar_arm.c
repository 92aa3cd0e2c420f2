/*
 * planar_arm.c: a robot picks inverse-kinematics solutions with gmmvi's C API.
 *
 * A 7-joint planar arm with unit links should reach (3, 3) or (3, -3) (arm.h). gmmvi fits a
 * Gaussian mixture to the posterior over joint angles; the controller then draws joint
 * configurations from it. Every joint has limits (arm.h), declared with gmmvi_set_bounds: the
 * fit and every draw stay inside them. No malloc: the optimiser lives in a static gmmvi_state.
 *
 *   cargo build --release -p gmmvi-ffi
 *   cc -std=c11 -O2 -Iinclude c_examples/planar_arm.c target/release/libgmmvi.a -lm -o planar_arm
 */
#include <stdio.h>

#include "arm.h"
#include "gmmvi.h"

/* The whole optimiser, GMMVI_STATE_SIZE bytes in .bss. */
static gmmvi_state state;

/* 1000 samples for the summary, drawn in blocks (the same draws as one call; less RAM). */
#define CHECK_SAMPLES 1000
#define CHECK_BLOCK 10 /* also holds the 10 configurations shown */
#define REACH_RADIUS 0.2
static gmmvi_real checks[CHECK_BLOCK][GMMVI_DIM];

/* Prints x as printf("%*.*f", width, decimals, x) does. Firmware builds (ARM_PRINT_FIXED,
   firmware/c/run.sh) print it as a rounded fixed-point integer instead: newlib-nano's %f links
   about 10 KiB of float conversion. The rounding is exact and in integers (no software double
   arithmetic on an FPU without doubles): |x| = m 2^e, so |x| 10^decimals = m 10^decimals 2^e
   (below 2^63 for decimals <= 3), shifted right by -e and rounded half to even; for
   |x| 10^decimals < 2^32 and decimals <= 3. */
#ifdef ARM_PRINT_FIXED
#include <stdint.h>
#include <string.h>

static void print_real(double x, int width, int decimals) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int e = (int)(bits >> 52 & 0x7FF);
    uint64_t v = bits & ((UINT64_C(1) << 52) - 1);
    if (e) v |= UINT64_C(1) << 52; else e = 1; /* normal, or subnormal */
    e -= 1075;
    for (int i = 0; i < decimals; ++i) v *= 10;
    unsigned long n;
    if (e >= 0) {
        n = ~0UL; /* |x| >= 2^52 (or not finite): beyond the range */
    } else if (e > -64) {
        uint64_t q = v >> -e, rest = v - (q << -e), half = UINT64_C(1) << (-e - 1);
        n = (unsigned long)(q + (rest > half || (rest == half && (q & 1)))); /* a tie rounds to even */
    } else {
        n = 0;
    }
    char text[32], *at = text + sizeof text;
    *--at = '\0';
    for (int i = 0; i < decimals; ++i, n /= 10) *--at = (char)('0' + n % 10);
    if (decimals > 0) *--at = '.';
    do *--at = (char)('0' + n % 10); while ((n /= 10) != 0);
    int zero = 1;
    for (const char *c = at; *c; ++c) zero &= *c == '0' || *c == '.';
    if ((bits >> 63) && !zero) *--at = '-';
    printf("%*s", width, at);
}
#else
static void print_real(double x, int width, int decimals) { printf("%*.*f", width, decimals, x); }
#endif

/* Reports a failed call with what the library recorded about it (its buffer is on the stack
   only while reporting, not during the fit). */
static int fail(const char *what, gmmvi_status st) {
    char why[256];
    gmmvi_last_error(&state, why, sizeof why, NULL);
    fprintf(stderr, "%s: %s%s%s\n", what, gmmvi_status_str(st), why[0] ? ": " : "", why);
    return 1;
}

int main(void) {
    gmmvi_status st;
    { /* a block of its own: the stack holds the config and the limits only while they are used */
        gmmvi_config cfg;
        st = gmmvi_config_default(&cfg); /* SAMTRUX, fitted to the build's sizes */
        if (st != GMMVI_OK) return fail("gmmvi_config_default", st); /* e.g. a header of another build */
        cfg.initial_components = 4;                                 /* drawn from the N(0, I) prior */
        for (int i = 0; i < GMMVI_DIM; ++i) cfg.initial_std[i] = 0.3f;
        /* New components may also start at 50 draws from the prior: a goal that every initial
           component left is found again (both goals in 19 of seeds 1-20, 16 of 20 without). */
        cfg.num_prior_samples = 50;
        st = gmmvi_init(&state, sizeof state, &cfg, 1);
        if (st != GMMVI_OK) return fail("gmmvi_init", st);
        gmmvi_real lo[GMMVI_DIM], hi[GMMVI_DIM];
        arm_limits(lo, hi);
        st = gmmvi_set_bounds(&state, lo, hi, GMMVI_DIM);
        if (st != GMMVI_OK) return fail("gmmvi_set_bounds", st);
    }

    gmmvi_report rep;
    for (int round = 1; round <= 6; ++round) {
        st = gmmvi_run(&state, arm_log_density, NULL, 250, 0, &rep);
        if (st != GMMVI_OK) return fail("gmmvi_run", st);
        /* unsigned long: newlib-nano's printf has no %llu. */
        printf("iteration %4lu: %7lu evaluations, %lu components, ELBO estimate ", (unsigned long)rep.iterations,
               (unsigned long)rep.evaluations, (unsigned long)rep.components);
        print_real(rep.elbo, 8, 3);
        printf("\n");
    }

    /* What a controller does: draw joint configurations and use them. */
    gmmvi_real (*q)[GMMVI_DIM] = checks; /* 10 rows, reused below */
    st = gmmvi_sample(&state, &q[0][0], 10);
    if (st != GMMVI_OK) return fail("gmmvi_sample", st);
    printf("10 joint configurations (rad) and their end effectors:\n");
    int inside = 0;
    for (int s = 0; s < 10; ++s) {
        inside += arm_within_limits(q[s]);
        arm_real sin_phi[ARM_JOINTS], cos_phi[ARM_JOINTS], ex, ey;
        arm_forward(q[s], sin_phi, cos_phi, &ex, &ey);
        printf("  [");
        for (int i = 0; i < GMMVI_DIM; ++i) {
            printf("%s", i ? ", " : "");
            print_real(q[s][i], 6, 3);
        }
        printf("] -> (");
        print_real(ex, 6, 3);
        printf(", ");
        print_real(ey, 6, 3);
        printf(")\n");
    }

    int near[ARM_GOALS] = {0};
    for (int b = 0; b < CHECK_SAMPLES; b += CHECK_BLOCK) {
        st = gmmvi_sample(&state, &checks[0][0], CHECK_BLOCK);
        if (st != GMMVI_OK) return fail("gmmvi_sample", st);
        for (int s = 0; s < CHECK_BLOCK; ++s) {
            inside += arm_within_limits(checks[s]);
            int g = arm_goal_reached(checks[s], REACH_RADIUS);
            if (g >= 0) near[g]++;
        }
    }
    int reached = 0;
    for (int g = 0; g < ARM_GOALS; ++g) reached += near[g] >= CHECK_SAMPLES / 10;
    printf("goals reached: %d of %d (fraction of %d samples within ", reached, ARM_GOALS, CHECK_SAMPLES);
    print_real(REACH_RADIUS, 0, 1);
    printf(": ");
    print_real((arm_real)near[0] / CHECK_SAMPLES, 0, 3);
    printf(" at (3, 3), ");
    print_real((arm_real)near[1] / CHECK_SAMPLES, 0, 3);
    printf(" at (3, -3))\n");
    printf("joint limits: %d of %d samples within (", inside, CHECK_SAMPLES + 10);
    print_real(-ARM_JOINT_LIMIT, 0, 1);
    printf(", ");
    print_real(ARM_JOINT_LIMIT, 0, 1);
    printf(") rad\n");
    return reached == ARM_GOALS && inside == CHECK_SAMPLES + 10 ? 0 : 2;
}

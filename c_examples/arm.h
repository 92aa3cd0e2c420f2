/*
 * The task of planar_arm.c and planar_arm.cpp: inverse kinematics of a planar arm with
 * ARM_JOINTS unit links that should put its end effector at either of two goals.
 *
 * Joint angles q, absolute link angles phi_i = q_1 + ... + q_i, end effector
 * e(q) = (sum_i cos phi_i, sum_i sin phi_i). The posterior over joint configurations is
 *
 *   log p~(q) = sum_i -q_i^2 / 2                                    (prior N(0, 1) per joint)
 *             + log sum_g exp(-|e(q) - goal_g|^2 / (2 ARM_LIK_STD^2))   (reach either goal)
 *
 * up to a constant: every configuration that reaches a goal, weighted by the prior. Every joint
 * is limited to (-ARM_JOINT_LIMIT, ARM_JOINT_LIMIT): the examples declare the limits with
 * gmmvi_set_bounds, so the posterior is the one above restricted to them, and the sampled
 * configurations never leave them.
 */
#ifndef ARM_H
#define ARM_H

#include <math.h>
#include <stddef.h>

#include "gmmvi.h"

#define ARM_JOINTS 7
#define ARM_GOALS 2
#define ARM_LIK_STD 0.05
/* Joint limits in rad (about +-86 degrees): both goals stay reachable. */
#define ARM_JOINT_LIMIT 1.5

#if GMMVI_DIM != ARM_JOINTS
#error "the planar-arm examples need GMMVI_DIM = 7"
#endif

/* The arithmetic of the task: double, or with ARM_SINGLE defined float, for an FPU without
   double precision (firmware/c/run.sh). The float sine and cosine reduce by pi/2 in two parts
   (Cody-Waite) and evaluate Taylor polynomials on [-pi/4, pi/4]: a C library's sinf may reduce
   in double, which such an FPU runs in software. */
#ifdef ARM_SINGLE
typedef float arm_real;
#define ARM_EXP expf
#define ARM_LOG logf
static inline void arm_sincos(float a, float *s, float *c) {
    const float pi_2_hi = 1.5703125f;      /* 8 significant bits: n * pi_2_hi is exact */
    const float pi_2_lo = 4.8382679e-4f;   /* pi/2 - pi_2_hi */
    float t = a * 0.63661977f;             /* a / (pi/2) */
    int n = t >= 0.0f ? (int)(t + 0.5f) : (int)(t - 0.5f);
    float x = (a - (float)n * pi_2_hi) - (float)n * pi_2_lo, x2 = x * x;
    float sx = x * (1.0f + x2 * (-1.0f / 6 + x2 * (1.0f / 120 + x2 * (-1.0f / 5040 + x2 * (1.0f / 362880)))));
    float cx = 1.0f + x2 * (-0.5f + x2 * (1.0f / 24 + x2 * (-1.0f / 720 + x2 * (1.0f / 40320 + x2 * (-1.0f / 3628800)))));
    switch (n & 3) {
    case 0: *s = sx; *c = cx; break;
    case 1: *s = cx; *c = -sx; break;
    case 2: *s = -sx; *c = -cx; break;
    default: *s = -cx; *c = sx; break;
    }
}
#else
typedef double arm_real;
#define ARM_EXP exp
#define ARM_LOG log
static inline void arm_sincos(double a, double *s, double *c) {
    *s = sin(a);
    *c = cos(a);
}
#endif

static const double ARM_GOAL[ARM_GOALS][2] = {{3.0, 3.0}, {3.0, -3.0}};

/* End effector of joint angles q: writes (ex, ey) and the sines and cosines of the absolute
   link angles phi_i. */
static inline void arm_forward(const gmmvi_real *q, arm_real sin_phi[ARM_JOINTS], arm_real cos_phi[ARM_JOINTS],
                               arm_real *ex, arm_real *ey) {
    arm_real a = 0, x = 0, y = 0;
    for (int i = 0; i < ARM_JOINTS; ++i) {
        a += (arm_real)q[i];
        arm_sincos(a, &sin_phi[i], &cos_phi[i]);
        x += cos_phi[i];
        y += sin_phi[i];
    }
    *ex = x;
    *ey = y;
}

/* The gmmvi_log_density_fn of the task: log p~ for n configurations and, if grad is not NULL,
   its gradient. ctx is unused. */
static inline int arm_log_density(void *ctx, const gmmvi_real *x, size_t n, gmmvi_real *log_p, gmmvi_real *grad) {
    (void)ctx;
    const arm_real inv_var = (arm_real)(1.0 / (ARM_LIK_STD * ARM_LIK_STD));
    for (size_t r = 0; r < n; ++r) {
        const gmmvi_real *q = x + r * ARM_JOINTS;
        arm_real sin_phi[ARM_JOINTS], cos_phi[ARM_JOINTS], ex, ey;
        arm_forward(q, sin_phi, cos_phi, &ex, &ey);
        arm_real prior = 0;
        for (int i = 0; i < ARM_JOINTS; ++i) prior -= (arm_real)0.5 * (arm_real)q[i] * (arm_real)q[i];
        /* log-sum-exp over the goals, with each goal's responsibility for the gradient */
        arm_real l[ARM_GOALS], m = -INFINITY;
        for (int g = 0; g < ARM_GOALS; ++g) {
            arm_real dx = ex - (arm_real)ARM_GOAL[g][0], dy = ey - (arm_real)ARM_GOAL[g][1];
            l[g] = (arm_real)-0.5 * (dx * dx + dy * dy) * inv_var;
            if (l[g] > m) m = l[g];
        }
        arm_real s = 0;
        for (int g = 0; g < ARM_GOALS; ++g) s += ARM_EXP(l[g] - m);
        log_p[r] = (gmmvi_real)(prior + m + ARM_LOG(s));
        if (grad == NULL) continue;
        /* d(lse)/de = sum_g resp_g (goal_g - e) / var; de/dq_j sums over links i >= j */
        arm_real gx = 0, gy = 0;
        for (int g = 0; g < ARM_GOALS; ++g) {
            arm_real resp = ARM_EXP(l[g] - m) / s;
            gx += resp * ((arm_real)ARM_GOAL[g][0] - ex) * inv_var;
            gy += resp * ((arm_real)ARM_GOAL[g][1] - ey) * inv_var;
        }
        arm_real tail_sin = 0, tail_cos = 0;
        for (int j = ARM_JOINTS - 1; j >= 0; --j) {
            tail_sin += sin_phi[j];
            tail_cos += cos_phi[j];
            grad[r * ARM_JOINTS + j] = (gmmvi_real)(-(arm_real)q[j] - gx * tail_sin + gy * tail_cos);
        }
    }
    return 0;
}

/* Joint limits as gmmvi_set_bounds takes them. */
static inline void arm_limits(gmmvi_real lo[ARM_JOINTS], gmmvi_real hi[ARM_JOINTS]) {
    for (int i = 0; i < ARM_JOINTS; ++i) {
        lo[i] = (gmmvi_real)-ARM_JOINT_LIMIT;
        hi[i] = (gmmvi_real)ARM_JOINT_LIMIT;
    }
}

/* 1 if every joint of q is strictly inside its limits (a NaN is not). */
static inline int arm_within_limits(const gmmvi_real *q) {
    for (int i = 0; i < ARM_JOINTS; ++i)
        if (!((double)q[i] > -ARM_JOINT_LIMIT && (double)q[i] < ARM_JOINT_LIMIT)) return 0;
    return 1;
}

/* Index of the goal within `radius` of the end effector of q, or -1. */
static inline int arm_goal_reached(const gmmvi_real *q, double radius) {
    arm_real sin_phi[ARM_JOINTS], cos_phi[ARM_JOINTS], ex, ey;
    arm_forward(q, sin_phi, cos_phi, &ex, &ey);
    for (int g = 0; g < ARM_GOALS; ++g) {
        arm_real dx = ex - (arm_real)ARM_GOAL[g][0], dy = ey - (arm_real)ARM_GOAL[g][1];
        if (dx * dx + dy * dy <= (arm_real)(radius * radius)) return g;
    }
    return -1;
}

#endif /* ARM_H */

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
 * up to a constant: every configuration that reaches a goal, weighted by the prior.
 */
#ifndef ARM_H
#define ARM_H

#include <math.h>
#include <stddef.h>

#include "gmmvi.h"

#define ARM_JOINTS 7
#define ARM_GOALS 2
#define ARM_LIK_STD 0.05

#if GMMVI_DIM != ARM_JOINTS
#error "the planar-arm examples need the default build, GMMVI_DIM = 7"
#endif

static const double ARM_GOAL[ARM_GOALS][2] = {{3.0, 3.0}, {3.0, -3.0}};

/* End effector of joint angles q: writes (ex, ey) and the absolute link angles phi. */
static inline void arm_forward(const gmmvi_real *q, double phi[ARM_JOINTS], double *ex, double *ey) {
    double a = 0.0, x = 0.0, y = 0.0;
    for (int i = 0; i < ARM_JOINTS; ++i) {
        a += (double)q[i];
        phi[i] = a;
        x += cos(a);
        y += sin(a);
    }
    *ex = x;
    *ey = y;
}

/* The gmmvi_log_density_fn of the task: log p~ for n configurations and, if grad is not NULL,
   its gradient. ctx is unused. */
static inline int arm_log_density(void *ctx, const gmmvi_real *x, size_t n, gmmvi_real *log_p, gmmvi_real *grad) {
    (void)ctx;
    const double inv_var = 1.0 / (ARM_LIK_STD * ARM_LIK_STD);
    for (size_t r = 0; r < n; ++r) {
        const gmmvi_real *q = x + r * ARM_JOINTS;
        double phi[ARM_JOINTS], ex, ey;
        arm_forward(q, phi, &ex, &ey);
        double prior = 0.0;
        for (int i = 0; i < ARM_JOINTS; ++i) prior -= 0.5 * (double)q[i] * (double)q[i];
        /* log-sum-exp over the goals, with each goal's responsibility for the gradient */
        double l[ARM_GOALS], m = -INFINITY;
        for (int g = 0; g < ARM_GOALS; ++g) {
            double dx = ex - ARM_GOAL[g][0], dy = ey - ARM_GOAL[g][1];
            l[g] = -0.5 * (dx * dx + dy * dy) * inv_var;
            if (l[g] > m) m = l[g];
        }
        double s = 0.0;
        for (int g = 0; g < ARM_GOALS; ++g) s += exp(l[g] - m);
        log_p[r] = (gmmvi_real)(prior + m + log(s));
        if (grad == NULL) continue;
        /* d(lse)/de = sum_g resp_g (goal_g - e) / var; de/dq_j sums over links i >= j */
        double gx = 0.0, gy = 0.0;
        for (int g = 0; g < ARM_GOALS; ++g) {
            double resp = exp(l[g] - m) / s;
            gx += resp * (ARM_GOAL[g][0] - ex) * inv_var;
            gy += resp * (ARM_GOAL[g][1] - ey) * inv_var;
        }
        double tail_sin = 0.0, tail_cos = 0.0;
        for (int j = ARM_JOINTS - 1; j >= 0; --j) {
            tail_sin += sin(phi[j]);
            tail_cos += cos(phi[j]);
            grad[r * ARM_JOINTS + j] = (gmmvi_real)(-(double)q[j] - gx * tail_sin + gy * tail_cos);
        }
    }
    return 0;
}

/* Index of the goal within `radius` of the end effector of q, or -1. */
static inline int arm_goal_reached(const gmmvi_real *q, double radius) {
    double phi[ARM_JOINTS], ex, ey;
    arm_forward(q, phi, &ex, &ey);
    for (int g = 0; g < ARM_GOALS; ++g) {
        double dx = ex - ARM_GOAL[g][0], dy = ey - ARM_GOAL[g][1];
        if (dx * dx + dy * dy <= radius * radius) return g;
    }
    return -1;
}

#endif /* ARM_H */

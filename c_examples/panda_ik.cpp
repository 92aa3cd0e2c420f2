// panda_ik.cpp: inverse kinematics of a 7-joint Franka Emika Panda as a distribution, through the
// C++17 wrapper include/gmmvi.hpp: the posterior over joint angles within the joint limits that
// put the flange at a full pose (position and orientation), fitted from scratch, then 2000
// solutions drawn from it. The C++ counterpart of examples/panda_ik.rs (gmmvi_targets::PandaIk):
// the same kinematics, limits, sigmas, fitting schedule and statistics, in the library's
// default build (f32, D = 7, at most 8 components).
//
// Kinematics: the manufacturer's modified (Craig) Denavit-Hartenberg parameters and joint
// limits; frame i is reached from frame i-1 by Rot_x(alpha_i) Trans_x(a_i) Rot_z(q_i)
// Trans_z(d_i), the flange is 0.107 m further along z of frame 7. The target, in double:
//
//   log p~(q) = -sum_i log(hi_i - lo_i) - |p(q) - p*|^2 / (2 sp^2) - theta(R(q) R*^T)^2 / (2 sr^2)
//
// inside the limits (a uniform prior on them), with sp = 3 mm and sr = 0.6 deg: exact posterior
// samples then meet 10 mm and 2 deg about 98 % of the time. theta is the angle of the relative
// rotation from its quaternion, 2 atan2(|v|, |w|), accurate near 0 where acos((tr E - 1) / 2)
// loses half the digits. The joint limits are the optimiser's bounds (set_bounds), so every
// sample is inside them.
//
// The fit: SEMTFUX with 20 samples per component, 8 components (the build's most) spread over
// the joint space, and a tempered likelihood whose sigmas shrink geometrically from
// 10 cm / 0.5 rad to 3 mm / 0.6 deg over the first 60 of 100 iterations.
//
// The goal is the flange pose of one of five fixed configurations within the limits (argument:
// 0-4, default 0). Prints the fraction of the 2000 solutions within 10 mm and 2 deg, the number
// of solution branches, the fit time and the time for 2000 solutions, and ends with one JSON line.
//
//   cargo build --release -p gmmvi-ffi
//   c++ -std=c++17 -O2 -Iinclude c_examples/panda_ik.cpp target/release/libgmmvi.a -o panda_ik
//   ./panda_ik [pose]
#include <gmmvi.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#if GMMVI_DIM != 7
#error "panda_ik.cpp needs a build with GMMVI_DIM = 7 (the default)"
#endif

namespace {

constexpr int N = 7;
using V3 = std::array<double, 3>;
using M3 = std::array<V3, 3>;  // row-major: m[row][col]
using Q = std::array<double, N>;

// ---- The Panda -------------------------------------------------------------------------------

constexpr double kPi = 3.14159265358979323846;
constexpr double kHalfPi = kPi / 2;
// Modified-DH parameters of joints 1-7 (m, rad) and the flange offset.
constexpr Q kDhA = {0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088};
constexpr Q kDhD = {0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0};
constexpr Q kDhAlpha = {0.0, -kHalfPi, kHalfPi, kHalfPi, -kHalfPi, kHalfPi, kHalfPi};
constexpr double kFlangeD = 0.107;
// Joint limits (rad).
constexpr Q kLower = {-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973};
constexpr Q kUpper = {2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973};

// Likelihood and tolerances.
constexpr double kSigmaP = 0.003;
constexpr double kSigmaR = 0.6 * kPi / 180.0;
constexpr double kTolP = 0.010;
constexpr double kTolR = 2.0 * kPi / 180.0;

// The tempered schedule and the fit (the same for every pose).
constexpr double kSigmaP0 = 0.1;
constexpr double kSigmaR0 = 0.5;
constexpr int kAnnealIters = 60;
constexpr int kFinalIters = 40;
constexpr std::uint64_t kSeed = 1;
const char* const kConfig = "SEMTFUX n_des=20 reuse=0 beta=0.5 beta_w=0.5";
constexpr float kInitStd = 0.7f;   // initial components, in the unconstrained coordinates
constexpr float kPriorStd = 0.87f; // their means ~ N(0, 0.87^2): the spread of U(-1.5, 1.5)

// Branches: in-tolerance solutions linked when closer than this in joint space (single
// linkage); a branch holds at least 1 % of them.
constexpr double kBranchRadius = 0.3;
constexpr double kBranchMinFraction = 0.01;

// Five configurations within the limits whose flange poses are the goals.
constexpr std::array<Q, 5> kPoses = {{
    {2.123, 0.331, 1.976, -1.672, -2.723, 2.175, 2.238},
    {-2.001, -1.681, -1.135, -2.904, 0.876, 0.513, 1.731},
    {-0.889, 0.453, -1.011, -1.011, 0.878, 1.473, -2.686},
    {0.735, -1.349, -2.402, -2.909, 0.883, 1.603, -2.695},
    {2.721, -0.646, -2.392, -2.446, -2.537, 0.791, -1.839},
}};

V3 add(const V3& a, const V3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
V3 sub(const V3& a, const V3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
V3 scale(const V3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
double dot(const V3& a, const V3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
V3 cross(const V3& a, const V3& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
V3 col(const M3& m, int c) { return {m[0][c], m[1][c], m[2][c]}; }
M3 mul(const M3& a, const M3& b) {
    M3 m{};
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) m[r][c] = a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c];
    return m;
}
// a b^T
M3 mul_bt(const M3& a, const M3& b) {
    M3 m{};
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) m[r][c] = dot(a[r], b[c]);
    return m;
}

struct Pose {
    V3 position;
    M3 rotation;  // columns: the flange's axes in the base frame
};

struct Frames {
    std::array<V3, N> origins;  // a point on each joint's axis
    std::array<V3, N> axes;     // each joint's axis (unit)
    Pose flange;
};

Frames forward(const Q& q) {
    M3 r = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
    V3 p = {0, 0, 0};
    Frames f{};
    for (int i = 0; i < N; ++i) {
        p = add(p, scale(col(r, 0), kDhA[i]));
        const double ca = std::cos(kDhAlpha[i]), sa = std::sin(kDhAlpha[i]);
        r = mul(r, M3{{{1, 0, 0}, {0, ca, -sa}, {0, sa, ca}}});
        const double cq = std::cos(q[i]), sq = std::sin(q[i]);
        r = mul(r, M3{{{cq, -sq, 0}, {sq, cq, 0}, {0, 0, 1}}});
        f.origins[i] = p;
        f.axes[i] = col(r, 2);
        p = add(p, scale(f.axes[i], kDhD[i]));
    }
    f.flange = {add(p, scale(col(r, 2), kFlangeD)), r};
    return f;
}

// Angle in [0, pi] and rotation vector theta * u of a rotation matrix, through its unit
// quaternion (Shepperd: the largest of the four squared terms keeps the division accurate).
double rotation_vector(const M3& e, V3* phi) {
    const double tr = e[0][0] + e[1][1] + e[2][2];
    double w;
    V3 v;
    if (tr >= std::fmax(e[0][0], std::fmax(e[1][1], e[2][2]))) {
        const double s = 2 * std::sqrt(std::fmax(1 + tr, 0.0));
        w = 0.25 * s;
        v = {(e[2][1] - e[1][2]) / s, (e[0][2] - e[2][0]) / s, (e[1][0] - e[0][1]) / s};
    } else if (e[0][0] >= e[1][1] && e[0][0] >= e[2][2]) {
        const double s = 2 * std::sqrt(std::fmax(1 + e[0][0] - e[1][1] - e[2][2], 0.0));
        w = (e[2][1] - e[1][2]) / s;
        v = {0.25 * s, (e[0][1] + e[1][0]) / s, (e[0][2] + e[2][0]) / s};
    } else if (e[1][1] >= e[2][2]) {
        const double s = 2 * std::sqrt(std::fmax(1 + e[1][1] - e[0][0] - e[2][2], 0.0));
        w = (e[0][2] - e[2][0]) / s;
        v = {(e[0][1] + e[1][0]) / s, 0.25 * s, (e[1][2] + e[2][1]) / s};
    } else {
        const double s = 2 * std::sqrt(std::fmax(1 + e[2][2] - e[0][0] - e[1][1], 0.0));
        w = (e[1][0] - e[0][1]) / s;
        v = {(e[0][2] + e[2][0]) / s, (e[1][2] + e[2][1]) / s, 0.25 * s};
    }
    if (w < 0) {  // the shorter of the two rotations
        w = -w;
        v = scale(v, -1);
    }
    const double nv = std::sqrt(dot(v, v));
    const double theta = 2 * std::atan2(nv, w);
    if (phi) *phi = scale(v, nv > 1e-300 ? theta / nv : 2 / std::fmax(w, 1e-300));  // theta/|v| -> 2/w
    return theta;
}

// The optimiser's bounds: the limits as Reals, and the same values for every limit check.
gmmvi::Point real_limits(const Q& l) {
    gmmvi::Point p{};
    for (int i = 0; i < N; ++i) p[i] = static_cast<gmmvi::Real>(l[i]);
    return p;
}
const gmmvi::Point kLo = real_limits(kLower), kHi = real_limits(kUpper);

bool within_limits(const gmmvi::Real* q) {
    for (int i = 0; i < N; ++i)
        if (!(q[i] >= kLo[i] && q[i] <= kHi[i])) return false;
    return true;
}

Q to_q(const gmmvi::Real* x) {
    Q q{};
    for (int i = 0; i < N; ++i) q[i] = static_cast<double>(x[i]);
    return q;
}

// The posterior of one goal; the sigmas change along the tempered schedule.
struct PandaTarget {
    Pose goal;
    double sigma_p = kSigmaP;
    double sigma_r = kSigmaR;

    double log_density(const gmmvi::Real* x, gmmvi::Real* grad) const {
        if (!within_limits(x)) return -INFINITY;  // the bounds keep the optimiser inside
        const Q q = to_q(x);
        const Frames f = forward(q);
        const V3 dp = sub(f.flange.position, goal.position);
        V3 phi;
        const double theta = rotation_vector(mul_bt(f.flange.rotation, goal.rotation), &phi);
        const double ip = 1 / (sigma_p * sigma_p), ir = 1 / (sigma_r * sigma_r);
        double lp = -0.5 * (dot(dp, dp) * ip + theta * theta * ir);
        for (int i = 0; i < N; ++i) lp -= std::log(kUpper[i] - kLower[i]);
        if (grad) {
            // Joint i moves the flange by z_i x (p - o_i) and turns it by z_i; d(theta^2/2) = phi . z_i.
            for (int i = 0; i < N; ++i) {
                const V3 dpos = cross(f.axes[i], sub(f.flange.position, f.origins[i]));
                grad[i] = static_cast<gmmvi::Real>(-(dot(dp, dpos) * ip + dot(phi, f.axes[i]) * ir));
            }
        }
        return lp;
    }

    // The contract of gmmvi_log_density_fn.
    int operator()(const gmmvi::Real* x, std::size_t n, gmmvi::Real* log_p, gmmvi::Real* grad) const {
        for (std::size_t k = 0; k < n; ++k)
            log_p[k] = static_cast<gmmvi::Real>(log_density(x + k * N, grad ? grad + k * N : nullptr));
        return 0;
    }
};

// Within the limits and within 10 mm and 2 deg of the goal (in double).
bool in_tolerance(const Pose& goal, const gmmvi::Real* x) {
    if (!within_limits(x)) return false;
    const Pose p = forward(to_q(x)).flange;
    const V3 d = sub(p.position, goal.position);
    const double angle = rotation_vector(mul_bt(p.rotation, goal.rotation), nullptr);
    return std::sqrt(dot(d, d)) <= kTolP && angle <= kTolR;
}

// ---- Statistics ------------------------------------------------------------------------------

constexpr std::size_t kSolutions = 2000;
std::array<gmmvi::Point, kSolutions> solutions;
std::array<gmmvi::Real, kSolutions> log_q;
std::array<std::size_t, kSolutions> good, label, stack;

// Connected pieces of the in-tolerance solutions under linkage at kBranchRadius, counting
// those with at least kBranchMinFraction of them.
int branches(const Pose& goal) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < kSolutions; ++i)
        if (in_tolerance(goal, solutions[i].data())) good[n++] = i;
    const std::size_t none = kSolutions;
    for (std::size_t i = 0; i < n; ++i) label[i] = none;
    int count = 0;
    for (std::size_t s = 0; s < n; ++s) {
        if (label[s] != none) continue;
        label[s] = s;
        std::size_t top = 0, size = 0;
        stack[top++] = s;
        while (top > 0) {
            const std::size_t i = stack[--top];
            ++size;
            for (std::size_t j = 0; j < n; ++j) {
                if (label[j] != none) continue;
                double d2 = 0;
                for (int k = 0; k < N; ++k) {
                    const double d = double(solutions[good[i]][k]) - double(solutions[good[j]][k]);
                    d2 += d * d;
                }
                if (d2 < kBranchRadius * kBranchRadius) {
                    label[j] = s;
                    stack[top++] = j;
                }
            }
        }
        if (double(size) >= kBranchMinFraction * double(n)) ++count;
    }
    return count;
}

// Wall-clock and CPU milliseconds since construction (one thread: the process's CPU time).
struct Clock {
    std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
    std::clock_t cpu = std::clock();
    double wall_ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall).count();
    }
    double cpu_ms() const { return 1000.0 * double(std::clock() - cpu) / CLOCKS_PER_SEC; }
};

gmmvi::Optimizer optimizer;  // the whole state (GMMVI_STATE_SIZE bytes), static

int fail(const char* what, gmmvi::Status s) {
    char why[256] = "";
    if (optimizer.last_error(why).ok() && why[0] != '\0') {
        std::fprintf(stderr, "%s: %s (%s)\n", what, s.str(), why);
    } else {
        std::fprintf(stderr, "%s: %s\n", what, s.str());
    }
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    const int pose = argc > 1 ? std::atoi(argv[1]) : 0;
    if (pose < 0 || pose >= int(kPoses.size())) {
        std::fprintf(stderr, "usage: %s [pose 0-%d]\n", argv[0], int(kPoses.size()) - 1);
        return 1;
    }
    const Q& q0 = kPoses[std::size_t(pose)];
    PandaTarget target{forward(q0).flange};
    const V3& g = target.goal.position;
    std::printf("goal (pose %d): flange at (%.3f, %.3f, %.3f) m, from q = [", pose, g[0], g[1], g[2]);
    for (int i = 0; i < N; ++i) std::printf("%s%.3f", i ? ", " : "", q0[i]);
    std::printf("]\n");

    std::size_t offset = 0;
    char message[256];
    const auto parsed = gmmvi::config_parse(kConfig, &offset, message);
    if (!parsed.ok()) {
        std::fprintf(stderr, "config at byte %zu: %s\n", offset, message);
        return 1;
    }
    gmmvi::Config cfg = *parsed;
    cfg.initial_components = GMMVI_MAX_COMPONENTS;
    for (int i = 0; i < N; ++i) {
        cfg.prior_mean[i] = 0;  // y = 0 is the middle of each joint's range
        cfg.prior_std[i] = kPriorStd;
        cfg.initial_std[i] = kInitStd;
    }

    const Clock fit_clock;
    if (auto s = optimizer.init(cfg, kSeed); !s.ok()) return fail("init", s);
    if (auto s = optimizer.set_bounds(kLo, kHi); !s.ok()) return fail("set_bounds", s);
    gmmvi::Report rep{};
    for (int t = 0; t < kAnnealIters + kFinalIters; ++t) {
        const double f = t >= kAnnealIters ? 1.0 : double(t) / kAnnealIters;
        target.sigma_p = std::exp(std::log(kSigmaP0) * (1 - f) + std::log(kSigmaP) * f);
        target.sigma_r = std::exp(std::log(kSigmaR0) * (1 - f) + std::log(kSigmaR) * f);
        if (auto s = optimizer.step(target, &rep); !s.ok()) return fail("step", s);
    }
    const double fit_ms = fit_clock.wall_ms(), fit_cpu_ms = fit_clock.cpu_ms();

    const Clock sample_clock;
    if (auto s = optimizer.sample(solutions); !s.ok()) return fail("sample", s);
    const double sample_ms = sample_clock.wall_ms(), sample_cpu_ms = sample_clock.cpu_ms();

    std::size_t ok = 0, outside = 0;
    for (const auto& x : solutions) {
        ok += in_tolerance(target.goal, x.data());
        outside += !within_limits(x.data());
    }
    const double in_tol = double(ok) / double(kSolutions);
    for (int i = 0; i < N; ++i) {
        gmmvi::Real lo = solutions[0][i], hi = lo;
        for (const auto& x : solutions) {
            lo = std::fmin(lo, x[i]);
            hi = std::fmax(hi, x[i]);
        }
        std::printf("joint %d: solutions in [%.7f, %.7f], limits [%.4f, %.4f]\n", i + 1, double(lo), double(hi),
                    kLower[i], kUpper[i]);
    }
    const int n_branches = branches(target.goal);

    // ELBO = E_q[log p~(q) - log q(q)] over the 2000 solutions (both in joint space).
    if (auto s = optimizer.log_density(solutions, log_q); !s.ok()) return fail("log_density", s);
    double elbo = 0;
    for (std::size_t i = 0; i < kSolutions; ++i)
        elbo += target.log_density(solutions[i].data(), nullptr) - double(log_q[i]);
    elbo /= double(kSolutions);

    std::printf("fit: %llu iterations, %llu evaluations, %.1f ms (%.1f ms CPU); %zu solutions in %.2f ms (%.2f ms CPU)\n",
                static_cast<unsigned long long>(rep.iterations), static_cast<unsigned long long>(rep.evaluations),
                fit_ms, fit_cpu_ms, kSolutions, sample_ms, sample_cpu_ms);
    std::printf("%.1f %% within 10 mm and 2 deg, %d branches (linkage radius %.1f rad), %u components, "
                "%zu outside the limits, ELBO %.3f\n",
                100.0 * in_tol, n_branches, kBranchRadius, unsigned(rep.components), outside, elbo);
    char elbo_json[32] = "null";  // JSON has no infinity
    if (std::isfinite(elbo)) std::snprintf(elbo_json, sizeof elbo_json, "%.4f", elbo);
    std::printf("{\"pose\":%d,\"in_tolerance\":%.4f,\"branches\":%d,\"fit_ms\":%.3f,\"fit_cpu_ms\":%.3f,"
                "\"sample_ms\":%.3f,\"sample_cpu_ms\":%.3f,\"elbo\":%s,\"components\":%u,\"outside_limits\":%zu,"
                "\"iterations\":%llu,\"evaluations\":%llu,\"real_bits\":%d}\n",
                pose, in_tol, n_branches, fit_ms, fit_cpu_ms, sample_ms, sample_cpu_ms, elbo_json, unsigned(rep.components),
                outside, static_cast<unsigned long long>(rep.iterations),
                static_cast<unsigned long long>(rep.evaluations), GMMVI_REAL_BITS);
    return 0;
}

// planar_arm.cpp: planar_arm.c through the C++17 wrapper include/gmmvi.hpp. A 7-joint planar arm
// with unit links and joint limits (arm.h, set_bounds) should reach (3, 3) or (3, -3); fit, then
// draw joint configurations.
// No new, no malloc, no exceptions.
//
//   cargo build --release -p gmmvi-ffi
//   c++ -std=c++17 -O2 -Iinclude c_examples/planar_arm.cpp target/release/libgmmvi.a -o planar_arm_cpp
#include <gmmvi.hpp>

#include <cstdio>

#include "arm.h"

namespace {

gmmvi::Optimizer optimizer;                // the whole state, static
std::array<gmmvi::Point, 1000> checks;     // samples for the summary

int fail(const char* what, gmmvi::Status s) {
    std::fprintf(stderr, "%s: %s\n", what, s.str());
    return 1;
}

}  // namespace

int main() {
    const auto defaults = gmmvi::config_default();  // Code::abi_mismatch for another build's header
    if (!defaults.ok()) return fail("config_default", defaults.status());
    gmmvi::Config cfg = *defaults;
    cfg.initial_components = 4;
    for (auto& s : cfg.initial_std) s = 0.3f;
    cfg.num_prior_samples = 50;  // prior candidates for new components, as planar_arm.c
    if (auto s = optimizer.init(cfg, 1); !s.ok()) return fail("init", s);
    gmmvi::Point lo, hi;
    arm_limits(lo.data(), hi.data());
    if (auto s = optimizer.set_bounds(lo, hi); !s.ok()) return fail("set_bounds", s);

    std::size_t calls = 0;  // the target may carry state: here, a call counter
    auto target = [&calls](const gmmvi::Real* x, std::size_t n, gmmvi::Real* log_p, gmmvi::Real* grad) {
        ++calls;
        return arm_log_density(nullptr, x, n, log_p, grad);
    };
    gmmvi::Report rep{};
    for (int round = 1; round <= 6; ++round) {
        if (auto s = optimizer.run(target, 250, 0, &rep); !s.ok()) return fail("run", s);
        std::printf("iteration %4llu: %7llu evaluations in %zu calls, %lu components, ELBO estimate %8.3f\n",
                    static_cast<unsigned long long>(rep.iterations), static_cast<unsigned long long>(rep.evaluations),
                    calls, static_cast<unsigned long>(rep.components), rep.elbo);
    }

    std::array<gmmvi::Point, 10> q;
    if (auto s = optimizer.sample(q); !s.ok()) return fail("sample", s);
    std::printf("10 joint configurations (rad) and their end effectors:\n");
    int inside = 0;
    for (const auto& p : q) {
        inside += arm_within_limits(p.data());
        arm_real sin_phi[ARM_JOINTS], cos_phi[ARM_JOINTS], ex, ey;
        arm_forward(p.data(), sin_phi, cos_phi, &ex, &ey);
        std::printf("  [");
        for (std::size_t i = 0; i < p.size(); ++i) std::printf("%s%6.3f", i ? ", " : "", static_cast<double>(p[i]));
        std::printf("] -> (%6.3f, %6.3f)\n", static_cast<double>(ex), static_cast<double>(ey));
    }

    if (auto s = optimizer.sample(checks); !s.ok()) return fail("sample", s);
    int near[ARM_GOALS] = {0, 0};
    for (const auto& p : checks) {
        inside += arm_within_limits(p.data());
        if (int g = arm_goal_reached(p.data(), 0.2); g >= 0) ++near[g];
    }
    const int n = static_cast<int>(checks.size());
    int reached = 0;
    for (int c : near) reached += c >= n / 10;
    std::printf("goals reached: %d of %d (fraction of %d samples within 0.2: %.3f at (3, 3), %.3f at (3, -3))\n",
                reached, ARM_GOALS, n, static_cast<double>(near[0]) / n, static_cast<double>(near[1]) / n);
    const int drawn = n + static_cast<int>(q.size());
    std::printf("joint limits: %d of %d samples within (%.1f, %.1f) rad\n", inside, drawn, -ARM_JOINT_LIMIT,
                ARM_JOINT_LIMIT);
    return reached == ARM_GOALS && inside == drawn ? 0 : 2;
}

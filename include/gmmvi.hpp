// gmmvi.hpp: a header-only C++17 wrapper over gmmvi's C API (include/gmmvi.h).
//
// gmmvi::Optimizer owns its state by value (GMMVI_STATE_SIZE bytes: make it static or a member
// of something static) and never allocates; the wrapper throws nothing: every call returns a
// gmmvi::Status. A target is any callable
//     int(const gmmvi_real* x, std::size_t n, gmmvi_real* log_p, gmmvi_real* grad)
// with the contract of gmmvi_log_density_fn; an exception escaping it terminates the program.
#ifndef GMMVI_HPP
#define GMMVI_HPP

#include <array>
#include <cstddef>
#include <cstdint>

#include "gmmvi.h"

namespace gmmvi {

using Real = gmmvi_real;
using Point = std::array<Real, GMMVI_DIM>;
using Config = gmmvi_config;
using Report = gmmvi_report;

enum class Status : std::uint32_t {
    ok = GMMVI_OK,
    null_pointer = GMMVI_NULL_POINTER,
    invalid_argument = GMMVI_INVALID_ARGUMENT,
    bad_config = GMMVI_BAD_CONFIG,
    target_failed = GMMVI_TARGET_FAILED,
    numerical = GMMVI_NUMERICAL,
    buffer_too_small = GMMVI_BUFFER_TOO_SMALL,
    bad_alignment = GMMVI_BAD_ALIGNMENT,
    non_finite_target = GMMVI_NON_FINITE_TARGET,
    not_initialized = GMMVI_NOT_INITIALIZED,
    busy = GMMVI_BUSY,
    no_such_component = GMMVI_NO_SUCH_COMPONENT,
    bad_checkpoint = GMMVI_BAD_CHECKPOINT,
};

inline const char* to_string(Status s) noexcept { return gmmvi_status_str(static_cast<std::uint32_t>(s)); }

// SAMTRUX fitted to the build's sizes (gmmvi_config_default).
inline Config default_config() noexcept { return gmmvi_config_default(); }

// The fitted defaults of a 7-letter codeword, e.g. "SAMTRON".
[[nodiscard]] inline Status config_from_codeword(const char* codeword, Config& out) noexcept {
    return static_cast<Status>(gmmvi_config_from_codeword(codeword, &out));
}

// One mixture component.
struct Component {
    Real weight;
    Point mean;
    std::array<Real, GMMVI_DIM * GMMVI_DIM> covariance;  // row-major
};

class Optimizer {
public:
    Optimizer() noexcept = default;  // not initialised: calls return Status::not_initialized
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    [[nodiscard]] Status init(const Config& cfg, std::uint64_t seed) noexcept {
        return static_cast<Status>(gmmvi_init(&state_, sizeof state_, &cfg, seed));
    }

    // Runs until max_iterations iterations ran or max_evaluations target evaluations were
    // spent (0: no budget). `report` (optional) receives the totals afterwards.
    template <class Target>
    [[nodiscard]] Status run(Target& target, std::uint64_t max_iterations, std::uint64_t max_evaluations = 0,
                             Report* report = nullptr) noexcept {
        return static_cast<Status>(
            gmmvi_run(&state_, &trampoline<Target>, &target, max_iterations, max_evaluations, report));
    }

    template <class Target>
    [[nodiscard]] Status step(Target& target, Report* report = nullptr) noexcept {
        return static_cast<Status>(gmmvi_step(&state_, &trampoline<Target>, &target, report));
    }

    // Fills `out` with points drawn from the fitted mixture.
    template <std::size_t N>
    [[nodiscard]] Status sample(std::array<Point, N>& out) noexcept {
        return static_cast<Status>(gmmvi_sample(&state_, N ? out[0].data() : nullptr, N));
    }

    // log q(x) of the fitted mixture.
    [[nodiscard]] Status log_density(const Point& x, Real& log_q) const noexcept {
        return static_cast<Status>(gmmvi_log_density(&state_, x.data(), 1, &log_q));
    }

    [[nodiscard]] Status stats(Report& out) const noexcept { return static_cast<Status>(gmmvi_stats(&state_, &out)); }

    [[nodiscard]] Status component(std::size_t k, Component& out) const noexcept {
        return static_cast<Status>(
            gmmvi_get_component(&state_, k, &out.weight, out.mean.data(), out.covariance.data(), nullptr));
    }

private:
    template <class Target>
    static int trampoline(void* ctx, const Real* x, std::size_t n, Real* log_p, Real* grad) noexcept {
        return (*static_cast<Target*>(ctx))(x, n, log_p, grad);
    }

    gmmvi_state state_{};
};

}  // namespace gmmvi

#endif  // GMMVI_HPP

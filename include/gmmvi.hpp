// gmmvi.hpp: header-only C++17 wrapper over every function of the C API (gmmvi.h).
//
// No exceptions, no RTTI, no allocation: every call returns a gmmvi::Status (or a
// gmmvi::Result<T>, a value with its status; both [[nodiscard]]). An optimiser is used from one
// thread at a time. Its state (GMMVI_STATE_SIZE bytes) lives where the caller puts it:
//
//   static gmmvi::Optimizer opt;              // owns its state by value; movable
//   if (auto s = opt.init(gmmvi::config_default(), seed); !s.ok()) puts(s.str());
//   opt.run([&](const gmmvi::Real* x, std::size_t n, gmmvi::Real* log_p, gmmvi::Real* grad) {
//       ...; return 0;                        // the contract of gmmvi_log_density_fn
//   }, 200);
//   std::vector<gmmvi::Real> xs(100 * gmmvi::dim);
//   opt.sample(xs);                           // 100 points, row-major
//
// or over storage the caller declares (a linker section, a pool):
//
//   static gmmvi_state storage;
//   gmmvi::OptimizerRef opt(storage);         // non-owning, movable
//
// A fitted mixture outside the optimiser, to sample and condition while it goes on fitting:
//
//   static gmmvi::Model model;                // GMMVI_MODEL_SIZE bytes inline; copyable
//   opt.snapshot(model);
//   gmmvi::Rng rng(42);                       // one per sampling thread
//   model.sample(rng, xs);
//   gmmvi::SubModel rest;                     // GMMVI_SUBMODEL_SIZE bytes inline
//   model.conditional({1, 3}, joints, rest);  // the others given x_1, x_3 = joints[1], joints[3]
//   rest.sample(rng, rows);                   // fills the other coordinates of each row
//
// Targets: any callable `int(const Real* x, size_t n, Real* log_p, Real* grad)` (lambda,
// capturing lambda, temporary, function object, function or function pointer), passed by
// forwarding reference and called through a trampoline while run/step lasts. It must not
// throw: the trampoline is noexcept, so an escaping exception calls std::terminate instead of
// crossing the C library. Calling back into the same optimiser from it gives Code::busy.
//
// Buffers: a pointer with its length, any contiguous range with .data()/.size() of Real or
// Point (std::vector, std::array, C arrays, std::span), and Eigen matrices when <Eigen/Core>
// is on the include path (define GMMVI_NO_EIGEN to leave it out). Lengths count elements of
// the buffer's type: Reals (a multiple of dim) or Points. A buffer shorter than a call needs
// gives Code::buffer_too_small, a Real buffer that is not a whole number of points
// Code::invalid_argument: never a write past its end. Coordinate index sets (marginal,
// conditional) are a pointer with a count, a contiguous range of std::size_t or a braced list.
#ifndef GMMVI_HPP
#define GMMVI_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <type_traits>

#include "gmmvi.h"

#if __cplusplus >= 202002L && __has_include(<span>)
#include <span>
#endif
#if defined(__cpp_lib_span)
#define GMMVI_HAS_SPAN 1
#endif

#if !defined(GMMVI_NO_EIGEN) && __has_include(<Eigen/Core>)
#include <Eigen/Core>
#define GMMVI_HAS_EIGEN 1
#endif

namespace gmmvi {

using Real = gmmvi_real;
using Config = gmmvi_config;
using Report = gmmvi_report;
using State = gmmvi_state;

inline constexpr std::size_t dim = GMMVI_DIM;
inline constexpr std::size_t max_components = GMMVI_MAX_COMPONENTS;
inline constexpr std::size_t state_size = GMMVI_STATE_SIZE;
inline constexpr std::size_t state_align = GMMVI_STATE_ALIGN;

// One point of the target's domain, and a D x D matrix (row-major).
using Point = std::array<Real, GMMVI_DIM>;
using Matrix = std::array<Real, GMMVI_DIM * GMMVI_DIM>;
static_assert(sizeof(Point) == sizeof(Real) * GMMVI_DIM, "a Point is D contiguous Reals");

// The codes of gmmvi_status.
enum class Code : std::uint32_t {
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
    abi_mismatch = GMMVI_ABI_MISMATCH,
};

// The status of a call: a gmmvi_status, kept as is (also a code this header does not name).
class [[nodiscard]] Status {
public:
    constexpr Status() noexcept = default;
    // Implicit, so that `return Code::busy;` and `s == Code::busy` read naturally.
    constexpr Status(Code c) noexcept : raw_(static_cast<std::uint32_t>(c)) {}
    constexpr explicit Status(std::uint32_t raw) noexcept : raw_(raw) {}

    constexpr bool ok() const noexcept { return raw_ == GMMVI_OK; }
    constexpr Code code() const noexcept { return static_cast<Code>(raw_); }
    constexpr std::uint32_t raw() const noexcept { return raw_; }
    // A short static description (gmmvi_status_str).
    const char* str() const noexcept { return gmmvi_status_str(raw_); }

    friend constexpr bool operator==(Status a, Status b) noexcept { return a.raw_ == b.raw_; }
    friend constexpr bool operator!=(Status a, Status b) noexcept { return a.raw_ != b.raw_; }

private:
    std::uint32_t raw_ = GMMVI_OK;
};

// A value and the status of the call that produced it. On an error the value is T{} unless
// the function says otherwise (save/export: the size needed).
template <class T>
class [[nodiscard]] Result {
public:
    constexpr Result(Status s, T v) noexcept : value_(v), status_(s) {}

    constexpr bool ok() const noexcept { return status_.ok(); }
    constexpr Status status() const noexcept { return status_; }
    constexpr const T& value() const noexcept { return value_; }
    constexpr T value_or(T fallback) const noexcept { return ok() ? value_ : fallback; }
    constexpr const T& operator*() const noexcept { return value_; }
    constexpr const T* operator->() const noexcept { return &value_; }

private:
    T value_;
    Status status_;
};

// One mixture component (gmmvi_get_component).
struct Component {
    Real weight;
    Point mean;
    Matrix covariance;  // row-major
    Matrix cholesky;    // lower triangular, covariance = L L^T
};

// ---- Free functions: configuration and status -------------------------------------------

// gmmvi_status_str of any code.
inline const char* status_str(Status s) noexcept { return s.str(); }

// The version of this header, and that of the library (major << 16 | minor << 8 | patch).
inline constexpr std::uint32_t version_major = GMMVI_VERSION_MAJOR;
inline constexpr std::uint32_t version_minor = GMMVI_VERSION_MINOR;
inline constexpr std::uint32_t version_patch = GMMVI_VERSION_PATCH;
inline std::uint32_t library_version() noexcept { return gmmvi_version(); }

// True when the library was built for this header (same version, scalar and sizes); the
// calls that depend on it answer Code::abi_mismatch otherwise.
inline bool abi_matches() noexcept { return gmmvi_abi_fingerprint() == GMMVI_ABI_FINGERPRINT; }

// SAMTRUX fitted to the build's sizes (gmmvi_config_default).
inline Result<Config> config_default() noexcept {
    Config c{};
    Status s(gmmvi_config_default(&c));
    return {s, c};
}

// The fitted defaults of a 7-letter codeword, e.g. "SAMTRON".
inline Result<Config> config_from_codeword(const char* codeword) noexcept {
    Config c{};
    Status s(gmmvi_config_from_codeword(codeword, &c));
    return {s, c};
}

// The text form, e.g. "SAMTRON samples_per_component=10 num_prior_samples=50". The result's
// `overrides` points at `text`: keep it alive until init. On Code::bad_config,
// `*error_offset` (if given) is the byte offset of the offending token and `message` (if
// given, `message_cap` bytes) says which key is wrong and why.
inline Result<Config> config_parse(const char* text, std::size_t* error_offset, char* message,
                                   std::size_t message_cap) noexcept {
    Config c{};
    Status s(gmmvi_config_parse(text, &c, error_offset, message, message_cap));
    return {s, c};
}
inline Result<Config> config_parse(const char* text, std::size_t* error_offset = nullptr) noexcept {
    return config_parse(text, error_offset, nullptr, 0);
}
// The same, with the message in a char array.
template <std::size_t N>
inline Result<Config> config_parse(const char* text, std::size_t* error_offset, char (&message)[N]) noexcept {
    return config_parse(text, error_offset, message, N);
}

namespace detail {

template <class R>
using data_t = decltype(std::data(std::declval<R&>()));
template <class R>
using elem_t = std::remove_pointer_t<data_t<R>>;

// Eigen expressions have .data()/.size() too, but may be column-major or strided: they go
// through the Eigen overloads only.
template <class R, class = void>
struct is_eigen : std::false_type {};
template <class R>
struct is_eigen<R, std::void_t<typename std::remove_cv_t<std::remove_reference_t<R>>::Scalar>> : std::true_type {};

template <class R, class = void>
struct is_contiguous : std::false_type {};
template <class R>
struct is_contiguous<R, std::void_t<data_t<R>, decltype(std::size(std::declval<R&>()))>>
    : std::bool_constant<!is_eigen<R>::value && std::is_pointer_v<data_t<R>>> {};

template <class E>
inline constexpr bool is_point_elem = std::is_same_v<std::remove_const_t<E>, Real> || std::is_same_v<std::remove_const_t<E>, Point>;
template <class E>
inline constexpr bool is_byte_elem = std::is_same_v<std::remove_const_t<E>, std::uint8_t> ||
                                     std::is_same_v<std::remove_const_t<E>, unsigned char> ||
                                     std::is_same_v<std::remove_const_t<E>, std::byte>;

template <class R, bool Writable, template <class> class Ok>
constexpr bool range_of() {
    if constexpr (is_contiguous<R>::value) {
        using E = elem_t<R>;
        return Ok<E>::value && (!Writable || !std::is_const_v<E>);
    } else {
        return false;
    }
}
template <class E>
struct point_elem : std::bool_constant<is_point_elem<E>> {};
template <class E>
struct real_elem : std::is_same<std::remove_const_t<E>, Real> {};
template <class E>
struct byte_elem : std::bool_constant<is_byte_elem<E>> {};

template <class R>
inline constexpr bool points_out = range_of<R, true, point_elem>();
template <class R>
inline constexpr bool points_in = range_of<R, false, point_elem>();
template <class R>
inline constexpr bool reals_out = range_of<R, true, real_elem>();
template <class R>
inline constexpr bool bytes_out = range_of<R, true, byte_elem>();
template <class R>
inline constexpr bool bytes_in = range_of<R, false, byte_elem>();
template <class E>
struct index_elem : std::is_same<std::remove_const_t<E>, std::size_t> {};
template <class R>
inline constexpr bool indices_in = range_of<R, false, index_elem>();

template <class E>
inline std::uint8_t* bytes(E* p) noexcept {
    return reinterpret_cast<std::uint8_t*>(p);
}
template <class E>
inline const std::uint8_t* bytes(const E* p) noexcept {
    return reinterpret_cast<const std::uint8_t*>(p);
}

template <class Fn>
inline constexpr bool is_target = std::is_invocable_r_v<int, Fn&, const Real*, std::size_t, Real*, Real*>;

// Calls the callable that `ctx` points at; noexcept, so no exception crosses the C library.
template <class Fn>
int trampoline(void* ctx, const Real* x, std::size_t n, Real* log_p, Real* grad) noexcept {
    return static_cast<int>((*static_cast<Fn*>(ctx))(x, n, log_p, grad));
}

#if defined(GMMVI_HAS_EIGEN)
// n x dim, row-major, contiguous (an n x dim Matrix, a Map, a block of whole rows).
using Points = Eigen::Matrix<Real, Eigen::Dynamic, GMMVI_DIM, GMMVI_DIM == 1 ? Eigen::ColMajor : Eigen::RowMajor>;
using Values = Eigen::Matrix<Real, Eigen::Dynamic, 1>;

template <class M>
inline bool whole_rows(const M& m) noexcept {
    return m.innerStride() == 1 && (m.rows() <= 1 || GMMVI_DIM == 1 || m.outerStride() == GMMVI_DIM);
}
#endif

}  // namespace detail

// A random stream of the caller (gmmvi_rng, 32 bytes) for drawing from a Model or SubModel;
// one per thread that draws. Same seed, same draws. A default Rng is unseeded: drawing with it
// gives Code::not_initialized. A copy continues with the same draws as the original.
class Rng {
public:
    constexpr Rng() noexcept = default;
    explicit Rng(std::uint64_t seed_value) noexcept { static_cast<void>(seed(seed_value)); }

    // Restarts the stream from `seed_value` (gmmvi_rng_seed).
    Status seed(std::uint64_t seed_value) noexcept { return Status(gmmvi_rng_seed(&rng_, seed_value)); }

    gmmvi_rng* storage() noexcept { return &rng_; }
    const gmmvi_rng* storage() const noexcept { return &rng_; }

private:
    gmmvi_rng rng_{};
};

namespace detail {

// The C calls of a model and of a submodel, picked by overload.
inline gmmvi_status c_sample(const gmmvi_model* m, gmmvi_rng* rng, Real* x, std::size_t n) noexcept {
    return gmmvi_model_sample(m, rng, x, n);
}
inline gmmvi_status c_sample(const gmmvi_submodel* m, gmmvi_rng* rng, Real* x, std::size_t n) noexcept {
    return gmmvi_submodel_sample(m, rng, x, n);
}
inline gmmvi_status c_log_density(const gmmvi_model* m, const Real* x, std::size_t n, Real* out) noexcept {
    return gmmvi_model_log_density(m, x, n, out);
}
inline gmmvi_status c_log_density(const gmmvi_submodel* m, const Real* x, std::size_t n, Real* out) noexcept {
    return gmmvi_submodel_log_density(m, x, n, out);
}
inline gmmvi_status c_log_density(const State* s, const Real* x, std::size_t n, Real* out) noexcept {
    return gmmvi_log_density(s, x, n, out);
}
// The C handle of a holder: a model's storage() or an optimiser's state().
template <class S>
auto c_handle(const S& s) noexcept -> decltype(s.storage()) {
    return s.storage();
}
template <class S>
auto c_handle(const S& s) noexcept -> decltype(s.state()) {
    return s.state();
}

// log q of points, shared by Model, SubModel and the optimiser (`Self` provides storage() or
// state()). It leaves the mixture as it is.
template <class Self>
class Density {
public:
    // log q of the points x into log_q (gmmvi_log_density, gmmvi_model_log_density,
    // gmmvi_submodel_log_density; a SubModel reads only its coordinates): `x_len` Reals (a
    // multiple of dim) or Points; log_q holds at least one value per point.
    Status log_density(const Real* x, std::size_t x_len, Real* log_q, std::size_t log_q_len) const noexcept {
        if (x_len % GMMVI_DIM != 0) return Code::invalid_argument;
        return log_density(reinterpret_cast<const Point*>(x), x_len / GMMVI_DIM, log_q, log_q_len);
    }
    Status log_density(const Point* x, std::size_t n, Real* log_q, std::size_t log_q_len) const noexcept {
        if (log_q_len < n) return Code::buffer_too_small;
        return Status(c_log_density(c_handle(self()), reinterpret_cast<const Real*>(x), n, log_q));
    }
    template <class X, class L, std::enable_if_t<points_in<X> && reals_out<L>, int> = 0>
    Status log_density(const X& x, L&& log_q) const noexcept {
        return log_density(std::data(x), std::size(x), std::data(log_q), std::size(log_q));
    }
    // log q of one point.
    Result<Real> log_density(const Point& x) const noexcept {
        Real lq = 0;
        Status s = log_density(&x, 1, &lq, 1);
        return {s, lq};
    }

#if defined(GMMVI_HAS_SPAN)
    Status log_density(std::span<const Real> x, std::span<Real> log_q) const noexcept {
        return log_density(x.data(), x.size(), log_q.data(), log_q.size());
    }
    Status log_density(std::span<const Point> x, std::span<Real> log_q) const noexcept {
        return log_density(x.data(), x.size(), log_q.data(), log_q.size());
    }
#endif

#if defined(GMMVI_HAS_EIGEN)
    // Any direct-access row-major expression of Reals with dim columns; never copied.
    template <class Derived>
    Status log_density(const Eigen::MatrixBase<Derived>& x, Eigen::Ref<Values> log_q) const noexcept {
        static_assert(std::is_same_v<typename Derived::Scalar, Real>, "points are Reals");
        static_assert((Derived::Flags & Eigen::DirectAccessBit) != 0, "points in memory (not an expression)");
        static_assert(Derived::IsRowMajor || GMMVI_DIM == 1, "points row-major");
        const auto& m = x.derived();
        if (m.cols() != static_cast<Eigen::Index>(GMMVI_DIM) || !whole_rows(m)) return Code::invalid_argument;
        return log_density(m.data(), static_cast<std::size_t>(m.size()), log_q.data(),
                           static_cast<std::size_t>(log_q.size()));
    }
#endif

private:
    const Self& self() const noexcept { return static_cast<const Self&>(*this); }
};

// The reading calls shared by Model and SubModel (`Self` provides storage()). They leave the
// mixture as it is: several threads may call them at once, each with its own Rng.
template <class Self>
class Mixture : public Density<Self> {
public:

    // Draws points with `rng`, which advances (gmmvi_model_sample, gmmvi_submodel_sample):
    // `len` Reals, a multiple of dim. A Model writes whole rows; a SubModel writes its own
    // coordinates and keeps the others (a row holding a conditional's given values comes back
    // complete).
    Status sample(Rng& rng, Real* x, std::size_t len) const noexcept {
        if (len % GMMVI_DIM != 0) return Code::invalid_argument;
        return Status(c_sample(self().storage(), rng.storage(), x, len / GMMVI_DIM));
    }
    // `n` points.
    Status sample(Rng& rng, Point* x, std::size_t n) const noexcept {
        return Status(c_sample(self().storage(), rng.storage(), reinterpret_cast<Real*>(x), n));
    }
    // A contiguous range of Reals or Points.
    template <class R, std::enable_if_t<points_out<R>, int> = 0>
    Status sample(Rng& rng, R&& x) const noexcept {
        return sample(rng, std::data(x), std::size(x));
    }

#if defined(GMMVI_HAS_SPAN)
    Status sample(Rng& rng, std::span<Real> x) const noexcept { return sample(rng, x.data(), x.size()); }
    Status sample(Rng& rng, std::span<Point> x) const noexcept { return sample(rng, x.data(), x.size()); }
#endif

#if defined(GMMVI_HAS_EIGEN)
    Status sample(Rng& rng, Eigen::Ref<Points> x) const noexcept {
        if (!whole_rows(x)) return Code::invalid_argument;
        return Status(c_sample(self().storage(), rng.storage(), x.data(), static_cast<std::size_t>(x.rows())));
    }
#endif

private:
    const Self& self() const noexcept { return static_cast<const Self&>(*this); }
};

}  // namespace detail

// A mixture over some of the coordinates (gmmvi_submodel, GMMVI_SUBMODEL_SIZE bytes inline):
// a marginal or conditional of a Model, filled by Model::marginal or Model::conditional. Until
// then every call gives Code::not_initialized; after a failed marginal or conditional it is
// empty (dim() 0, sample Code::invalid_argument, log densities -inf). Copyable like a Model.
class SubModel : public detail::Mixture<SubModel> {
public:
    constexpr SubModel() noexcept = default;

    // The number of its coordinates (gmmvi_submodel_dim).
    Result<std::size_t> dim() const noexcept {
        std::size_t d = 0;
        Status s(gmmvi_submodel_dim(&sub_, &d));
        return {s, d};
    }

    gmmvi_submodel* storage() noexcept { return &sub_; }
    const gmmvi_submodel* storage() const noexcept { return &sub_; }

private:
    gmmvi_submodel sub_{};
};

// A fitted mixture outside the optimiser (gmmvi_model, GMMVI_MODEL_SIZE bytes inline, so make
// a long-lived one static or a member): filled by Optimizer::snapshot, then sampled and
// evaluated without the optimiser, also from several threads at once (each with its own Rng)
// while nothing writes it. A new Model is prepared (gmmvi_model_init) and empty: sample gives
// Code::invalid_argument, log densities are -inf. Copyable: the storage holds a marker and
// plain numbers, no pointer, so its bytes are a complete copy.
class Model : public detail::Mixture<Model> {
public:
    Model() noexcept { static_cast<void>(clear()); }

    // Empties it (gmmvi_model_init).
    Status clear() noexcept { return Status(gmmvi_model_init(&model_)); }

    // The marginal over the coordinates `keep` (distinct, each below dim, in the order `out`
    // uses) into `out` (gmmvi_model_marginal). Code::invalid_argument for an empty, repeated or
    // out-of-range index set or an empty model, Code::numerical for a singular restricted
    // covariance; `out` is then empty.
    Status marginal(const std::size_t* keep, std::size_t n_keep, SubModel& out) const noexcept {
        return Status(gmmvi_model_marginal(&model_, keep, n_keep, out.storage()));
    }
    // A contiguous range of std::size_t.
    template <class R, std::enable_if_t<detail::indices_in<R>, int> = 0>
    Status marginal(const R& keep, SubModel& out) const noexcept {
        return marginal(std::data(keep), std::size(keep), out);
    }
    Status marginal(std::initializer_list<std::size_t> keep, SubModel& out) const noexcept {
        return marginal(keep.begin(), keep.size(), out);
    }

    // The conditional of the other coordinates (ascending) given the coordinates `given`
    // (distinct, each below dim, not all) at the values x[given[i]] (`x`: dim values, the
    // others ignored) into `out` (gmmvi_model_conditional). Errors as marginal, and
    // Code::invalid_argument for a non-finite given value.
    Status conditional(const std::size_t* given, std::size_t n_given, const Real* x, SubModel& out) const noexcept {
        return Status(gmmvi_model_conditional(&model_, given, n_given, x, out.storage()));
    }
    template <class R, std::enable_if_t<detail::indices_in<R>, int> = 0>
    Status conditional(const R& given, const Point& x, SubModel& out) const noexcept {
        return conditional(std::data(given), std::size(given), x.data(), out);
    }
    Status conditional(std::initializer_list<std::size_t> given, const Point& x, SubModel& out) const noexcept {
        return conditional(given.begin(), given.size(), x.data(), out);
    }

#if defined(GMMVI_HAS_SPAN)
    Status marginal(std::span<const std::size_t> keep, SubModel& out) const noexcept {
        return marginal(keep.data(), keep.size(), out);
    }
    Status conditional(std::span<const std::size_t> given, const Point& x, SubModel& out) const noexcept {
        return conditional(given.data(), given.size(), x.data(), out);
    }
#endif

    gmmvi_model* storage() noexcept { return &model_; }
    const gmmvi_model* storage() const noexcept { return &model_; }

private:
    gmmvi_model model_{};
};

namespace detail {

// Every call of a function of gmmvi.h that takes a state, in one place for both holders.
// `Self` provides state() (nullptr when there is none) and init_target(ptr, size).
template <class Self>
class Api : public Density<Self> {
public:

    // Replaces whatever the storage holds by a new optimiser (gmmvi_init); the same seed
    // gives the same bits.
    Status init(const Config& cfg, std::uint64_t seed) noexcept {
        State* s = nullptr;
        std::size_t size = 0;
        self().init_target(s, size);
        return Status(gmmvi_init(s, size, &cfg, seed));
    }

    // Why the last call on the storage failed (gmmvi_last_error): for a failed init, which
    // config field or key is wrong and what it must satisfy. "" when nothing failed.
    Status last_error(char* buf, std::size_t cap, std::size_t* written = nullptr) const noexcept {
        return Status(gmmvi_last_error(self().state(), buf, cap, written));
    }
    template <std::size_t N>
    Status last_error(char (&buf)[N]) const noexcept {
        return last_error(buf, N);
    }

    // Iterations until `max_iterations` ran or `max_evaluations` target evaluations were
    // spent (0: no budget) or a step fails (gmmvi_run). `report` (optional) receives the
    // totals, also after a failure.
    template <class F>
    Status run(F&& target, std::uint64_t max_iterations, std::uint64_t max_evaluations = 0,
               Report* report = nullptr) noexcept {
        using Fn = std::remove_reference_t<F>;
        if constexpr (std::is_function_v<Fn>) {
            return run(&target, max_iterations, max_evaluations, report);
        } else {
            static_assert(is_target<Fn>, "a target is callable as int(const Real*, size_t, Real*, Real*)");
            return Status(gmmvi_run(self().state(), &trampoline<Fn>, ctx_of(target), max_iterations,
                                    max_evaluations, report));
        }
    }

    // One iteration (gmmvi_step).
    template <class F>
    Status step(F&& target, Report* report = nullptr) noexcept {
        using Fn = std::remove_reference_t<F>;
        if constexpr (std::is_function_v<Fn>) {
            return step(&target, report);
        } else {
            static_assert(is_target<Fn>, "a target is callable as int(const Real*, size_t, Real*, Real*)");
            return Status(gmmvi_step(self().state(), &trampoline<Fn>, ctx_of(target), report));
        }
    }

    // Fills `out` with points drawn from the fitted mixture (gmmvi_sample): `len` Reals, a
    // multiple of dim.
    Status sample(Real* out, std::size_t len) noexcept {
        if (len % GMMVI_DIM != 0) return Code::invalid_argument;
        return Status(gmmvi_sample(self().state(), out, len / GMMVI_DIM));
    }
    // `n` points.
    Status sample(Point* out, std::size_t n) noexcept {
        return Status(gmmvi_sample(self().state(), reinterpret_cast<Real*>(out), n));
    }
    // A contiguous range of Reals or Points.
    template <class R, std::enable_if_t<points_out<R>, int> = 0>
    Status sample(R&& out) noexcept {
        return sample(std::data(out), std::size(out));
    }

    // Totals and the last step's details (gmmvi_stats).
    Result<Report> stats() const noexcept {
        Report r{};
        Status s(gmmvi_stats(self().state(), &r));
        return {s, r};
    }

    // Component k (gmmvi_get_component); k below stats()->components.
    Result<Component> component(std::size_t k) const noexcept {
        Component c{};
        Status s = component(k, &c.weight, &c.mean, &c.covariance, &c.cholesky);
        return {s, c};
    }
    // The parts of component k wanted: any output may be nullptr.
    Status component(std::size_t k, Real* weight, Point* mean, Matrix* covariance, Matrix* cholesky) const noexcept {
        return Status(gmmvi_get_component(self().state(), k, weight, mean ? mean->data() : nullptr,
                                          covariance ? covariance->data() : nullptr,
                                          cholesky ? cholesky->data() : nullptr));
    }

    // Bytes save() needs now (gmmvi_checkpoint_size).
    Result<std::size_t> checkpoint_size() const noexcept {
        std::size_t n = 0;
        Status s(gmmvi_checkpoint_size(self().state(), &n));
        return {s, n};
    }

    // A checkpoint of the complete state into `out` (gmmvi_save): the bytes written, or
    // Code::buffer_too_small with the size needed.
    Result<std::size_t> save(std::uint8_t* out, std::size_t cap) const noexcept {
        std::uint8_t none = 0;
        std::size_t written = 0;
        Status s(gmmvi_save(self().state(), cap ? out : &none, cap, &written));
        return {s, written};
    }
    template <class R, std::enable_if_t<bytes_out<R>, int> = 0>
    Result<std::size_t> save(R&& out) const noexcept {
        return save(bytes(std::data(out)), std::size(out));
    }

    // Replaces the state by a checkpoint of save() (gmmvi_restore); the optimiser must have
    // been initialised with the same configuration. On error the state is unchanged.
    Status restore(const std::uint8_t* bytes, std::size_t len) noexcept {
        return Status(gmmvi_restore(self().state(), bytes, len));
    }
    template <class R, std::enable_if_t<bytes_in<R>, int> = 0>
    Status restore(const R& in) noexcept {
        return restore(bytes(std::data(in)), std::size(in));
    }

    // The fitted mixture alone, portable (gmmvi_export_model): as save().
    Result<std::size_t> export_model(std::uint8_t* out, std::size_t cap) const noexcept {
        std::uint8_t none = 0;
        std::size_t written = 0;
        Status s(gmmvi_export_model(self().state(), cap ? out : &none, cap, &written));
        return {s, written};
    }
    template <class R, std::enable_if_t<bytes_out<R>, int> = 0>
    Result<std::size_t> export_model(R&& out) const noexcept {
        return export_model(bytes(std::data(out)), std::size(out));
    }
    // Bytes export_model() needs now.
    Result<std::size_t> export_size() const noexcept {
        Result<std::size_t> r = export_model(nullptr, 0);
        return {r.status() == Code::buffer_too_small ? Status() : r.status(), r.value()};
    }

    // Replaces the model by an exported one (gmmvi_import_model); on error the state is
    // unchanged.
    Status import_model(const std::uint8_t* bytes, std::size_t len) noexcept {
        return Status(gmmvi_import_model(self().state(), bytes, len));
    }
    template <class R, std::enable_if_t<bytes_in<R>, int> = 0>
    Status import_model(const R& in) noexcept {
        return import_model(bytes(std::data(in)), std::size(in));
    }

    // Declares the target's support lo[i] < x_i < hi[i] (gmmvi_set_bounds): -INFINITY /
    // INFINITY leave a side open. The model stays in the unconstrained space; the target is
    // only called inside, and sample/log_density/export_model work in the bounded space.
    // Forgets the stored samples. Code::invalid_argument (state unchanged) for n != dim, a
    // NaN or lo[i] >= hi[i]; last_error names the coordinate.
    Status set_bounds(const Real* lo, const Real* hi, std::size_t n) noexcept {
        return Status(gmmvi_set_bounds(self().state(), lo, hi, n));
    }
    Status set_bounds(const Point& lo, const Point& hi) noexcept {
        return set_bounds(lo.data(), hi.data(), GMMVI_DIM);
    }
    // The bounds in use (gmmvi_get_bounds); infinite where a side is open.
    Status get_bounds(Real* lo, Real* hi, std::size_t n) const noexcept {
        return Status(gmmvi_get_bounds(self().state(), lo, hi, n));
    }
    Status get_bounds(Point& lo, Point& hi) const noexcept { return get_bounds(lo.data(), hi.data(), GMMVI_DIM); }

    // The target changed (gmmvi_retarget): keeps the model, the bounds and the random streams,
    // forgets the stored samples, the histories and the step-size adaptation.
    Status retarget() noexcept { return Status(gmmvi_retarget(self().state())); }

    // Copies the fitted mixture into `out` (gmmvi_snapshot), replacing what it held; the copy
    // is independent of the optimiser, so fitting may go on while other threads read it.
    // Refused with bounds set (the mixture is over unconstrained coordinates):
    // Code::invalid_argument, last_error says so, `out` unchanged.
    Status snapshot(Model& out) const noexcept { return Status(gmmvi_snapshot(self().state(), out.storage())); }

#if defined(GMMVI_HAS_SPAN)
    Status sample(std::span<Real> out) noexcept { return sample(out.data(), out.size()); }
    Status sample(std::span<Point> out) noexcept { return sample(out.data(), out.size()); }
    Result<std::size_t> save(std::span<std::uint8_t> out) const noexcept { return save(out.data(), out.size()); }
    Status restore(std::span<const std::uint8_t> in) noexcept { return restore(in.data(), in.size()); }
    Result<std::size_t> export_model(std::span<std::uint8_t> out) const noexcept {
        return export_model(out.data(), out.size());
    }
    Status import_model(std::span<const std::uint8_t> in) noexcept { return import_model(in.data(), in.size()); }
#endif

#if defined(GMMVI_HAS_EIGEN)
    using Points = detail::Points;
    using Values = detail::Values;

    Status sample(Eigen::Ref<Points> out) noexcept {
        if (!whole_rows(out)) return Code::invalid_argument;
        return Status(gmmvi_sample(self().state(), out.data(), static_cast<std::size_t>(out.rows())));
    }
#endif

private:
    Self& self() noexcept { return static_cast<Self&>(*this); }
    const Self& self() const noexcept { return static_cast<const Self&>(*this); }

    template <class Fn>
    static void* ctx_of(Fn& f) noexcept {
        return const_cast<void*>(static_cast<const volatile void*>(std::addressof(f)));
    }
};

}  // namespace detail

// An optimiser that owns its state by value: GMMVI_STATE_SIZE bytes, so make it static, a
// member of something static, or allocate it yourself. Until init() succeeds every call gives
// Code::not_initialized.
//
// Movable: the library's state holds no pointer into itself (its initialised marker is a
// constant, its flags plain values), so the bytes are relocated with memcpy and the moved-from
// optimiser is left uninitialised (Code::not_initialized). A move from an optimiser that is
// running a target, or onto one, moves nothing (both keep their states), since a callback
// holds the state in use.
class Optimizer : public detail::Api<Optimizer> {
public:
    Optimizer() noexcept = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;
    Optimizer(Optimizer&& other) noexcept { take(other); }
    Optimizer& operator=(Optimizer&& other) noexcept {
        if (this != &other && !busy(state_)) take(other);
        return *this;
    }
    ~Optimizer() = default;

    State* state() noexcept { return &state_; }
    const State* state() const noexcept { return &state_; }

private:
    friend class detail::Api<Optimizer>;
    void init_target(State*& s, std::size_t& size) noexcept {
        s = &state_;
        size = sizeof state_;
    }

    static bool busy(const State& s) noexcept {
        Report r;
        return gmmvi_stats(&s, &r) == GMMVI_BUSY;
    }

    void take(Optimizer& other) noexcept {
        Report r;
        gmmvi_status s = gmmvi_stats(&other.state_, &r);
        if (s == GMMVI_BUSY) return;
        if (s == GMMVI_OK) {
            std::memcpy(&state_, &other.state_, sizeof state_);
            std::memset(&other.state_, 0, sizeof other.state_);
        } else {
            std::memset(&state_, 0, sizeof state_);
        }
    }

    State state_{};
};

// A non-owning, movable handle on caller storage: a gmmvi_state, or any buffer (its size is
// checked by init: Code::buffer_too_small, Code::bad_alignment). A moved-from or default
// handle has no storage: every call gives Code::null_pointer. The storage must outlive the
// handle; two handles on one storage see the same optimiser.
class OptimizerRef : public detail::Api<OptimizerRef> {
public:
    OptimizerRef() noexcept = default;
    explicit OptimizerRef(State& storage) noexcept : p_(&storage), size_(sizeof storage) {}
    OptimizerRef(void* storage, std::size_t bytes) noexcept : p_(static_cast<State*>(storage)), size_(bytes) {}
    OptimizerRef(const OptimizerRef&) = delete;
    OptimizerRef& operator=(const OptimizerRef&) = delete;
    OptimizerRef(OptimizerRef&& other) noexcept : p_(other.p_), size_(other.size_) { other.reset(); }
    OptimizerRef& operator=(OptimizerRef&& other) noexcept {
        if (this != &other) {
            p_ = other.p_;
            size_ = other.size_;
            other.reset();
        }
        return *this;
    }
    ~OptimizerRef() = default;

    bool empty() const noexcept { return p_ == nullptr; }
    // The state, or nullptr without (enough) storage.
    State* state() noexcept { return size_ >= GMMVI_STATE_SIZE ? p_ : nullptr; }
    const State* state() const noexcept { return size_ >= GMMVI_STATE_SIZE ? p_ : nullptr; }

private:
    friend class detail::Api<OptimizerRef>;
    void init_target(State*& s, std::size_t& size) noexcept {
        s = p_;
        size = size_;
    }
    void reset() noexcept {
        p_ = nullptr;
        size_ = 0;
    }

    State* p_ = nullptr;
    std::size_t size_ = 0;
};

#if defined(GMMVI_HAS_EIGEN)
using Points = detail::Api<Optimizer>::Points;
using Values = detail::Api<Optimizer>::Values;
using PointsMap = Eigen::Map<Points>;
using ConstPointsMap = Eigen::Map<const Points>;

// n points at `data` (n x dim, row-major) as an Eigen matrix, e.g. a target's x and grad.
inline PointsMap points_map(Real* data, std::size_t n) noexcept {
    return PointsMap(data, static_cast<Eigen::Index>(n), GMMVI_DIM);
}
inline ConstPointsMap points_map(const Real* data, std::size_t n) noexcept {
    return ConstPointsMap(data, static_cast<Eigen::Index>(n), GMMVI_DIM);
}
// A Matrix (covariance, Cholesky factor) as an Eigen matrix.
inline Eigen::Map<const Eigen::Matrix<Real, GMMVI_DIM, GMMVI_DIM, GMMVI_DIM == 1 ? Eigen::ColMajor : Eigen::RowMajor>>
matrix_map(const Matrix& m) noexcept {
    return Eigen::Map<const Eigen::Matrix<Real, GMMVI_DIM, GMMVI_DIM, GMMVI_DIM == 1 ? Eigen::ColMajor : Eigen::RowMajor>>(
        m.data());
}
#endif

}  // namespace gmmvi

#endif  // GMMVI_HPP

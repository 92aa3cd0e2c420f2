// Checks of include/gmmvi.hpp against the C API it wraps (driven by ffi/tests/cpp_wrapper.rs):
// the same numbers as the C calls for the same seed, every kind of callable, the buffer
// overloads and their size checks, save/restore, export/import, moves, models and submodels,
// Eigen and std::span.
// Built with -fno-exceptions -fno-rtti; prints the number of checks and exits 1 on a failure.
#include <gmmvi.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#if defined(EXPECT_SPAN) && !defined(GMMVI_HAS_SPAN)
#error "std::span overloads expected (C++20)"
#endif
#if defined(EXPECT_EIGEN) && !defined(GMMVI_HAS_EIGEN)
#error "Eigen overloads expected (<Eigen/Core> on the include path)"
#endif

using gmmvi::Code;
using gmmvi::Point;
using gmmvi::Real;
constexpr std::size_t D = gmmvi::dim;

namespace {

int checks = 0;
int failures = 0;

void check(bool ok, const char* what, int line) {
    ++checks;
    if (!ok) {
        ++failures;
        std::fprintf(stderr, "wrapper_test.cpp:%d: check failed: %s\n", line, what);
    }
}
#define CHECK(cond) check(static_cast<bool>(cond), #cond, __LINE__)

template <class A, class B>
bool same_bytes(const A& a, const B& b) {
    return std::size(a) * sizeof(*std::data(a)) == std::size(b) * sizeof(*std::data(b)) &&
           std::memcmp(std::data(a), std::data(b), std::size(a) * sizeof(*std::data(a))) == 0;
}

bool same_report(const gmmvi::Report& a, const gmmvi::Report& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// An axis-aligned Gaussian with gradient: log p(x) = -1/2 sum ((x_d - m_d) / s_d)^2.
int gauss(const Real* x, std::size_t n, Real* log_p, Real* grad) {
    for (std::size_t i = 0; i < n; ++i) {
        Real lp = 0;
        for (std::size_t d = 0; d < D; ++d) {
            const Real m = Real(0.5) * static_cast<Real>(d), s = Real(1) + Real(0.1) * static_cast<Real>(d);
            const Real z = (x[i * D + d] - m) / s;
            lp -= Real(0.5) * z * z;
            if (grad) grad[i * D + d] = -z / s;
        }
        log_p[i] = lp;
    }
    return 0;
}

int c_target(void*, const Real* x, std::size_t n, Real* log_p, Real* grad) { return gauss(x, n, log_p, grad); }

int fn_calls = 0;
int counted(const Real* x, std::size_t n, Real* log_p, Real* grad) {
    ++fn_calls;
    return gauss(x, n, log_p, grad);
}

struct Functor {
    int calls = 0;
    int operator()(const Real* x, std::size_t n, Real* log_p, Real* grad) {
        ++calls;
        return gauss(x, n, log_p, grad);
    }
};

struct ConstFunctor {
    int operator()(const Real* x, std::size_t n, Real* log_p, Real* grad) const { return gauss(x, n, log_p, grad); }
};

gmmvi::Config test_config() {
    gmmvi::Config cfg = gmmvi::config_default().value();
    cfg.initial_components = GMMVI_MAX_COMPONENTS < 3 ? GMMVI_MAX_COMPONENTS : 3;
    return cfg;
}

constexpr std::uint64_t seed = 5;
constexpr std::size_t n_points = 40;
constexpr int iters = 6;

gmmvi_state c_state;  // the reference, through the C API only
gmmvi::Optimizer opt;
gmmvi::Optimizer other;

// The C API's checkpoint after `iters` iterations from `seed`: what every wrapper run must
// reproduce byte for byte.
std::vector<std::uint8_t> c_reference() {
    gmmvi::Config cfg = test_config();
    std::vector<std::uint8_t> out;
    if (gmmvi_init(&c_state, sizeof c_state, &cfg, seed) != GMMVI_OK) return out;
    if (gmmvi_run(&c_state, c_target, nullptr, iters, 0, nullptr) != GMMVI_OK) return out;
    std::size_t n = 0;
    if (gmmvi_checkpoint_size(&c_state, &n) != GMMVI_OK) return out;
    out.resize(n);
    std::size_t written = 0;
    if (gmmvi_save(&c_state, out.data(), out.size(), &written) != GMMVI_OK) out.clear();
    return out;
}

std::vector<std::uint8_t> checkpoint(const gmmvi::Optimizer& o) {
    std::vector<std::uint8_t> out(o.checkpoint_size().value());
    const auto w = o.save(out);
    CHECK(w.ok() && *w == out.size());
    return out;
}

// ---- Configuration and status ---------------------------------------------------------------

bool same_config(const gmmvi::Config& a, const gmmvi::Config& b) {
    return std::memcmp(a.codeword, b.codeword, sizeof a.codeword) == 0 && a.overrides == b.overrides &&
           a.temperature == b.temperature && a.component_step == b.component_step && a.weight_step == b.weight_step &&
           a.reuse_ratio == b.reuse_ratio && a.samples_per_component == b.samples_per_component &&
           a.max_components == b.max_components && a.add_iters == b.add_iters && a.del_iters == b.del_iters &&
           a.initial_components == b.initial_components && a.num_prior_samples == b.num_prior_samples &&
           same_bytes(a.prior_mean, b.prior_mean) && same_bytes(a.prior_std, b.prior_std) &&
           same_bytes(a.initial_std, b.initial_std);
}

void test_config_and_status() {
    gmmvi_config d{};
    CHECK(gmmvi_config_default(&d) == GMMVI_OK);
    CHECK(gmmvi::config_default().ok() && same_config(gmmvi::config_default().value(), d));
    CHECK(gmmvi::abi_matches());
    CHECK(gmmvi::library_version() ==
          (gmmvi::version_major << 16 | gmmvi::version_minor << 8 | gmmvi::version_patch));

    gmmvi_config c{};
    CHECK(gmmvi_config_from_codeword("SAMTRON", &c) == GMMVI_OK);
    const auto w = gmmvi::config_from_codeword("SAMTRON");
    CHECK(w.ok() && same_config(*w, c));
    CHECK(gmmvi::config_from_codeword("XXXXXXX").status() == Code::bad_config);
    CHECK(gmmvi::config_from_codeword(nullptr).status() == Code::null_pointer);

    const char* text = "SAMTRON n_des=10 num_prior_samples=5";
    CHECK(gmmvi_config_parse(text, &c, nullptr, nullptr, 0) == GMMVI_OK);
    const auto p = gmmvi::config_parse(text);
    CHECK(p.ok() && same_config(*p, c) && p->overrides == text && p->samples_per_component == 10);

    const char* bad = "SAMTRUX n_des=10 no_such_key=1";
    std::size_t c_off = 0, w_off = 0;
    char c_msg[256] = {0}, w_msg[256] = {0};
    CHECK(gmmvi_config_parse(bad, &c, &c_off, c_msg, sizeof c_msg) == GMMVI_BAD_CONFIG);
    const auto q = gmmvi::config_parse(bad, &w_off, w_msg);
    CHECK(q.status() == Code::bad_config && w_off == c_off && w_off == 17);
    CHECK(std::strcmp(c_msg, w_msg) == 0 && std::strcmp(w_msg, "no_such_key=1: unknown key") == 0);

    // A refused init names the field.
    gmmvi::Optimizer refused;
    gmmvi::Config spoilt = gmmvi::config_default().value();
    spoilt.del_iters = 0;
    CHECK(refused.init(spoilt, 1).code() == Code::bad_config);
    char why[256] = {0};
    CHECK(refused.last_error(why).ok() && std::strcmp(why, "del_iters: must be at least 1") == 0);

    for (std::uint32_t code = 0; code <= 14; ++code) CHECK(gmmvi::Status(code).str() == gmmvi_status_str(code));
    CHECK(gmmvi::status_str(Code::busy) == gmmvi_status_str(GMMVI_BUSY));
    CHECK(gmmvi::Status().ok() && !gmmvi::Status(Code::numerical).ok());
    CHECK(gmmvi::Status(Code::numerical).raw() == GMMVI_NUMERICAL);
}

// ---- The wrapper gives the C API's numbers ----------------------------------------------------

void test_same_as_c() {
    const gmmvi::Config cfg = test_config();
    Real none[D];
    CHECK(opt.sample(none).code() == Code::not_initialized);
    CHECK(gmmvi_init(&c_state, sizeof c_state, &cfg, seed) == GMMVI_OK);
    CHECK(opt.init(cfg, seed).ok());
    gmmvi_report rc{}, rw{};
    CHECK(gmmvi_run(&c_state, c_target, nullptr, iters, 0, &rc) == GMMVI_OK);
    CHECK(opt.run(gauss, iters, 0, &rw).ok());
    CHECK(same_report(rc, rw) && rw.iterations == iters);
    CHECK(same_report(opt.stats().value(), rc));

    // Sampling, log densities, components, checkpoints and exported models are the same bytes.
    std::vector<Real> xc(n_points * D), xw(n_points * D);
    CHECK(gmmvi_sample(&c_state, xc.data(), n_points) == GMMVI_OK);
    CHECK(opt.sample(xw).ok());
    CHECK(same_bytes(xc, xw));
    std::vector<Real> lc(n_points), lw(n_points);
    CHECK(gmmvi_log_density(&c_state, xc.data(), n_points, lc.data()) == GMMVI_OK);
    CHECK(opt.log_density(xw, lw).ok());
    CHECK(same_bytes(lc, lw));
    for (std::size_t k = 0; k < rc.components; ++k) {
        Real w = 0;
        Point m{};
        gmmvi::Matrix cov{}, chol{};
        CHECK(gmmvi_get_component(&c_state, k, &w, m.data(), cov.data(), chol.data()) == GMMVI_OK);
        const auto comp = opt.component(k);
        CHECK(comp.ok() && comp->weight == w && same_bytes(comp->mean, m) && same_bytes(comp->covariance, cov) &&
              same_bytes(comp->cholesky, chol));
        // The Cholesky factor is lower triangular and reproduces the covariance.
        double worst = 0;
        for (std::size_t i = 0; i < D; ++i) {
            for (std::size_t j = 0; j < D; ++j) {
                double s = 0;
                for (std::size_t l = 0; l < D; ++l) s += double(chol[i * D + l]) * double(chol[j * D + l]);
                worst = std::fmax(worst, std::fabs(s - double(cov[i * D + j])));
                if (j > i) CHECK(chol[i * D + j] == 0);
            }
        }
        CHECK(worst < 1e-4);
        // Parts may be skipped.
        Real w2 = -1;
        CHECK(opt.component(k, &w2, nullptr, nullptr, nullptr).ok() && w2 == w);
    }
    CHECK(opt.component(rc.components).status() == Code::no_such_component);

    std::size_t cs = 0;
    CHECK(gmmvi_checkpoint_size(&c_state, &cs) == GMMVI_OK && opt.checkpoint_size().value() == cs);
    std::vector<std::uint8_t> bc(cs), bw(cs);
    std::size_t written = 0;
    CHECK(gmmvi_save(&c_state, bc.data(), bc.size(), &written) == GMMVI_OK && written == cs);
    CHECK(opt.save(bw).ok());
    CHECK(same_bytes(bc, bw));
    std::vector<std::uint8_t> mc(opt.export_size().value()), mw(mc.size());
    CHECK(!mc.empty());
    CHECK(gmmvi_export_model(&c_state, mc.data(), mc.size(), &written) == GMMVI_OK && written == mc.size());
    CHECK(opt.export_model(mw).value() == mw.size());
    CHECK(same_bytes(mc, mw));
}

// ---- Callables ------------------------------------------------------------------------------

void test_callables(const std::vector<std::uint8_t>& ref) {
    const gmmvi::Config cfg = test_config();
    auto fresh = [&] { CHECK(opt.init(cfg, seed).ok()); };

    fresh();  // a temporary lambda
    CHECK(opt.run([](const Real* x, std::size_t n, Real* lp, Real* g) { return gauss(x, n, lp, g); }, iters).ok());
    CHECK(same_bytes(checkpoint(opt), ref));

    fresh();  // a capturing lambda: it sees every evaluation
    std::size_t points = 0;
    auto capturing = [&points](const Real* x, std::size_t n, Real* lp, Real* g) {
        points += n;
        return gauss(x, n, lp, g);
    };
    CHECK(opt.run(capturing, iters).ok());
    CHECK(points > 0 && points == opt.stats()->evaluations);
    CHECK(same_bytes(checkpoint(opt), ref));

    fresh();  // a function pointer
    int (*fp)(const Real*, std::size_t, Real*, Real*) = counted;
    fn_calls = 0;
    CHECK(opt.run(fp, iters).ok() && fn_calls > 0);
    CHECK(same_bytes(checkpoint(opt), ref));

    fresh();  // a function
    fn_calls = 0;
    CHECK(opt.run(counted, iters).ok() && fn_calls > 0);
    CHECK(same_bytes(checkpoint(opt), ref));

    fresh();  // a function object by reference: its own state changes
    Functor f;
    CHECK(opt.run(f, iters).ok() && f.calls > 0);
    CHECK(same_bytes(checkpoint(opt), ref));

    fresh();  // a const function object and a temporary one
    const ConstFunctor cf;
    CHECK(opt.run(cf, iters / 2).ok());
    CHECK(opt.run(Functor{}, iters - iters / 2).ok());
    CHECK(same_bytes(checkpoint(opt), ref));

    fresh();  // step by step, with a temporary capturing lambda and the report
    int calls = 0;
    gmmvi::Report r{};
    for (int i = 0; i < iters; ++i) {
        CHECK(opt.step([&calls](const Real* x, std::size_t n, Real* lp, Real* g) { return ++calls, gauss(x, n, lp, g); },
                       &r)
                  .ok());
    }
    CHECK(calls > 0 && r.iterations == iters);
    CHECK(same_bytes(checkpoint(opt), ref));

    // A failing target: its code in the report, the model unchanged.
    const auto before = opt.component(0);
    CHECK(opt.run([](const Real*, std::size_t, Real*, Real*) { return 7; }, 3, 0, &r).code() == Code::target_failed);
    CHECK(r.target_error == 7 && r.iterations == iters);
    CHECK(before.ok() && same_bytes(opt.component(0)->covariance, before->covariance));

    // A target calling back into its own optimiser is refused (busy).
    gmmvi::Status inner;
    CHECK(opt.step([&inner](const Real* x, std::size_t n, Real* lp, Real* g) {
                 inner = opt.stats().status();
                 return gauss(x, n, lp, g);
             })
              .ok());
    CHECK(inner == Code::busy);
}

// ---- Buffers --------------------------------------------------------------------------------

void test_buffers(const std::vector<std::uint8_t>& ref) {
    CHECK(opt.init(test_config(), seed).ok() && opt.restore(ref).ok());
    // Restoring resets gmmvi_sample's stream too: every overload draws the same points.
    std::vector<Real> v(n_points * D);
    CHECK(opt.sample(v).ok());
    CHECK(opt.restore(ref).ok());
    Real raw[n_points * D];
    CHECK(opt.sample(raw, n_points * D).ok() && same_bytes(raw, v));
    CHECK(opt.restore(ref).ok());
    Real carray[n_points * D];
    CHECK(opt.sample(carray).ok() && same_bytes(carray, v));
    CHECK(opt.restore(ref).ok());
    std::array<Point, n_points> pts{};
    CHECK(opt.sample(pts).ok() && same_bytes(pts, v));
    CHECK(opt.restore(ref).ok());
    std::vector<Point> vp(n_points);
    CHECK(opt.sample(vp.data(), vp.size()).ok() && same_bytes(vp, v));
#if defined(GMMVI_HAS_SPAN)
    CHECK(opt.restore(ref).ok());
    std::vector<Real> s(n_points * D);
    CHECK(opt.sample(std::span<Real>(s)).ok() && same_bytes(s, v));
    CHECK(opt.restore(ref).ok());
    std::vector<Point> sp(n_points);
    CHECK(opt.sample(std::span<Point>(sp)).ok() && same_bytes(sp, v));
    CHECK(opt.restore(ref).ok());
    CHECK(opt.sample({s.data(), s.size()}).ok() && same_bytes(s, v));
#endif

    // A buffer that is not a whole number of points is refused before anything is written.
    Real sentinel[D + 1];
    for (auto& x : sentinel) x = Real(42);
    CHECK(opt.sample(sentinel, D + 1).code() == Code::invalid_argument && sentinel[0] == Real(42));

    // log q through every overload.
    std::vector<Real> lq(n_points);
    CHECK(opt.log_density(v, lq).ok());
    std::array<Real, n_points> la{};
    CHECK(opt.log_density(v.data(), v.size(), la.data(), la.size()).ok() && same_bytes(la, lq));
    la.fill(0);
    CHECK(opt.log_density(pts, la).ok() && same_bytes(la, lq));
    la.fill(0);
    CHECK(opt.log_density(pts.data(), pts.size(), la.data(), la.size()).ok() && same_bytes(la, lq));
    const auto one = opt.log_density(pts[3]);
    CHECK(one.ok() && *one == lq[3]);
#if defined(GMMVI_HAS_SPAN)
    la.fill(0);
    CHECK(opt.log_density(std::span<const Real>(v), std::span<Real>(la)).ok() && same_bytes(la, lq));
    la.fill(0);
    CHECK(opt.log_density(std::span<const Point>(pts), std::span<Real>(la)).ok() && same_bytes(la, lq));
#endif
    // Too short an output, a partial point: a status, nothing written.
    std::vector<Real> short_lq(n_points, Real(42));
    CHECK(opt.log_density(v.data(), v.size(), short_lq.data(), n_points - 1).code() == Code::buffer_too_small);
    CHECK(short_lq[0] == Real(42));
    std::array<Real, 3> three{};
    CHECK(opt.log_density(pts, three).code() == Code::buffer_too_small);
    CHECK(opt.log_density(v.data(), v.size() - 1, lq.data(), lq.size()).code() == Code::invalid_argument);

    // Checkpoint bytes: too small a buffer gives the size needed; std::byte works too.
    const std::size_t need = opt.checkpoint_size().value();
    std::vector<std::uint8_t> small(need - 1);
    const auto w = opt.save(small);
    CHECK(w.status() == Code::buffer_too_small && w.value() == need);
    const auto w0 = opt.save(nullptr, 0);
    CHECK(w0.status() == Code::buffer_too_small && w0.value() == need);
    std::vector<std::byte> bytes(need);
    CHECK(opt.restore(ref).ok() && opt.save(bytes).value() == need && same_bytes(bytes, ref));
    CHECK(opt.restore(bytes).ok());
    std::vector<std::uint8_t> model_small(3);
    const auto m = opt.export_model(model_small);
    CHECK(m.status() == Code::buffer_too_small && m.value() == opt.export_size().value());
}

// ---- Save, restore, export, import ----------------------------------------------------------

void test_checkpoints() {
    const gmmvi::Config cfg = test_config();
    CHECK(opt.init(cfg, seed).ok() && opt.run(gauss, 4).ok());
    const auto ck = checkpoint(opt);
    CHECK(opt.run(gauss, 5).ok());
    std::vector<Real> a(n_points * D), b(n_points * D);
    CHECK(opt.sample(a).ok());

    // Another seed, then the checkpoint: the continuation is bit-identical.
    CHECK(other.init(cfg, 99).ok() && other.restore(ck).ok());
    CHECK(other.run(gauss, 5).ok() && other.sample(b).ok());
    CHECK(same_bytes(a, b));
    CHECK(same_report(opt.stats().value(), other.stats().value()));
    CHECK(same_bytes(checkpoint(opt), checkpoint(other)));

    // Corrupted or truncated bytes: refused, state unchanged.
    const auto now = checkpoint(other);
    auto bad = ck;
    bad[bad.size() / 2] ^= 0x40;
    CHECK(other.restore(bad).code() == Code::bad_checkpoint);
    CHECK(other.restore(ck.data(), ck.size() - 1).code() == Code::bad_checkpoint);
    CHECK(same_bytes(checkpoint(other), now));

    // Export into a fresh optimiser of another config and seed: the same mixture.
    std::vector<std::uint8_t> model(opt.export_size().value());
    CHECK(opt.export_model(model).value() == model.size());
    CHECK(other.init(gmmvi::config_default().value(), 7).ok() && other.import_model(model).ok());
    CHECK(other.stats()->components == opt.stats()->components);
    std::vector<Real> la(n_points), lb(n_points);
    CHECK(opt.log_density(a, la).ok() && other.log_density(a, lb).ok());
    CHECK(same_bytes(la, lb));
    for (std::size_t k = 0; k < opt.stats()->components; ++k) {
        const auto ca = opt.component(k), cb = other.component(k);
        CHECK(ca->weight == cb->weight && same_bytes(ca->mean, cb->mean) && same_bytes(ca->cholesky, cb->cholesky));
    }
    CHECK(other.import_model(model.data(), model.size() - 1).code() == Code::bad_checkpoint);
}

// ---- Bounds and retarget --------------------------------------------------------------------

// The same bounded run, retarget and continued run through the C API and the wrapper.
void test_bounds() {
    const gmmvi::Config cfg = test_config();
    Point lo{}, hi{};
    for (std::size_t d = 0; d < D; ++d) {
        lo[d] = Real(-0.5);
        hi[d] = Real(0.5) * static_cast<Real>(d) + Real(1);
    }
    lo[0] = -INFINITY;  // one-sided
    if (D > 1) hi[D - 1] = INFINITY;

    gmmvi::Optimizer fresh;
    CHECK(fresh.set_bounds(lo, hi).code() == Code::not_initialized);
    CHECK(fresh.retarget().code() == Code::not_initialized);
    gmmvi::OptimizerRef none;
    CHECK(none.set_bounds(lo, hi).code() == Code::null_pointer);

    CHECK(gmmvi_init(&c_state, sizeof c_state, &cfg, seed) == GMMVI_OK);
    CHECK(gmmvi_set_bounds(&c_state, lo.data(), hi.data(), D) == GMMVI_OK);
    CHECK(opt.init(cfg, seed).ok());
    Point glo{}, ghi{};
    CHECK(opt.get_bounds(glo, ghi).ok());
    for (std::size_t d = 0; d < D; ++d) CHECK(std::isinf(glo[d]) && glo[d] < 0 && std::isinf(ghi[d]) && ghi[d] > 0);
    CHECK(opt.set_bounds(lo, hi).ok());
    CHECK(opt.get_bounds(glo, ghi).ok() && same_bytes(glo, lo) && same_bytes(ghi, hi));
    Real rlo[D], rhi[D];
    CHECK(opt.get_bounds(rlo, rhi, D).ok() && same_bytes(rlo, lo) && same_bytes(rhi, hi));

    // Refused bounds leave the state and its bounds as they were.
    Point bad_lo = lo, bad_hi = hi;
    bad_lo[0] = Real(-2);
    bad_hi[0] = Real(-3);  // below its lower bound
    CHECK(opt.set_bounds(bad_lo, bad_hi).code() == Code::invalid_argument);
    char why[256];
    CHECK(opt.last_error(why).ok() && std::strlen(why) > 0);
    CHECK(opt.set_bounds(lo.data(), hi.data(), D + 1).code() == Code::invalid_argument);
    CHECK(opt.get_bounds(rlo, rhi, D + 1).code() == Code::invalid_argument);
    Point nan_lo = lo;
    nan_lo[D - 1] = NAN;
    CHECK(opt.set_bounds(nan_lo, hi).code() == Code::invalid_argument);
    CHECK(opt.get_bounds(glo, ghi).ok() && same_bytes(glo, lo) && same_bytes(ghi, hi));

    gmmvi::Report rc{}, rw{};
    CHECK(gmmvi_run(&c_state, c_target, nullptr, iters, 0, &rc) == GMMVI_OK);
    CHECK(opt.run(gauss, iters, 0, &rw).ok());
    CHECK(same_report(rc, rw));
    std::vector<Real> xc(n_points * D), xw(n_points * D);
    CHECK(gmmvi_sample(&c_state, xc.data(), n_points) == GMMVI_OK);
    CHECK(opt.sample(xw).ok());
    CHECK(same_bytes(xc, xw));
    bool inside = true;
    for (std::size_t i = 0; i < n_points; ++i) {
        for (std::size_t d = 0; d < D; ++d) inside = inside && xw[i * D + d] > lo[d] && xw[i * D + d] < hi[d];
    }
    CHECK(inside);

    // A retargeted run continues as the C one does (another target: the same one shifted).
    auto shifted = [](const Real* x, std::size_t n, Real* log_p, Real* grad) {
        Real y[D];
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t d = 0; d < D; ++d) y[d] = x[i * D + d] - Real(0.25);
            if (int rc = gauss(y, 1, log_p + i, grad ? grad + i * D : nullptr); rc != 0) return rc;
        }
        return 0;
    };
    struct Ctx {
        static int call(void* f, const Real* x, std::size_t n, Real* log_p, Real* grad) {
            return (*static_cast<decltype(shifted)*>(f))(x, n, log_p, grad);
        }
    };
    CHECK(gmmvi_retarget(&c_state) == GMMVI_OK);
    CHECK(opt.retarget().ok());
    CHECK(gmmvi_run(&c_state, Ctx::call, &shifted, iters, 0, &rc) == GMMVI_OK);
    CHECK(opt.run(shifted, iters, 0, &rw).ok());
    CHECK(same_report(rc, rw) && rw.iterations == 2 * iters);
    std::vector<std::uint8_t> bc(opt.checkpoint_size().value());
    std::size_t written = 0;
    CHECK(gmmvi_save(&c_state, bc.data(), bc.size(), &written) == GMMVI_OK && written == bc.size());
    CHECK(same_bytes(bc, checkpoint(opt)));
    CHECK(opt.get_bounds(glo, ghi).ok() && same_bytes(glo, lo) && same_bytes(ghi, hi));
}

// ---- Moves ----------------------------------------------------------------------------------

void test_moves(const std::vector<std::uint8_t>& ref) {
    const gmmvi::Config cfg = test_config();
    // Relocated half way: the moved optimiser continues bit-identically.
    auto a = std::make_unique<gmmvi::Optimizer>();
    CHECK(a->init(cfg, seed).ok() && a->run(gauss, iters / 2).ok());
    auto b = std::make_unique<gmmvi::Optimizer>(std::move(*a));
    CHECK(b->run(gauss, iters - iters / 2).ok());
    CHECK(same_bytes(checkpoint(*b), ref));
    Real x[D];
    CHECK(a->sample(x, D).code() == Code::not_initialized);
    CHECK(a->stats().status() == Code::not_initialized);
    CHECK(a->init(cfg, seed).ok() && a->run(gauss, iters).ok() && same_bytes(checkpoint(*a), ref));  // reusable

    // Move assignment; from an uninitialised optimiser it leaves the target uninitialised.
    auto c = std::make_unique<gmmvi::Optimizer>();
    *c = std::move(*b);
    CHECK(same_bytes(checkpoint(*c), ref) && b->stats().status() == Code::not_initialized);
    *c = std::move(*b);
    CHECK(c->stats().status() == Code::not_initialized);

    // From inside its own callback nothing moves: the running optimiser keeps its state.
    CHECK(a->init(cfg, seed).ok());
    gmmvi::Status moved_inner;
    bool moved = false;
    CHECK(a->step([&](const Real* xs, std::size_t n, Real* lp, Real* g) {
                 if (!moved) {
                     moved = true;
                     auto stolen = std::make_unique<gmmvi::Optimizer>(std::move(*a));
                     moved_inner = stolen->stats().status();
                     *a = std::move(*stolen);  // onto a busy optimiser: refused as well
                 }
                 return gauss(xs, n, lp, g);
             })
              .ok());
    CHECK(moved && moved_inner == Code::not_initialized);
    CHECK(a->run(gauss, iters - 1).ok() && same_bytes(checkpoint(*a), ref));

    // The non-owning handle: same numbers as the C API, movable, moved-from is empty.
    static gmmvi_state storage;
    gmmvi::OptimizerRef h(storage);
    CHECK(h.init(cfg, seed).ok() && h.run(gauss, iters).ok());
    gmmvi::OptimizerRef h2(std::move(h));
    CHECK(h.empty() && !h2.empty());
    CHECK(h.sample(x, D).code() == Code::null_pointer && h.init(cfg, seed).code() == Code::null_pointer);
    std::vector<std::uint8_t> hb(h2.checkpoint_size().value());
    CHECK(h2.save(hb).ok() && same_bytes(hb, ref));
    gmmvi::OptimizerRef h3;
    h3 = std::move(h2);
    CHECK(h2.empty() && h3.stats()->iterations == iters);
    CHECK(h3.state() == &storage);

    // Caller buffers: size and alignment are checked by init.
    alignas(8) static unsigned char small[64];
    gmmvi::OptimizerRef s(small, sizeof small);
    CHECK(s.init(cfg, seed).code() == Code::buffer_too_small);
    CHECK(s.stats().status() == Code::null_pointer);
    alignas(8) static unsigned char big[gmmvi::state_size + 8];
    gmmvi::OptimizerRef mis(big + 1, gmmvi::state_size);
    CHECK(mis.init(cfg, seed).code() == Code::bad_alignment);
    gmmvi::OptimizerRef fine(big, sizeof big);
    CHECK(fine.init(cfg, seed).ok() && fine.run(gauss, iters).ok());
    hb.assign(fine.checkpoint_size().value(), 0);
    CHECK(fine.save(hb).ok() && same_bytes(hb, ref));
}

// ---- Models, submodels and random streams -----------------------------------------------------

static_assert(D >= 3, "the model checks pick three coordinates");

// The C API's and the wrapper's snapshot of the reference state.
gmmvi_model c_model;
gmmvi::Model w_model;

// Fills rows with `v` (a submodel keeps the coordinates it does not draw).
void fill(std::vector<Real>& xs, Real v) {
    for (auto& x : xs) x = v;
}

// Draws from a submodel: the same bytes and the same stream afterwards as the C calls; the
// coordinates outside the submodel keep the rows' values.
bool same_sub_draws(const gmmvi_submodel& c, const gmmvi::SubModel& w, std::uint64_t rng_seed) {
    gmmvi_rng cr;
    gmmvi::Rng wr(rng_seed);
    std::vector<Real> xc(n_points * D), xw(n_points * D);
    fill(xc, Real(42));
    fill(xw, Real(42));
    if (gmmvi_rng_seed(&cr, rng_seed) != GMMVI_OK || gmmvi_submodel_sample(&c, &cr, xc.data(), n_points) != GMMVI_OK)
        return false;
    if (!w.sample(wr, xw).ok()) return false;
    std::vector<Real> lc(n_points), lw(n_points);
    if (gmmvi_submodel_log_density(&c, xc.data(), n_points, lc.data()) != GMMVI_OK) return false;
    if (!w.log_density(xw, lw).ok()) return false;
    return same_bytes(xc, xw) && same_bytes(lc, lw) && std::memcmp(&cr, wr.storage(), sizeof cr) == 0;
}

void test_models(const std::vector<std::uint8_t>& ref) {
    const gmmvi::Config cfg = test_config();
    CHECK(gmmvi_init(&c_state, sizeof c_state, &cfg, seed) == GMMVI_OK);
    CHECK(gmmvi_restore(&c_state, ref.data(), ref.size()) == GMMVI_OK);
    CHECK(opt.init(cfg, seed).ok() && opt.restore(ref).ok());

    // A new Model is prepared and empty; a snapshot fills it with the state's mixture.
    CHECK(gmmvi_model_init(&c_model) == GMMVI_OK);
    CHECK(gmmvi_snapshot(&c_state, &c_model) == GMMVI_OK);
    Real x1[D];
    gmmvi::Rng r0(3);
    CHECK(w_model.sample(r0, x1, D).code() == Code::invalid_argument);
    const auto empty_lq = w_model.log_density(Point{});
    CHECK(empty_lq.ok() && std::isinf(*empty_lq) && *empty_lq < 0);
    CHECK(opt.snapshot(w_model).ok());

    // Seeding: the same stream as the C call.
    gmmvi_rng cr;
    CHECK(gmmvi_rng_seed(&cr, 11) == GMMVI_OK);
    gmmvi::Rng wr(11), wr2;
    CHECK(std::memcmp(&cr, wr.storage(), sizeof cr) == 0);
    CHECK(wr2.seed(11).ok() && std::memcmp(&cr, wr2.storage(), sizeof cr) == 0);

    // Draws and densities: the C call's bytes, and the C stream's state afterwards.
    std::vector<Real> xc(n_points * D), xw(n_points * D);
    CHECK(gmmvi_model_sample(&c_model, &cr, xc.data(), n_points) == GMMVI_OK);
    CHECK(w_model.sample(wr, xw).ok());
    CHECK(same_bytes(xc, xw) && std::memcmp(&cr, wr.storage(), sizeof cr) == 0);
    std::vector<Real> lc(n_points), lw(n_points);
    CHECK(gmmvi_model_log_density(&c_model, xc.data(), n_points, lc.data()) == GMMVI_OK);
    CHECK(w_model.log_density(xw, lw).ok() && same_bytes(lc, lw));
    // The snapshot is the state's mixture: the optimiser's own densities.
    std::vector<Real> ls(n_points);
    CHECK(opt.log_density(xw, ls).ok() && same_bytes(ls, lw));

    // Every buffer overload draws the same points from the same seed.
    Real raw[n_points * D];
    gmmvi::Rng r(11);
    CHECK(w_model.sample(r, raw, n_points * D).ok() && same_bytes(raw, xc));
    std::array<Point, n_points> pts{};
    r = gmmvi::Rng(11);
    CHECK(w_model.sample(r, pts).ok() && same_bytes(pts, xc));
    std::vector<Point> vp(n_points);
    CHECK(r.seed(11).ok() && w_model.sample(r, vp.data(), vp.size()).ok() && same_bytes(vp, xc));
    // A copied stream continues with the same draws.
    gmmvi::Rng fork = r;
    std::vector<Real> ya(4 * D), yb(4 * D);
    CHECK(w_model.sample(r, ya).ok() && w_model.sample(fork, yb).ok() && same_bytes(ya, yb));
#if defined(GMMVI_HAS_SPAN)
    std::vector<Real> s(n_points * D);
    CHECK(r.seed(11).ok() && w_model.sample(r, std::span<Real>(s)).ok() && same_bytes(s, xc));
    CHECK(r.seed(11).ok() && w_model.sample(r, std::span<Point>(vp)).ok() && same_bytes(vp, xc));
#endif
    std::array<Real, n_points> la{};
    CHECK(w_model.log_density(xc.data(), xc.size(), la.data(), la.size()).ok() && same_bytes(la, lc));
    la.fill(0);
    CHECK(w_model.log_density(pts, la).ok() && same_bytes(la, lc));
    la.fill(0);
    CHECK(w_model.log_density(pts.data(), pts.size(), la.data(), la.size()).ok() && same_bytes(la, lc));
    const auto one = w_model.log_density(pts[5]);
    CHECK(one.ok() && *one == lc[5]);
#if defined(GMMVI_HAS_SPAN)
    la.fill(0);
    CHECK(w_model.log_density(std::span<const Real>(xc), std::span<Real>(la)).ok() && same_bytes(la, lc));
    la.fill(0);
    CHECK(w_model.log_density(std::span<const Point>(pts), std::span<Real>(la)).ok() && same_bytes(la, lc));
#endif
    // Partial points and short outputs: a status, nothing written, the stream unmoved.
    Real sentinel[D + 1];
    for (auto& v : sentinel) v = Real(42);
    gmmvi::Rng before = r;
    CHECK(w_model.sample(r, sentinel, D + 1).code() == Code::invalid_argument && sentinel[0] == Real(42));
    CHECK(std::memcmp(before.storage(), r.storage(), sizeof(gmmvi_rng)) == 0);
    std::vector<Real> short_lq(n_points, Real(42));
    CHECK(w_model.log_density(xc.data(), xc.size(), short_lq.data(), n_points - 1).code() == Code::buffer_too_small);
    CHECK(short_lq[0] == Real(42));
    CHECK(w_model.log_density(xc.data(), xc.size() - 1, lw.data(), lw.size()).code() == Code::invalid_argument);

    // The snapshot is independent of the optimiser, and a copy of a Model is a whole model.
    CHECK(opt.run(gauss, 3).ok());
    const gmmvi::Model copy = w_model;
    CHECK(r.seed(11).ok() && w_model.sample(r, xw).ok() && same_bytes(xw, xc));
    CHECK(r.seed(11).ok() && copy.sample(r, xw).ok() && same_bytes(xw, xc));

    // Marginals: the C call's submodel, whatever the index overload.
    const std::size_t keep[] = {D - 1, 0, 2};
    gmmvi_submodel c_sub;
    CHECK(gmmvi_model_marginal(&c_model, keep, 3, &c_sub) == GMMVI_OK);
    std::size_t c_dim = 0;
    CHECK(gmmvi_submodel_dim(&c_sub, &c_dim) == GMMVI_OK && c_dim == 3);
    gmmvi::SubModel sub;
    CHECK(w_model.marginal(keep, sub).ok() && sub.dim().value() == 3);
    CHECK(same_sub_draws(c_sub, sub, 21));
    std::vector<Real> kept(n_points * D);
    fill(kept, Real(42));
    CHECK(r.seed(21).ok() && sub.sample(r, kept).ok());
    bool untouched = true, drawn = true;
    for (std::size_t i = 0; i < n_points; ++i) {
        for (std::size_t d = 0; d < D; ++d) {
            const bool mine = d == 0 || d == 2 || d == D - 1;
            if (mine) drawn = drawn && kept[i * D + d] != Real(42);
            else untouched = untouched && kept[i * D + d] == Real(42);
        }
    }
    CHECK(untouched && drawn);
    gmmvi::SubModel s2;
    CHECK(w_model.marginal(std::vector<std::size_t>{D - 1, 0, 2}, s2).ok() && same_sub_draws(c_sub, s2, 21));
    CHECK(w_model.marginal(std::array<std::size_t, 3>{D - 1, 0, 2}, s2).ok() && same_sub_draws(c_sub, s2, 21));
    CHECK(w_model.marginal({D - 1, 0, 2}, s2).ok() && same_sub_draws(c_sub, s2, 21));
    CHECK(w_model.marginal(keep, 3, s2).ok() && same_sub_draws(c_sub, s2, 21));
#if defined(GMMVI_HAS_SPAN)
    CHECK(w_model.marginal(std::span<const std::size_t>(keep), s2).ok() && same_sub_draws(c_sub, s2, 21));
#endif
    // Another order of the same coordinates is another submodel.
    CHECK(w_model.marginal({0, 2, D - 1}, s2).ok() && !same_sub_draws(c_sub, s2, 21));

    // Conditionals, given coordinates 1 and 3 at the values of a drawn point.
    Point at{};
    std::memcpy(at.data(), xc.data() + 7 * D, sizeof at);
    const std::size_t given[] = {1, 3};
    gmmvi_submodel c_cond;
    CHECK(gmmvi_model_conditional(&c_model, given, 2, at.data(), &c_cond) == GMMVI_OK);
    gmmvi::SubModel cond;
    CHECK(w_model.conditional(given, at, cond).ok() && cond.dim().value() == D - 2);
    CHECK(same_sub_draws(c_cond, cond, 8));
    CHECK(w_model.conditional({1, 3}, at, s2).ok() && same_sub_draws(c_cond, s2, 8));
    CHECK(w_model.conditional(given, 2, at.data(), s2).ok() && same_sub_draws(c_cond, s2, 8));
    CHECK(w_model.conditional(std::vector<std::size_t>{1, 3}, at, s2).ok() && same_sub_draws(c_cond, s2, 8));
#if defined(GMMVI_HAS_SPAN)
    CHECK(w_model.conditional(std::span<const std::size_t>(given), at, s2).ok() && same_sub_draws(c_cond, s2, 8));
#endif
    // Rows holding the given values come back as whole points with those values.
    std::vector<Point> rows(n_points, at);
    CHECK(r.seed(8).ok() && cond.sample(r, rows).ok());
    bool given_kept = true, moved = false;
    for (const Point& p : rows) {
        given_kept = given_kept && p[1] == at[1] && p[3] == at[3];
        moved = moved || p[0] != at[0];
    }
    CHECK(given_kept && moved);
    // A copy of a SubModel is the same submodel.
    const gmmvi::SubModel cond_copy = cond;
    CHECK(same_sub_draws(c_cond, cond_copy, 8));

    // Bad index sets: the C call's code, and an empty submodel afterwards.
    auto refused_marginal = [&](const std::size_t* idx, std::size_t n) {
        gmmvi_submodel cs;
        gmmvi::SubModel ws = sub;
        const gmmvi_status c = gmmvi_model_marginal(&c_model, idx, n, &cs);
        const gmmvi::Status w = w_model.marginal(idx, n, ws);
        std::vector<Real> xs(D, Real(0));
        gmmvi::Rng rr(1);
        return w.code() == Code::invalid_argument && w.raw() == c && ws.dim().value() == 0 &&
               ws.sample(rr, xs).code() == Code::invalid_argument && std::isinf(ws.log_density(Point{}).value());
    };
    const std::size_t repeated[] = {2, 2}, out_of_range[] = {0, D}, too_many[D + 1] = {};
    std::size_t all[D];
    for (std::size_t d = 0; d < D; ++d) all[d] = D - 1 - d;
    CHECK(refused_marginal(keep, 0));
    CHECK(refused_marginal(repeated, 2));
    CHECK(refused_marginal(out_of_range, 2));
    CHECK(refused_marginal(too_many, D + 1));
    CHECK(w_model.marginal(all, s2).ok() && s2.dim().value() == D);  // every coordinate: fine
    CHECK(w_model.conditional(all, at, s2).code() == Code::invalid_argument && s2.dim().value() == 0);
    CHECK(gmmvi_model_conditional(&c_model, all, D, at.data(), &c_sub) == GMMVI_INVALID_ARGUMENT);
    CHECK(w_model.conditional(repeated, at, s2).code() == Code::invalid_argument);
    CHECK(w_model.conditional(out_of_range, at, s2).code() == Code::invalid_argument);
    CHECK(w_model.conditional(given, 0, at.data(), s2).code() == Code::invalid_argument);
    Point nan_at = at;
    nan_at[3] = NAN;
    CHECK(w_model.conditional(given, nan_at, s2).code() == Code::invalid_argument && s2.dim().value() == 0);
    CHECK(gmmvi_model_conditional(&c_model, given, 2, nan_at.data(), &c_sub) == GMMVI_INVALID_ARGUMENT);
    nan_at = at;
    nan_at[2] = NAN;  // not given: ignored
    CHECK(w_model.conditional(given, nan_at, s2).ok() && same_sub_draws(c_cond, s2, 8));

    // Null buffers: Code::null_pointer, as from C.
    CHECK(w_model.marginal(nullptr, 2, s2).code() == Code::null_pointer);
    CHECK(gmmvi_model_marginal(&c_model, nullptr, 2, &c_sub) == GMMVI_NULL_POINTER);
    CHECK(w_model.conditional(given, 2, nullptr, s2).code() == Code::null_pointer);
    CHECK(w_model.log_density(static_cast<const Real*>(nullptr), D, lw.data(), 1).code() == Code::null_pointer);
    CHECK(w_model.sample(r, static_cast<Real*>(nullptr), D).code() == Code::null_pointer);
    CHECK(sub.log_density(static_cast<const Point*>(nullptr), 1, lw.data(), 1).code() == Code::null_pointer);
    CHECK(w_model.sample(r, static_cast<Real*>(nullptr), 0).ok());  // nothing to draw

    // Unprepared storage: a never-filled SubModel and an unseeded Rng answer
    // Code::not_initialized, as the C calls do on zeroed storage; a zeroed gmmvi_model is
    // refused by the C calls (the Model constructor prepares it).
    gmmvi::SubModel blank;
    gmmvi_submodel c_blank{};
    std::size_t bd = 7;
    CHECK(blank.dim().status() == Code::not_initialized && blank.dim().value() == 0);
    CHECK(gmmvi_submodel_dim(&c_blank, &bd) == GMMVI_NOT_INITIALIZED);
    CHECK(blank.sample(r, xw).code() == Code::not_initialized);
    CHECK(blank.log_density(xw, lw).code() == Code::not_initialized);
    CHECK(blank.log_density(Point{}).status() == Code::not_initialized);
    gmmvi::Rng unseeded;
    gmmvi_rng c_unseeded{};
    CHECK(w_model.sample(unseeded, xw).code() == Code::not_initialized);
    CHECK(sub.sample(unseeded, xw).code() == Code::not_initialized);
    CHECK(gmmvi_model_sample(&c_model, &c_unseeded, xc.data(), 1) == GMMVI_NOT_INITIALIZED);
    static gmmvi_model c_zeroed;
    CHECK(gmmvi_model_sample(&c_zeroed, &cr, xc.data(), 1) == GMMVI_NOT_INITIALIZED);
    CHECK(gmmvi_snapshot(&c_state, &c_zeroed) == GMMVI_NOT_INITIALIZED);
    gmmvi::Model cleared = w_model;
    CHECK(cleared.clear().ok() && cleared.sample(r, xw).code() == Code::invalid_argument);
    CHECK(cleared.marginal(keep, s2).code() == Code::invalid_argument && s2.dim().value() == 0);

    // Snapshots from an optimiser that cannot give one: nothing written.
    gmmvi::Optimizer fresh;
    CHECK(fresh.snapshot(cleared).code() == Code::not_initialized);
    gmmvi::OptimizerRef none;
    CHECK(none.snapshot(cleared).code() == Code::null_pointer);
    Point lo{}, hi{};
    for (std::size_t d = 0; d < D; ++d) {
        lo[d] = -INFINITY;
        hi[d] = INFINITY;
    }
    hi[0] = Real(3);
    CHECK(other.init(cfg, seed).ok() && other.set_bounds(lo, hi).ok());
    CHECK(other.snapshot(cleared).code() == Code::invalid_argument);
    char why[256] = {0};
    CHECK(other.last_error(why).ok() && std::strstr(why, "bounds") != nullptr);
    CHECK(cleared.sample(r, xw).code() == Code::invalid_argument);  // still empty
    static gmmvi_state storage;
    gmmvi::OptimizerRef h(storage);
    CHECK(h.init(cfg, seed).ok() && h.restore(ref).ok() && h.snapshot(cleared).ok());
    CHECK(r.seed(11).ok() && cleared.sample(r, xw).ok() && same_bytes(xw, xc));
}

#if defined(GMMVI_HAS_EIGEN)
void test_model_eigen() {
    gmmvi::Rng r(11);
    std::vector<Real> v(n_points * D);
    CHECK(w_model.sample(r, v).ok());
    gmmvi::Points m(n_points, D);
    CHECK(r.seed(11).ok() && w_model.sample(r, m).ok());
    CHECK(std::memcmp(m.data(), v.data(), v.size() * sizeof(Real)) == 0);
    std::vector<Real> buf(n_points * D);
    CHECK(r.seed(11).ok() && w_model.sample(r, gmmvi::points_map(buf.data(), n_points)).ok() && same_bytes(buf, v));
    Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> wide =
        Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Zero(n_points, D + 3);
    CHECK(w_model.sample(r, wide.leftCols<D>()).code() == Code::invalid_argument && (wide.array() == 0).all());

    std::vector<Real> lq(n_points);
    CHECK(w_model.log_density(v, lq).ok());
    gmmvi::Values le(n_points);
    CHECK(w_model.log_density(m, le).ok() && std::memcmp(le.data(), lq.data(), lq.size() * sizeof(Real)) == 0);
    gmmvi::Values too_short(n_points - 1);
    CHECK(w_model.log_density(m, too_short).code() == Code::buffer_too_small);
    CHECK(w_model.log_density(wide.leftCols<D>(), le).code() == Code::invalid_argument);

    // A conditional into whole rows of a matrix holding the given values.
    Point at{};
    std::memcpy(at.data(), v.data(), sizeof at);
    gmmvi::SubModel cond;
    CHECK(w_model.conditional({1, 3}, at, cond).ok());
    std::vector<Point> rows(n_points, at);
    CHECK(r.seed(8).ok() && cond.sample(r, rows).ok());
    gmmvi::Points em(n_points, D);
    for (Eigen::Index i = 0; i < em.rows(); ++i) em.row(i) = Eigen::Map<const Eigen::Matrix<Real, 1, D>>(at.data());
    CHECK(r.seed(8).ok() && cond.sample(r, em).ok());
    CHECK(std::memcmp(em.data(), rows.data(), rows.size() * sizeof(Point)) == 0);
    std::vector<Real> lc(n_points);
    CHECK(cond.log_density(rows, lc).ok());
    le.setZero();
    CHECK(cond.log_density(em, le).ok() && std::memcmp(le.data(), lc.data(), lc.size() * sizeof(Real)) == 0);
}
#endif

// ---- Eigen ----------------------------------------------------------------------------------

#if defined(GMMVI_HAS_EIGEN)
void test_eigen(const std::vector<std::uint8_t>& ref) {
    CHECK(opt.init(test_config(), seed).ok() && opt.restore(ref).ok());
    std::vector<Real> v(n_points * D);
    CHECK(opt.sample(v).ok());

    CHECK(opt.restore(ref).ok());
    gmmvi::Points m(n_points, D);
    CHECK(opt.sample(m).ok());
    CHECK(std::memcmp(m.data(), v.data(), v.size() * sizeof(Real)) == 0);
    CHECK((gmmvi::points_map(v.data(), n_points).array() == m.array()).all());
    CHECK(gmmvi::points_map(v.data(), n_points)(2, 1) == v[2 * D + 1]);

    // Into a map over a user buffer, and into whole rows of a larger matrix.
    CHECK(opt.restore(ref).ok());
    std::vector<Real> buf(n_points * D);
    CHECK(opt.sample(gmmvi::points_map(buf.data(), n_points)).ok() && same_bytes(buf, v));
    CHECK(opt.restore(ref).ok());
    gmmvi::Points tall = gmmvi::Points::Zero(n_points + 5, D);
    CHECK(opt.sample(tall.topRows(n_points)).ok() && (tall.topRows(n_points).array() == m.array()).all());
    CHECK((tall.bottomRows(5).array() == 0).all());

    // Strided columns are refused, never written.
    Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> wide =
        Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Zero(n_points, D + 3);
    CHECK(opt.sample(wide.leftCols<D>()).code() == Code::invalid_argument && (wide.array() == 0).all());

    // log q of Eigen points equals the raw call.
    std::vector<Real> lq(n_points);
    CHECK(opt.log_density(v, lq).ok());
    gmmvi::Values le(n_points);
    CHECK(opt.log_density(m, le).ok() && std::memcmp(le.data(), lq.data(), lq.size() * sizeof(Real)) == 0);
    le.setZero();
    const Real* cv = v.data();
    CHECK(opt.log_density(gmmvi::points_map(cv, n_points), le).ok() &&
          std::memcmp(le.data(), lq.data(), lq.size() * sizeof(Real)) == 0);
    gmmvi::Values too_short(n_points - 1);
    CHECK(opt.log_density(m, too_short).code() == Code::buffer_too_small);
    CHECK(opt.log_density(wide.leftCols<D>(), le).code() == Code::invalid_argument);

    // The Cholesky factor as an Eigen matrix reproduces the covariance.
    const auto comp = opt.component(0);
    const auto L = gmmvi::matrix_map(comp->cholesky);
    CHECK(((L * L.transpose()) - gmmvi::matrix_map(comp->covariance)).cwiseAbs().maxCoeff() < Real(1e-4));

    // A target written with Eigen maps: the same run as the raw one.
    CHECK(opt.init(test_config(), seed).ok());
    CHECK(opt.run(
                 [](const Real* x, std::size_t n, Real* lp, Real* g) {
                     auto xs = gmmvi::points_map(x, n);
                     for (std::size_t i = 0; i < n; ++i) {
                         Real s = 0;
                         for (std::size_t d = 0; d < D; ++d) {
                             const Real mu = Real(0.5) * static_cast<Real>(d);
                             const Real sd = Real(1) + Real(0.1) * static_cast<Real>(d);
                             const Real z = (xs(Eigen::Index(i), Eigen::Index(d)) - mu) / sd;
                             s -= Real(0.5) * z * z;
                             if (g) gmmvi::points_map(g, n)(Eigen::Index(i), Eigen::Index(d)) = -z / sd;
                         }
                         lp[i] = s;
                     }
                     return 0;
                 },
                 iters)
              .ok());
    CHECK(same_bytes(checkpoint(opt), ref));
}
#endif

}  // namespace

int main() {
    const std::vector<std::uint8_t> ref = c_reference();
    CHECK(!ref.empty());
    test_config_and_status();
    test_same_as_c();
    test_callables(ref);
    test_buffers(ref);
    test_checkpoints();
    test_moves(ref);
    test_bounds();
    test_models(ref);
#if defined(GMMVI_HAS_EIGEN)
    test_eigen(ref);
    test_model_eigen();
    const char* eigen = "yes";
#else
    const char* eigen = "no";
#endif
#if defined(GMMVI_HAS_SPAN)
    const char* span = "yes";
#else
    const char* span = "no";
#endif
    std::printf("wrapper_test: %d checks, %d failed (span: %s, eigen: %s)\n", checks, failures, span, eigen);
    return failures == 0 ? 0 : 1;
}

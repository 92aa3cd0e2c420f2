// Checks of include/gmmvi.hpp against the C API it wraps (driven by ffi/tests/cpp_wrapper.rs):
// the same numbers as the C calls for the same seed, every kind of callable, the buffer
// overloads and their size checks, save/restore, export/import, moves, Eigen and std::span.
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
           a.initial_components == b.initial_components && a.reserved == b.reserved &&
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

void test_bounds() {
    const gmmvi::Config cfg = test_config();
    Point lo{}, hi{};
    for (std::size_t d = 0; d < D; ++d) {
        lo[d] = d % 3 == 2 ? -INFINITY : Real(-1) - Real(0.1) * static_cast<Real>(d);
        hi[d] = d % 3 == 1 ? INFINITY : Real(2) + Real(0.2) * static_cast<Real>(d);
    }
    // Through the wrapper and through the C API: the same checkpoint, before and after a retarget.
    CHECK(gmmvi_init(&c_state, sizeof c_state, &cfg, seed) == GMMVI_OK);
    CHECK(gmmvi_set_bounds(&c_state, lo.data(), hi.data(), D) == GMMVI_OK);
    CHECK(gmmvi_run(&c_state, c_target, nullptr, iters, 0, nullptr) == GMMVI_OK);
    CHECK(opt.init(cfg, seed).ok() && opt.set_bounds(lo, hi).ok() && opt.run(gauss, iters).ok());
    std::size_t cs = 0, written = 0;
    CHECK(gmmvi_checkpoint_size(&c_state, &cs) == GMMVI_OK);
    std::vector<std::uint8_t> bc(cs);
    CHECK(gmmvi_save(&c_state, bc.data(), bc.size(), &written) == GMMVI_OK && written == cs);
    CHECK(same_bytes(checkpoint(opt), bc));
    CHECK(gmmvi_retarget(&c_state) == GMMVI_OK && gmmvi_run(&c_state, c_target, nullptr, 2, 0, nullptr) == GMMVI_OK);
    CHECK(opt.retarget().ok() && opt.run(gauss, 2).ok());
    CHECK(gmmvi_checkpoint_size(&c_state, &cs) == GMMVI_OK);
    bc.resize(cs);
    CHECK(gmmvi_save(&c_state, bc.data(), bc.size(), &written) == GMMVI_OK && written == cs);
    CHECK(same_bytes(checkpoint(opt), bc));

    // The bounds read back; every draw is strictly inside them.
    Point l2{}, h2{};
    CHECK(opt.bounds(&l2, &h2).ok() && same_bytes(l2, lo) && same_bytes(h2, hi));
    std::vector<Point> xs(n_points);
    CHECK(opt.sample(xs).ok());
    bool inside = true;
    for (const auto& x : xs)
        for (std::size_t d = 0; d < D; ++d) inside = inside && x[d] > lo[d] && x[d] < hi[d];
    CHECK(inside);

    // An empty interval is refused and changes nothing; NULL outputs are refused.
    Point bad = lo;
    bad[0] = hi[0];
    CHECK(opt.set_bounds(bad, hi).code() == Code::invalid_argument);
    CHECK(opt.bounds(&l2, &h2).ok() && same_bytes(l2, lo));
    CHECK(opt.bounds(nullptr, &h2).code() == Code::null_pointer);
    gmmvi::Optimizer fresh;
    CHECK(fresh.retarget().code() == Code::not_initialized);
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
    test_bounds();
    test_moves(ref);
#if defined(GMMVI_HAS_EIGEN)
    test_eigen(ref);
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

//! The 10-link planar robot inverse-kinematics posterior (docs/targets.md §4).
//!
//! Joint angles `θ ∈ R^10`, unit link lengths, `φ_i = θ_1 + … + θ_i`, end effector
//! `e = (Σ_i cos φ_i, Σ_i sin φ_i)`. Unnormalised log density
//! `log p~(θ) = Σ_i [−½(θ_i/σ_i)² − ln σ_i − ½ ln 2π] + max_g ℓ_g(θ)` with
//! `ℓ_g(θ) = −‖e(θ) − g‖² / (2·10⁻⁴) − 2 ln 0.01 − ln 2π` (§4.1).
//! All arithmetic is done in `f64`.

use gmmvi::error::TargetError;
use gmmvi::real::{LN_2PI, Real};
use gmmvi::target::Target;
use nalgebra::SVector;

use super::eval_pointwise_f64;

/// Number of links (and the dimension `D`).
const N: usize = 10;

/// Variance of the end-effector likelihood, `0.01²` (§4.1).
const LIK_VAR: f64 = 1e-4;

/// `ln 10`.
const LN_10: f64 = core::f64::consts::LN_10;

/// `ln σ_i` for [`PlanarRobot::PRIOR_STD`] (`ln 0.2 = −ln 5`).
const LN_PRIOR_STD: [f64; N] = {
    const LN_02: f64 = -1.609_437_912_434_100_3;
    [0.0, LN_02, LN_02, LN_02, LN_02, LN_02, LN_02, LN_02, LN_02, LN_02]
};

/// The planar 10-link robot target of docs/targets.md §4 (`PlanarRobot1` / `PlanarRobot4`).
///
/// `log p~(θ) = log prior(θ) + max_g ℓ_g(θ)`; goals are combined by a **maximum** (§4.1).
/// The normaliser is unknown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanarRobot {
    goals: [[f64; 2]; 4],
    n_goals: usize,
}

impl PlanarRobot {
    /// Standard deviations of the independent zero-mean Gaussian joint prior,
    /// `σ = (1.0, 0.2 × 9)` (§4.1).
    pub const PRIOR_STD: [f64; 10] = [1.0, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2];

    /// Standard deviation of the isotropic end-effector likelihood per coordinate (§4.1).
    pub const LIKELIHOOD_STD: f64 = 0.01;

    /// `PlanarRobot1`: a single goal at `(7, 0)` (§4.1).
    pub const fn one_goal() -> Self {
        Self { goals: [[7.0, 0.0], [0.0; 2], [0.0; 2], [0.0; 2]], n_goals: 1 }
    }

    /// `PlanarRobot4`: goals `(7, 0), (−7, 0), (0, 7), (0, −7)` (§4.1).
    pub const fn four_goals() -> Self {
        Self { goals: [[7.0, 0.0], [-7.0, 0.0], [0.0, 7.0], [0.0, -7.0]], n_goals: 4 }
    }

    /// The goal positions of this variant (1 or 4 of them).
    pub fn goals(&self) -> &[[f64; 2]] {
        self.goals.get(..self.n_goals).unwrap_or(&self.goals)
    }

    /// End-effector position `e(θ) = (Σ_i cos φ_i, Σ_i sin φ_i)`, `φ_i = θ_1 + … + θ_i`
    /// (forward kinematics of §4.1, unit link lengths).
    pub fn end_effector(theta: &[f64; 10]) -> [f64; 2] {
        let mut phi = 0.0;
        let mut e = [0.0; 2];
        for &t in theta {
            phi += t;
            let (s, c) = libm::sincos(phi);
            e[0] += c;
            e[1] += s;
        }
        e
    }

    /// Positions of the base (the origin) and of the end of every link, in order; the last
    /// entry is [`PlanarRobot::end_effector`]. Handy for drawing arms.
    pub fn joint_positions(theta: &[f64; 10]) -> [[f64; 2]; 11] {
        let mut out = [[0.0; 2]; N + 1];
        let mut phi = 0.0;
        let mut p = [0.0; 2];
        for (&t, o) in theta.iter().zip(out.iter_mut().skip(1)) {
            phi += t;
            let (s, c) = libm::sincos(phi);
            p[0] += c;
            p[1] += s;
            *o = p;
        }
        out
    }

    /// `log p~(θ)` of §4.1 and, if `grad` is given, its gradient (§4.2):
    /// `∂ log p~/∂θ_k = −θ_k/σ_k² − [(e_x − g*_x)(−S_k) + (e_y − g*_y) C_k] / 10⁻⁴` with the
    /// suffix sums `S_k = Σ_{i≥k} sin φ_i`, `C_k = Σ_{i≥k} cos φ_i` and `g*` the goal attaining
    /// the maximum (the first one at exact ties). Non-finite input gives a non-finite result.
    pub fn log_density_f64(&self, theta: &[f64; 10], grad: Option<&mut [f64; 10]>) -> f64 {
        // Prior with normalising constants.
        let mut log_prior = 0.0;
        for ((&t, &sd), &ln_sd) in theta.iter().zip(&Self::PRIOR_STD).zip(&LN_PRIOR_STD) {
            let z = t / sd;
            log_prior += -0.5 * z * z - ln_sd - 0.5 * LN_2PI;
        }

        // Forward kinematics, keeping sin/cos of every cumulative angle.
        let mut sin = [0.0; N];
        let mut cos = [0.0; N];
        let mut phi = 0.0;
        let (mut ex, mut ey) = (0.0, 0.0);
        for ((&t, sn), cs) in theta.iter().zip(sin.iter_mut()).zip(cos.iter_mut()) {
            phi += t;
            let (s, c) = libm::sincos(phi);
            *sn = s;
            *cs = c;
            ex += c;
            ey += s;
        }

        // Best goal: max over goals of the squared-distance term (constants are shared).
        let mut best: Option<(f64, [f64; 2])> = None;
        for g in self.goals() {
            let (dx, dy) = (ex - g[0], ey - g[1]);
            let l = -(dx * dx + dy * dy) / (2.0 * LIK_VAR);
            let better = match best {
                None => true,
                Some((b, _)) => l > b,
            };
            if better {
                best = Some((l, *g));
            }
        }
        let (quad, goal) = best.unwrap_or((f64::NAN, [0.0; 2]));
        // −2 ln 0.01 − ln 2π = 4 ln 10 − ln 2π.
        let log_lik = quad + 4.0 * LN_10 - LN_2PI;

        if let Some(gr) = grad {
            let rx = (ex - goal[0]) / LIK_VAR;
            let ry = (ey - goal[1]) / LIK_VAR;
            let (mut s_k, mut c_k) = (0.0, 0.0);
            let it = gr.iter_mut().zip(theta).zip(&Self::PRIOR_STD).zip(&sin).zip(&cos).rev();
            for ((((gk, &t), &sd), &sn), &cs) in it {
                s_k += sn;
                c_k += cs;
                *gk = -t / (sd * sd) - (rx * (-s_k) + ry * c_k);
            }
        }
        log_prior + log_lik
    }
}

impl<T: Real> Target<T, 10> for PlanarRobot {
    /// `log p~(θ_i)` of docs/targets.md §4.1, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, 10>], log_p: &mut [T]) -> Result<(), TargetError> {
        eval_pointwise_f64(x, log_p, None, |th, _| self.log_density_f64(&(*th).into(), None))
    }

    /// `log p~(θ_i)` and its gradient (docs/targets.md §4.1–4.2), computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, 10>],
        log_p: &mut [T],
        grad: &mut [SVector<T, 10>],
    ) -> Result<(), TargetError> {
        eval_pointwise_f64(x, log_p, Some(grad), |th, g| {
            let mut ga = [0.0; N];
            let lp = self.log_density_f64(&(*th).into(), Some(&mut ga));
            if let Some(g) = g {
                *g = SVector::from(ga);
            }
            lp
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    const THETA2: [f64; 10] = [0.3, -0.2, 0.1, 0.25, -0.15, 0.05, 0.2, -0.1, 0.3, 0.0];
    const THETA3: [f64; 10] = [1.6, -0.1, 0.05, 0.0, 0.1, -0.05, 0.0, 0.02, -0.02, 0.01];

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    fn assert_rel(a: f64, b: f64, tol: f64) {
        assert!(rel(a, b) < tol, "{a} vs {b}: rel {}", rel(a, b));
    }

    #[test]
    fn ln_prior_std_table_matches() {
        for (&l, &s) in LN_PRIOR_STD.iter().zip(&PlanarRobot::PRIOR_STD) {
            assert!((l - libm::log(s)).abs() < 1e-15);
        }
    }

    #[test]
    fn spec_vector_zero_both_variants() {
        for t in [PlanarRobot::one_goal(), PlanarRobot::four_goals()] {
            assert_rel(t.log_density_f64(&[0.0; 10], None), -44987.331980814575, 1e-9);
        }
        assert_eq!(PlanarRobot::end_effector(&[0.0; 10]), [10.0, 0.0]);
    }

    #[test]
    fn spec_vector_theta2_both_variants() {
        let want_g = [-279183.8749793865, -246815.283370563, -209077.34422542818, -173850.72374031146];
        for t in [PlanarRobot::one_goal(), PlanarRobot::four_goals()] {
            let mut g = [0.0; 10];
            let v = t.log_density_f64(&THETA2, Some(&mut g));
            assert_rel(v, -98380.12583175533, 1e-9);
            for (a, b) in g.iter().zip(&want_g) {
                assert_rel(*a, *b, 1e-9);
            }
        }
    }

    #[test]
    fn spec_vector_theta3_one_goal() {
        let mut g = [0.0; 10];
        let v = PlanarRobot::one_goal().log_density_f64(&THETA3, Some(&mut g));
        assert_rel(v, -756199.4829253843, 1e-9);
        let want_g = [-699318.6333446234, -630542.5219906182, -551939.4164710508];
        for (a, b) in g.iter().zip(&want_g) {
            assert_rel(*a, *b, 1e-9);
        }
    }

    #[test]
    fn spec_vector_theta3_four_goals() {
        let mut g = [0.0; 10];
        let v = PlanarRobot::four_goals().log_density_f64(&THETA3, Some(&mut g));
        assert_rel(v, -44844.579370999556, 1e-9);
        let want_g = [-12039.470209761192, -11189.544507571043, -7362.692167026611];
        for (a, b) in g.iter().zip(&want_g) {
            assert_rel(*a, *b, 1e-9);
        }
    }

    #[test]
    fn value_without_grad_matches_value_with_grad() {
        let t = PlanarRobot::four_goals();
        let mut g = [0.0; 10];
        assert_eq!(t.log_density_f64(&THETA3, None), t.log_density_f64(&THETA3, Some(&mut g)));
    }

    fn random_point(rng: &mut Xoshiro256PlusPlus) -> [f64; 10] {
        let mut th = [0.0; 10];
        fill_standard_normal(rng, &mut th);
        for (t, s) in th.iter_mut().zip(&PlanarRobot::PRIOR_STD) {
            *t *= 2.0 * s;
        }
        th
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for t in [PlanarRobot::one_goal(), PlanarRobot::four_goals()] {
            for _ in 0..8 {
                let th = random_point(&mut rng);
                let mut g = [0.0; 10];
                t.log_density_f64(&th, Some(&mut g));
                let h = 1e-5;
                let mut err2 = 0.0;
                let mut norm2 = 0.0;
                for k in 0..10 {
                    let (mut p, mut m) = (th, th);
                    p[k] += h;
                    m[k] -= h;
                    let fd = (t.log_density_f64(&p, None) - t.log_density_f64(&m, None)) / (2.0 * h);
                    err2 += (fd - g[k]) * (fd - g[k]);
                    norm2 += g[k] * g[k];
                }
                let r = libm::sqrt(err2 / norm2.max(1.0));
                assert!(r < 1e-6, "relative gradient error {r} at {th:?}");
            }
        }
    }

    #[test]
    fn joint_positions_end_at_end_effector() {
        let p = PlanarRobot::joint_positions(&THETA3);
        assert_eq!(p[0], [0.0, 0.0]);
        let e = PlanarRobot::end_effector(&THETA3);
        assert!((p[10][0] - e[0]).abs() < 1e-12 && (p[10][1] - e[1]).abs() < 1e-12);
        for w in p.windows(2) {
            let (dx, dy) = (w[1][0] - w[0][0], w[1][1] - w[0][1]);
            assert!((dx * dx + dy * dy - 1.0).abs() < 1e-12, "unit link lengths");
        }
    }

    #[test]
    fn goals_accessor() {
        assert_eq!(PlanarRobot::one_goal().goals(), &[[7.0, 0.0]]);
        assert_eq!(PlanarRobot::four_goals().goals(), &[[7.0, 0.0], [-7.0, 0.0], [0.0, 7.0], [0.0, -7.0]]);
    }

    #[test]
    fn trait_f32_agrees_with_f64() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut t = PlanarRobot::four_goals();
        let mut x32 = [SVector::<f32, 10>::zeros(); 6];
        let mut x64 = [SVector::<f64, 10>::zeros(); 6];
        for (a, b) in x32.iter_mut().zip(x64.iter_mut()) {
            let th = random_point(&mut rng);
            *a = SVector::from(th).map(|v| v as f32);
            *b = a.map(f64::from);
        }
        let (mut l32, mut l64) = ([0.0f32; 6], [0.0f64; 6]);
        let mut g32 = [SVector::<f32, 10>::zeros(); 6];
        let mut g64 = [SVector::<f64, 10>::zeros(); 6];
        Target::<f32, 10>::log_density_with_grad(&mut t, &x32, &mut l32, &mut g32).unwrap();
        Target::<f64, 10>::log_density_with_grad(&mut t, &x64, &mut l64, &mut g64).unwrap();
        let mut v32 = [0.0f32; 6];
        Target::<f32, 10>::log_density(&mut t, &x32, &mut v32).unwrap();
        for i in 0..6 {
            assert_eq!(v32[i], l32[i]);
            assert_rel(f64::from(l32[i]), l64[i], 1e-4);
            let diff = (g32[i].map(f64::from) - g64[i]).norm();
            assert!(diff <= 1e-4 * g64[i].norm(), "grad diff {diff}");
        }
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        let mut t = PlanarRobot::one_goal();
        let x = [SVector::<f64, 10>::zeros(); 3];
        let mut lp = [0.0; 2];
        let mut g = [SVector::<f64, 10>::zeros(); 3];
        assert_eq!(t.log_density(&x, &mut lp), Err(TargetError { code: -1 }));
        assert_eq!(t.log_density_with_grad(&x, &mut lp, &mut g), Err(TargetError { code: -1 }));
        let mut lp3 = [0.0; 3];
        assert_eq!(t.log_density_with_grad(&x, &mut lp3, &mut g[..2]), Err(TargetError { code: -1 }));
        assert!(t.log_density_with_grad(&x, &mut lp3, &mut g).is_ok());
    }

    #[test]
    fn non_finite_input_gives_non_finite_output() {
        let mut th = THETA2;
        th[3] = f64::NAN;
        assert!(PlanarRobot::four_goals().log_density_f64(&th, None).is_nan());
    }
}

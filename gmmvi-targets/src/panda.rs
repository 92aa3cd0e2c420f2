//! A 7-joint Franka Emika Panda reaching a full end-effector pose: the posterior over joint
//! angles within the joint limits given a goal position and orientation of the flange.
//!
//! Kinematics: the manufacturer's modified (Craig) Denavit–Hartenberg parameters and joint
//! limits (Franka Emika, *Robot and interface specifications*, "Denavit–Hartenberg
//! parameters" and "Limits for Panda"). Frame `i` is reached from frame `i − 1` by
//! `Rot_x(α_i) · Trans_x(a_i) · Rot_z(q_i) · Trans_z(d_i)`; joint `i` turns about the `z` axis
//! of frame `i`; the flange is `d = 0.107 m` further along the `z` axis of frame 7. Lengths in
//! metres, angles in radians.
//!
//! Unnormalised log density of the joint angles `q` (all in `f64`):
//!
//! `log p~(q) = log prior(q) − ‖p(q) − p*‖² / (2σ_p²) − θ(R(q) R*ᵀ)² / (2σ_r²)`
//!
//! with `p(q), R(q)` the flange position and orientation, `(p*, R*)` the goal and `θ(E)` the
//! angle of the rotation `E` in `[0, π]`, computed through the quaternion of `E` as
//! `2·atan2(|v|, |w|)` (accurate near 0 and π, unlike `acos((tr E − 1)/2)`).
//!
//! **The tolerances.** The default `σ_p = 3 mm` and `σ_r = 0.6°` make exact posterior samples
//! meet *both* 10 mm and 2° at least 95 % of the time. Near a reachable goal with a
//! full-rank Jacobian the pose error of a posterior sample is, to first order, a 6-D Gaussian
//! with independent isotropic position and rotation-vector parts of standard deviations `σ_p`
//! and `σ_r`, so `‖Δp‖/σ_p` and `θ/σ_r` are independent `χ₃` variables. Both tolerances hold
//! with probability `F(10 mm/σ_p) · F(2°/σ_r)`, `F` the `χ₃` CDF; with each ratio at
//! `10/3 = 2/0.6 ≈ 3.33`, `F(3.33) = 0.989` and the product is 0.978 ≥ 0.95 (the bound
//! `σ ≤ tolerance / 3.06` puts each factor at `√0.95`). The joint prior is nearly flat
//! inside the limits, so it barely changes this.
//!
//! **The prior** is a product over joints of `Beta(1 + β, 1 + β)` densities on
//! `u_i = (q_i − lo_i)/(hi_i − lo_i)`, scaled to the limits: `β = 0` is the uniform density
//! on the limits (for an optimiser that maps the limits itself), `β > 0` a smooth barrier
//! that goes to `−∞` at the limits. Outside the limits the log density is `−∞` (and the
//! gradient NaN), which rejects the sample.
//!
//! **The gradient** is analytic: joint `i` moves the flange by `z_i × (p − o_i)` and turns
//! it by `z_i` (axis `z_i` through `o_i`, in the base frame), and `∂(θ²/2)/∂q_i = φ · z_i`
//! for the rotation vector `φ = θu` of `R(q) R*ᵀ` (left perturbation: `uᵀ J_l⁻¹(φ) = uᵀ`).

use gmmvi::error::TargetError;
use gmmvi::real::Real;
use gmmvi::target::Target;
use nalgebra::SVector;

use super::eval_pointwise_f64;

/// Number of joints (the dimension `D`).
const N: usize = 7;

/// A 3-vector.
type V3 = [f64; 3];
/// A rotation matrix, row-major: `m[r][c]`.
type M3 = [[f64; 3]; 3];

/// Joint positions along the arm and the flange pose of one configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PandaFrames {
    /// Origin of the frame of each joint (on its axis), in the base frame.
    pub origins: [[f64; 3]; 7],
    /// The axis (`z` of the joint's frame) of each joint, a unit vector in the base frame.
    pub axes: [[f64; 3]; 7],
    /// Flange position in the base frame.
    pub position: [f64; 3],
    /// Flange orientation: columns are the flange's axes in the base frame (`r[row][col]`).
    pub rotation: [[f64; 3]; 3],
}

/// A flange pose: position (m) and rotation matrix (`r[row][col]`, columns the flange axes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Position in the base frame.
    pub position: [f64; 3],
    /// Orientation in the base frame.
    pub rotation: [[f64; 3]; 3],
}

/// Position and orientation error of a pose against a goal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoseError {
    /// `‖p − p*‖` in metres.
    pub position: f64,
    /// Angle of `R R*ᵀ` in radians, in `[0, π]`.
    pub angle: f64,
}

/// The Franka Emika Panda inverse-kinematics posterior for one flange pose goal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PandaIk {
    goal: Pose,
    sigma_p: f64,
    sigma_r: f64,
    beta: f64,
}

impl PandaIk {
    /// Modified-DH link lengths `a_i` (m), joints 1–7.
    pub const DH_A: [f64; 7] = [0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088];
    /// Modified-DH offsets `d_i` (m), joints 1–7.
    pub const DH_D: [f64; 7] = [0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0];
    /// Modified-DH twists `α_i` (rad), joints 1–7.
    pub const DH_ALPHA: [f64; 7] = [
        0.0,
        -core::f64::consts::FRAC_PI_2,
        core::f64::consts::FRAC_PI_2,
        core::f64::consts::FRAC_PI_2,
        -core::f64::consts::FRAC_PI_2,
        core::f64::consts::FRAC_PI_2,
        core::f64::consts::FRAC_PI_2,
    ];
    /// Flange offset along the `z` axis of frame 7 (m).
    pub const FLANGE_D: f64 = 0.107;
    /// Lower joint limits (rad).
    pub const LOWER: [f64; 7] = [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973];
    /// Upper joint limits (rad).
    pub const UPPER: [f64; 7] = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973];

    /// Default position standard deviation per axis: 3 mm (see the module docs).
    pub const SIGMA_POSITION: f64 = 0.003;
    /// Default rotation standard deviation per axis: 0.6° in radians (see the module docs).
    pub const SIGMA_ROTATION: f64 = 0.6 * core::f64::consts::PI / 180.0;
    /// Position tolerance of a solution: 10 mm.
    pub const TOLERANCE_POSITION: f64 = 0.010;
    /// Orientation tolerance of a solution: 2° in radians.
    pub const TOLERANCE_ROTATION: f64 = 2.0 * core::f64::consts::PI / 180.0;

    /// The posterior for `goal` with the default σ values and a uniform prior on the limits.
    pub fn new(goal: Pose) -> Self {
        Self { goal, sigma_p: Self::SIGMA_POSITION, sigma_r: Self::SIGMA_ROTATION, beta: 0.0 }
    }

    /// The goal.
    pub fn goal(&self) -> &Pose {
        &self.goal
    }

    /// Changes the goal (keeps σ values and prior).
    pub fn set_goal(&mut self, goal: Pose) {
        self.goal = goal;
    }

    /// The standard deviations `(σ_p, σ_r)` of the pose likelihood.
    pub fn sigmas(&self) -> (f64, f64) {
        (self.sigma_p, self.sigma_r)
    }

    /// Sets `σ_p` (m) and `σ_r` (rad), e.g. for a tempered schedule.
    ///
    /// # Errors
    /// `TargetError { code: -2 }` unless both are positive and finite; nothing changes then.
    pub fn set_sigmas(&mut self, sigma_p: f64, sigma_r: f64) -> Result<(), TargetError> {
        if !(sigma_p > 0.0 && sigma_p.is_finite() && sigma_r > 0.0 && sigma_r.is_finite()) {
            return Err(TargetError { code: -2 });
        }
        self.sigma_p = sigma_p;
        self.sigma_r = sigma_r;
        Ok(())
    }

    /// The prior's barrier exponent `β` (0: uniform on the limits).
    pub fn prior_exponent(&self) -> f64 {
        self.beta
    }

    /// Sets the prior's barrier exponent `β ≥ 0` (see the module docs).
    ///
    /// # Errors
    /// `TargetError { code: -2 }` unless `β` is finite and non-negative; nothing changes then.
    pub fn set_prior_exponent(&mut self, beta: f64) -> Result<(), TargetError> {
        if !(beta >= 0.0 && beta.is_finite()) {
            return Err(TargetError { code: -2 });
        }
        self.beta = beta;
        Ok(())
    }

    /// `true` if every joint is within its limits (inclusive).
    pub fn within_limits(q: &[f64; 7]) -> bool {
        q.iter().zip(Self::LOWER.iter().zip(&Self::UPPER)).all(|(&v, (&lo, &hi))| v >= lo && v <= hi)
    }

    /// Forward kinematics: every joint's origin and axis and the flange pose.
    pub fn frames(q: &[f64; 7]) -> PandaFrames {
        let mut r: M3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let mut p: V3 = [0.0; 3];
        let mut origins = [[0.0; 3]; N];
        let mut axes = [[0.0; 3]; N];
        for i in 0..N {
            // Rot_x(α) Trans_x(a): move along the current x axis, then twist about it.
            let x = col(&r, 0);
            p = add(p, scale(x, Self::DH_A[i]));
            r = mul(&r, &rot_x(Self::DH_ALPHA[i]));
            // Rot_z(q) Trans_z(d).
            r = mul(&r, &rot_z(q[i]));
            let z = col(&r, 2);
            origins[i] = p;
            axes[i] = z;
            p = add(p, scale(z, Self::DH_D[i]));
        }
        let position = add(p, scale(col(&r, 2), Self::FLANGE_D));
        PandaFrames { origins, axes, position, rotation: r }
    }

    /// The flange pose of `q`.
    pub fn forward(q: &[f64; 7]) -> Pose {
        let f = Self::frames(q);
        Pose { position: f.position, rotation: f.rotation }
    }

    /// Position distance and rotation angle between two poses (symmetric in its arguments).
    pub fn pose_error(a: &Pose, b: &Pose) -> PoseError {
        let d = sub(a.position, b.position);
        let (angle, _) = rotation_vector(&mul_bt(&a.rotation, &b.rotation));
        PoseError { position: norm(d), angle }
    }

    /// `true` if `q` is within the limits and its flange within 10 mm and 2° of the goal.
    pub fn in_tolerance(&self, q: &[f64; 7]) -> bool {
        let e = Self::pose_error(&Self::forward(q), &self.goal);
        Self::within_limits(q) && e.position <= Self::TOLERANCE_POSITION && e.angle <= Self::TOLERANCE_ROTATION
    }

    /// `log p~(q)` (see the module docs) and, if `grad` is given, its gradient. Outside the
    /// limits the value is `−∞` and the gradient NaN; non-finite input gives a non-finite value.
    pub fn log_density_f64(&self, q: &[f64; 7], grad: Option<&mut [f64; 7]>) -> f64 {
        let f = Self::frames(q);
        let dp = sub(f.position, self.goal.position);
        let (theta, phi) = rotation_vector(&mul_bt(&f.rotation, &self.goal.rotation));
        let (ip, ir) = (1.0 / (self.sigma_p * self.sigma_p), 1.0 / (self.sigma_r * self.sigma_r));
        let mut lp = -0.5 * (dot(dp, dp) * ip + theta * theta * ir);
        let mut inside = true;
        for (&qi, (&lo, &hi)) in q.iter().zip(Self::LOWER.iter().zip(&Self::UPPER)) {
            if !(qi >= lo && qi <= hi) {
                inside = false;
            } else {
                // Normalised Beta(1+β, 1+β) on [lo, hi]; β = 0 leaves −ln(hi − lo).
                let w = hi - lo;
                let ln_beta =
                    if self.beta > 0.0 { self.beta * libm::log((qi - lo) * (hi - qi) / (w * w)) } else { 0.0 };
                lp += ln_beta - libm::log(w) - ln_beta_fn(1.0 + self.beta);
            }
        }
        if let Some(g) = grad {
            for (i, gi) in g.iter_mut().enumerate() {
                let z = f.axes[i];
                let dpos = cross(z, sub(f.position, f.origins[i]));
                let mut v = -(dot(dp, dpos) * ip + dot(phi, z) * ir);
                if self.beta > 0.0 {
                    v += self.beta / (q[i] - Self::LOWER[i]) - self.beta / (Self::UPPER[i] - q[i]);
                }
                *gi = if inside { v } else { f64::NAN };
            }
        }
        if inside || lp.is_nan() { lp } else { f64::NEG_INFINITY }
    }
}

/// `ln B(a, a)`, the Beta function's logarithm.
fn ln_beta_fn(a: f64) -> f64 {
    2.0 * libm::lgamma(a) - libm::lgamma(2.0 * a)
}

impl<T: Real> Target<T, 7> for PandaIk {
    /// `log p~(q_i)` (module docs), computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, 7>], log_p: &mut [T]) -> Result<(), TargetError> {
        eval_pointwise_f64(x, log_p, None, |q, _| self.log_density_f64(&(*q).into(), None))
    }

    /// `log p~(q_i)` and its analytic gradient (module docs), computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, 7>],
        log_p: &mut [T],
        grad: &mut [SVector<T, 7>],
    ) -> Result<(), TargetError> {
        eval_pointwise_f64(x, log_p, Some(grad), |q, g| {
            let mut ga = [0.0; N];
            let lp = self.log_density_f64(&(*q).into(), Some(&mut ga));
            if let Some(g) = g {
                *g = SVector::from(ga);
            }
            lp
        })
    }
}

/// Angle `θ ∈ [0, π]` and rotation vector `θu` of a rotation matrix, through its unit
/// quaternion (Shepperd's choice of the largest diagonal term keeps it accurate everywhere).
fn rotation_vector(e: &M3) -> (f64, V3) {
    let tr = e[0][0] + e[1][1] + e[2][2];
    let (w, v) = if tr >= e[0][0].max(e[1][1]).max(e[2][2]) {
        let s = 2.0 * libm::sqrt((1.0 + tr).max(0.0));
        (0.25 * s, [(e[2][1] - e[1][2]) / s, (e[0][2] - e[2][0]) / s, (e[1][0] - e[0][1]) / s])
    } else if e[0][0] >= e[1][1] && e[0][0] >= e[2][2] {
        let s = 2.0 * libm::sqrt((1.0 + e[0][0] - e[1][1] - e[2][2]).max(0.0));
        ((e[2][1] - e[1][2]) / s, [0.25 * s, (e[0][1] + e[1][0]) / s, (e[0][2] + e[2][0]) / s])
    } else if e[1][1] >= e[2][2] {
        let s = 2.0 * libm::sqrt((1.0 + e[1][1] - e[0][0] - e[2][2]).max(0.0));
        ((e[0][2] - e[2][0]) / s, [(e[0][1] + e[1][0]) / s, 0.25 * s, (e[1][2] + e[2][1]) / s])
    } else {
        let s = 2.0 * libm::sqrt((1.0 + e[2][2] - e[0][0] - e[1][1]).max(0.0));
        ((e[1][0] - e[0][1]) / s, [(e[0][2] + e[2][0]) / s, (e[1][2] + e[2][1]) / s, 0.25 * s])
    };
    // The shorter of the two rotations: w ≥ 0.
    let (w, v) = if w < 0.0 { (-w, scale(v, -1.0)) } else { (w, v) };
    let nv = norm(v);
    let theta = 2.0 * libm::atan2(nv, w);
    // θ/|v| → 2/w as |v| → 0.
    let k = if nv > 1e-300 { theta / nv } else { 2.0 / w.max(1e-300) };
    (theta, scale(v, k))
}

fn rot_x(a: f64) -> M3 {
    let (s, c) = libm::sincos(a);
    [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
}

fn rot_z(a: f64) -> M3 {
    let (s, c) = libm::sincos(a);
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}

fn mul(a: &M3, b: &M3) -> M3 {
    let mut m = [[0.0; 3]; 3];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c];
        }
    }
    m
}

/// `a · bᵀ`.
fn mul_bt(a: &M3, b: &M3) -> M3 {
    let mut m = [[0.0; 3]; 3];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = dot(a[r], b[c]);
        }
    }
    m
}

fn col(m: &M3, c: usize) -> V3 {
    [m[0][c], m[1][c], m[2][c]]
}

fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: V3) -> f64 {
    libm::sqrt(dot(a, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::f64::consts::{FRAC_PI_2, PI};
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn close(a: V3, b: V3, tol: f64) -> bool {
        norm(sub(a, b)) < tol
    }

    fn random_q(rng: &mut Xoshiro256PlusPlus) -> [f64; 7] {
        let mut q = [0.0; 7];
        for (i, v) in q.iter_mut().enumerate() {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            *v = PandaIk::LOWER[i] + (0.02 + 0.96 * u) * (PandaIk::UPPER[i] - PandaIk::LOWER[i]);
        }
        q
    }

    /// Rotation by `angle` about the unit `axis` (Rodrigues).
    fn axis_angle(axis: V3, angle: f64) -> M3 {
        let (s, c) = libm::sincos(angle);
        let [x, y, z] = axis;
        let t = 1.0 - c;
        [
            [c + x * x * t, x * y * t - z * s, x * z * t + y * s],
            [y * x * t + z * s, c + y * y * t, y * z * t - x * s],
            [z * x * t - y * s, z * y * t + x * s, c + z * z * t],
        ]
    }

    /// The same arm as a chain of fixed joint origins (translation, then roll about x), each
    /// followed by the joint's rotation about its z axis: the description-file form of the
    /// manufacturer's kinematics, built independently of the DH recursion.
    fn chain_forward(q: &[f64; 7]) -> (V3, M3) {
        const ORIGINS: [(V3, f64); 7] = [
            ([0.0, 0.0, 0.333], 0.0),
            ([0.0, 0.0, 0.0], -FRAC_PI_2),
            ([0.0, -0.316, 0.0], FRAC_PI_2),
            ([0.0825, 0.0, 0.0], FRAC_PI_2),
            ([-0.0825, 0.384, 0.0], -FRAC_PI_2),
            ([0.0, 0.0, 0.0], FRAC_PI_2),
            ([0.088, 0.0, 0.0], FRAC_PI_2),
        ];
        let mut r: M3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let mut p = [0.0; 3];
        for ((xyz, roll), &qi) in ORIGINS.iter().zip(q) {
            let t = [dot(r[0], *xyz), dot(r[1], *xyz), dot(r[2], *xyz)];
            p = add(p, t);
            r = mul(&mul(&r, &rot_x(*roll)), &rot_z(qi));
        }
        (add(p, scale(col(&r, 2), 0.107)), r)
    }

    #[test]
    fn zero_configuration_flange() {
        let f = PandaIk::frames(&[0.0; 7]);
        // Straight up: 0.333 + 0.316 + 0.384 − 0.107 (the flange points down), offsets
        // 0.0825 − 0.0825 + 0.088 along x.
        assert!(close(f.position, [0.088, 0.0, 0.926], 1e-12), "{:?}", f.position);
        let want = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]];
        for (a, b) in f.rotation.iter().zip(&want) {
            assert!(close(*a, *b, 1e-12), "{:?}", f.rotation);
        }
        // Joints 1, 3, 5 turn about the vertical, joints 2, 4 about ±y.
        assert!(close(f.axes[0], [0.0, 0.0, 1.0], 1e-12));
        assert!(close(f.axes[1], [0.0, 1.0, 0.0], 1e-12));
        assert!(close(f.axes[3], [0.0, -1.0, 0.0], 1e-12));
        assert!(close(f.origins[3], [0.0825, 0.0, 0.649], 1e-12));
    }

    #[test]
    fn hand_computed_configurations() {
        // Joint 1 by +90° turns the zero configuration's flange about the vertical.
        let p = PandaIk::forward(&[FRAC_PI_2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).position;
        assert!(close(p, [0.0, 0.088, 0.926], 1e-12), "{p:?}");
        // Elbow (joint 4) at −90°, rest 0. The elbow is at (0.0825, 0, 0.649) and turns about
        // −y, so frame 4's x points down: a₅ = −0.0825 raises to z = 0.7315, frame 5's z is +x
        // and d₅ = 0.384 gives x = 0.4665; frame 6's x points down, a₇ = 0.088 lowers to
        // z = 0.6435; frame 7's z is −x, the flange 0.107 back to x = 0.3595.
        let p = PandaIk::forward(&[0.0, 0.0, 0.0, -FRAC_PI_2, 0.0, 0.0, 0.0]).position;
        assert!(close(p, [0.3595, 0.0, 0.6435], 1e-12), "{p:?}");
    }

    #[test]
    fn dh_recursion_agrees_with_the_joint_chain() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        for _ in 0..50 {
            let q = random_q(&mut rng);
            let pose = PandaIk::forward(&q);
            let (p, r) = chain_forward(&q);
            assert!(close(pose.position, p, 1e-12));
            for (a, b) in pose.rotation.iter().zip(&r) {
                assert!(close(*a, *b, 1e-12));
            }
        }
    }

    #[test]
    fn pose_error_is_zero_at_the_goal_and_symmetric() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        for _ in 0..20 {
            let (a, b) = (PandaIk::forward(&random_q(&mut rng)), PandaIk::forward(&random_q(&mut rng)));
            assert_eq!(PandaIk::pose_error(&a, &a).position, 0.0);
            assert!(PandaIk::pose_error(&a, &a).angle < 1e-7);
            let (e1, e2) = (PandaIk::pose_error(&a, &b), PandaIk::pose_error(&b, &a));
            assert!((e1.position - e2.position).abs() < 1e-15 && (e1.angle - e2.angle).abs() < 1e-12);
            assert!((0.0..=PI).contains(&e1.angle));
        }
    }

    #[test]
    fn rotation_angle_is_accurate_near_zero_and_pi() {
        let axis = scale([1.0, -2.0, 0.5], 1.0 / libm::sqrt(5.25));
        for angle in [0.0, 1e-9, 1e-5, 0.3, 2.0, PI - 1e-6, PI - 1e-9, PI] {
            let (t, phi) = rotation_vector(&axis_angle(axis, angle));
            assert!((t - angle).abs() < 1e-12, "{t} vs {angle}");
            if angle > 0.0 && angle < PI - 1e-6 {
                assert!(close(phi, scale(axis, angle), 1e-12 * angle.max(1.0)), "{phi:?}");
            }
        }
    }

    #[test]
    fn density_peaks_at_the_goal_configuration() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let q = random_q(&mut rng);
        let t = PandaIk::new(PandaIk::forward(&q));
        let want: f64 = PandaIk::LOWER.iter().zip(&PandaIk::UPPER).map(|(lo, hi)| -libm::log(hi - lo)).sum();
        assert!((t.log_density_f64(&q, None) - want).abs() < 1e-6);
        assert!(t.in_tolerance(&q));
        let mut moved = q;
        moved[0] += 0.05;
        assert!(t.log_density_f64(&moved, None) < want - 10.0);
        let mut out = q;
        out[3] = 0.0;
        assert_eq!(t.log_density_f64(&out, None), f64::NEG_INFINITY);
        assert!(!t.in_tolerance(&out));
        let mut g = [0.0; 7];
        t.log_density_f64(&out, Some(&mut g));
        assert!(g.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        for beta in [0.0, 0.5] {
            for trial in 0..20 {
                let goal = PandaIk::forward(&random_q(&mut rng));
                let mut t = PandaIk::new(goal);
                t.set_prior_exponent(beta).unwrap();
                // Far from the goal and close to it, with broad and the default σ.
                if trial % 2 == 0 {
                    t.set_sigmas(0.1, 0.3).unwrap();
                }
                let q = random_q(&mut rng);
                let mut g = [0.0; 7];
                t.log_density_f64(&q, Some(&mut g));
                let h = 1e-6;
                let (mut err2, mut norm2) = (0.0, 0.0);
                for k in 0..7 {
                    let (mut p, mut m) = (q, q);
                    p[k] += h;
                    m[k] -= h;
                    let fd = (t.log_density_f64(&p, None) - t.log_density_f64(&m, None)) / (2.0 * h);
                    err2 += (fd - g[k]) * (fd - g[k]);
                    norm2 += g[k] * g[k];
                }
                let r = libm::sqrt(err2 / norm2.max(1.0));
                assert!(r < 1e-6, "relative gradient error {r} at {q:?}");
            }
        }
    }

    /// CDF of the χ distribution with 3 degrees of freedom.
    fn chi3_cdf(x: f64) -> f64 {
        libm::erf(x / core::f64::consts::SQRT_2) - libm::sqrt(2.0 / PI) * x * libm::exp(-0.5 * x * x)
    }

    #[test]
    fn default_sigmas_meet_both_tolerances_95_percent() {
        let p = chi3_cdf(PandaIk::TOLERANCE_POSITION / PandaIk::SIGMA_POSITION)
            * chi3_cdf(PandaIk::TOLERANCE_ROTATION / PandaIk::SIGMA_ROTATION);
        assert!((0.95..0.99).contains(&p), "{p}");
        // The χ₃ CDF itself: its 95 % quantile is 2.7955.
        assert!((chi3_cdf(2.7955) - 0.95).abs() < 1e-4);
    }

    #[test]
    fn setters_reject_invalid_values() {
        let mut t = PandaIk::new(PandaIk::forward(&[0.0; 7]));
        assert_eq!(t.set_sigmas(0.0, 0.1), Err(TargetError { code: -2 }));
        assert_eq!(t.set_sigmas(0.1, f64::NAN), Err(TargetError { code: -2 }));
        assert_eq!(t.set_prior_exponent(-1.0), Err(TargetError { code: -2 }));
        assert_eq!(t.sigmas(), (PandaIk::SIGMA_POSITION, PandaIk::SIGMA_ROTATION));
        assert_eq!(t.prior_exponent(), 0.0);
    }

    #[test]
    fn trait_rejects_mismatched_lengths() {
        let mut t = PandaIk::new(PandaIk::forward(&[0.0; 7]));
        let x = [SVector::<f64, 7>::zeros(); 3];
        let mut lp = [0.0; 2];
        assert_eq!(t.log_density(&x, &mut lp), Err(TargetError { code: -1 }));
    }
}

//! Mixture-based sample selection, letter `P` (Arenz et al. 2023, §3.1; docs/algorithm.md §9.3).
//! Here `desired_samples_per_component` is the **total** number of desired samples.
//!
//! With `n_re = ⌊ratio·n_des⌋`, the newest `n_re·K` stored rows `X0` are importance-weighted
//! against their background: `ŵ = softmax_n(log q(x_n) − log b(x_n))`, `ess = ⌊1/Σ ŵ²⌋`. Then
//! `m = max(1, n_des − ess)` samples are drawn from the mixture (component indices by inverse
//! CDF on the weights, counted, drawn per component and concatenated in component order,
//! §0.4), evaluated and stored; the working set is the newest `|X0| + m` rows. With the
//! default ratio 0 every iteration uses exactly `n_des` fresh mixture samples.

use rand_core::Rng;

use super::{Selection, draw_and_store, ess_from_sums, reuse_window};
use crate::error::Error;
use crate::model::Gmm;
use crate::parallel::Parallel;
use crate::real::{OnlineLse, Real};
use crate::rng::uniform;
use crate::store::{SampleStore, log_q_rows};
use crate::target::Target;

/// `⌊1/Σ ŵ²⌋` for `ŵ_n ∝ q(x_n)/b(x_n)` over the working set; needs `log_b` of the rows and
/// overwrites their `log_q`.
pub(crate) fn mixture_ess<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, X: Parallel>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    par: &X,
) -> usize {
    log_q_rows(model, store, par);
    let mut s1 = OnlineLse::new();
    let mut s2 = OnlineLse::new();
    for r in store.working_start()..store.len {
        let a = store.log_q[r] - store.log_b[r];
        if a.finite() {
            s1.push(a);
            s2.push(a + a);
        }
    }
    ess_from_sums(&s1, &s2)
}

/// Runs the selection; on `Err` the store holds what it held before.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(crate) fn select<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, P, R, X>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    target: &mut P,
    rng: &mut R,
    n_des: usize,
    reuse_rows: usize,
    max_rows: usize,
    need_grad: bool,
    replace: bool,
    par: &X,
) -> Result<Selection, Error>
where
    P: Target<T, D> + ?Sized,
    R: Rng + ?Sized,
    X: Parallel,
{
    let reused = reuse_window(store, reuse_rows, par);
    let ess = if reused > 0 { mixture_ess(model, store, par) } else { 0 };
    let total = n_des.saturating_sub(ess).max(1);
    let mut m = [0usize; K];
    for _ in 0..total {
        if let Some(c) = m.get_mut(model.component_for(T::of(uniform(rng)))) {
            *c += 1;
        }
    }
    draw_and_store(model, store, target, rng, &m, reused, max_rows, need_grad, replace, par)
}

#[cfg(test)]
mod tests {
    use nalgebra::{SMatrix, SVector};
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use crate::error::TargetError;
    use crate::model::Gmm;
    use crate::parallel::Serial;
    use crate::store::SampleStore;
    use crate::target::Target;

    struct Flat;
    impl Target<f64, 1> for Flat {
        fn log_density(&mut self, x: &[SVector<f64, 1>], out: &mut [f64]) -> Result<(), TargetError> {
            for (o, xi) in out.iter_mut().zip(x) {
                *o = -0.5 * xi[0] * xi[0];
            }
            Ok(())
        }
        fn log_density_with_grad(
            &mut self,
            x: &[SVector<f64, 1>],
            out: &mut [f64],
            grad: &mut [SVector<f64, 1>],
        ) -> Result<(), TargetError> {
            for ((o, g), xi) in out.iter_mut().zip(grad.iter_mut()).zip(x) {
                *o = -0.5 * xi[0] * xi[0];
                g[0] = -xi[0];
            }
            Ok(())
        }
    }

    #[test]
    fn draws_by_weight_and_tops_up_the_ess() {
        let mut q = Gmm::<f64, 1, 2>::new();
        q.add_component(0.2, SVector::from([-5.0]), &SMatrix::identity()).unwrap();
        q.add_component(0.8, SVector::from([5.0]), &SMatrix::identity()).unwrap();
        q.set_log_weights(&[0.2f64.ln(), 0.8f64.ln()]).unwrap();
        let mut st = SampleStore::<f64, 1, 4096, 8>::new();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let sel = super::select(&q, &mut st, &mut Flat, &mut rng, 1000, 0, 4096, true, false, &Serial).unwrap();
        assert_eq!(sel.evaluated, 1000);
        let left = st.x[..st.len].iter().filter(|x| x[0] < 0.0).count();
        // Binomial(1000, 0.2): 200 ± 4 standard deviations.
        assert!((150..=250).contains(&left), "{left}");
        // Reusing the 1000 mixture samples: b is the mixture with the realised counts, so
        // q/b is nearly constant and the ESS nearly 1000; only a few new samples are drawn.
        let sel = super::select(&q, &mut st, &mut Flat, &mut rng, 1000, 1000, 4096, true, false, &Serial).unwrap();
        assert!((1..=10).contains(&sel.evaluated), "{}", sel.evaluated);
        assert_eq!(st.len - sel.start, 1000 + sel.evaluated);
    }
}

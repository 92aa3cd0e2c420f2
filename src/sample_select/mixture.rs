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

use super::{Request, Sampling, Selection, draw_and_store, ess_from_sums, reuse_window};
use crate::error::Error;
use crate::model::Gmm;
use crate::parallel::{Parallel, Pass};
use crate::real::{OnlineLse, Real};
use crate::rng::uniform_in;
use crate::store::{WorkingSet, log_q_rows};
use crate::target::Target;

/// `⌊1/Σ ŵ²⌋` for `ŵ_n ∝ q(x_n)/b(x_n)` over the working set; overwrites the working-set rows
/// of `log_q`.
pub(crate) fn mixture_ess<T: Real, const D: usize, const K: usize, X: Parallel>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    log_q: &mut [T],
    par: &X,
) -> usize {
    log_q_rows(model, ws, log_q, par);
    let mut s1 = OnlineLse::new();
    let mut s2 = OnlineLse::new();
    for (&lq, &lb) in log_q.iter().zip(ws.log_b).take(ws.end()).skip(ws.start) {
        let a = lq - lb;
        if a.finite() {
            s1.push(a);
            s2.push(a + a);
        }
    }
    ess_from_sums(&s1, &s2)
}

/// Runs the selection; on `Err` nothing new is stored (a full store may have been thinned).
#[inline(never)]
pub(crate) fn select<
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const KEEP: usize,
    P,
    R,
    X,
>(
    req: &Request,
    st: Sampling<'_, T, D, K, SAMPLES, GAUSSIANS, KEEP, R, X>,
    target: &mut P,
) -> Result<Selection, Error>
where
    P: Target<T, D> + ?Sized,
    R: Rng + ?Sized,
    X: Parallel,
{
    let reused = reuse_window(st.store, &mut st.scratch.bg, st.sums, req.reuse_rows, st.par);
    let ess = if reused > 0 {
        mixture_ess(st.model, &st.store.working_set(&st.scratch.bg), &mut st.scratch.log_q, st.par)
    } else {
        0
    };
    st.par.pass_done(Pass::Selection, reused, st.model.len());
    let total = req.n_des.saturating_sub(ess).max(1);
    let mut m = [0usize; K];
    let (mut cum, mut known) = ([T::zero(); K], 0);
    for _ in 0..total {
        if let Some(c) = m.get_mut(st.model.component_for(uniform_in(st.rng), &mut cum, &mut known)) {
            *c += 1;
        }
    }
    draw_and_store(req, st, target, &m, reused)
}

#[cfg(test)]
mod tests {
    use nalgebra::{SMatrix, SVector};
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use crate::error::TargetError;
    use crate::model::Gmm;
    use crate::parallel::Serial;
    use crate::store::{SampleStore, Scratch};
    use crate::target::Target;
    use std::boxed::Box;

    use super::super::{Request, Sampling};

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
        let mut scratch = Box::new(Scratch::<f64, 1, 4096, 8>::BLANK);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut none = crate::store::BgSums::<0>::BLANK;
        let req = |reuse_rows| Request { n_des: 1000, reuse_rows, max_rows: 4096, need_grad: true, replace: false };
        let mut run = |st: &mut SampleStore<f64, 1, 4096, 8>, reuse| {
            let s =
                Sampling { model: &q, store: st, scratch: &mut scratch, sums: &mut none, rng: &mut rng, par: &Serial };
            super::select(&req(reuse), s, &mut Flat)
        };
        let sel = run(&mut st, 0).unwrap();
        assert_eq!(sel.evaluated, 1000);
        let left = st.rows().x.iter().filter(|x| x[0] < 0.0).count();
        // Binomial(1000, 0.2): 200 ± 4 standard deviations.
        assert!((150..=250).contains(&left), "{left}");
        // Reusing the 1000 mixture samples: b is the mixture with the realised counts, so
        // q/b is nearly constant and the ESS nearly 1000; only a few new samples are drawn.
        let sel = run(&mut st, 1000).unwrap();
        assert!((1..=10).contains(&sel.evaluated), "{}", sel.evaluated);
        assert_eq!(st.len() - sel.start, 1000 + sel.evaluated);
    }
}

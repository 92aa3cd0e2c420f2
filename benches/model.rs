//! Wall time of using a fitted model in a controller, at the firmware's sizes (`D = 7`,
//! `K = 8`, full covariances), in f32 and f64:
//!
//! * `model/sample_*`: one draw ([`Gmm::sample`], component by inverse CDF, then `μ + L ε`);
//! * `model/log_density_*`: one [`Gmm::log_density`] at a draw of the model;
//! * `model/conditional_*`: [`Gmm::conditional`] given 3 of the 7 coordinates.
//!
//! The mixture has 8 components with random means and random correlated covariances (a fixed
//! seed), so every component is evaluated with its full triangular factor.
//!
//! ```text
//! cargo bench --bench model
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gmmvi::rng::fill_standard_normal;
use gmmvi::{Gmm, Real, SubGmm};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const D: usize = 7;
const K: usize = 8;

fn model<T: Real>() -> Gmm<T, D, K> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(23);
    let mut q = Gmm::new();
    for _ in 0..K {
        let mut mean = SVector::<f64, D>::zeros();
        fill_standard_normal(&mut rng, mean.as_mut_slice());
        let mut a = SMatrix::<f64, D, D>::zeros();
        fill_standard_normal(&mut rng, a.as_mut_slice());
        let cov = a * a.transpose() * 0.05 + SMatrix::identity() * 0.02;
        q.add_component(T::one(), mean.map(T::of), &cov.map(T::of)).expect("valid component");
    }
    q
}

fn bench_model<T: Real>(c: &mut Criterion, name: &str) {
    let q = model::<T>();
    let mut group = c.benchmark_group("model");
    group.measurement_time(Duration::from_secs(3));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut x = [SVector::<T, D>::zeros(); 1];
    group.bench_function(format!("sample_{name}"), |b| b.iter(|| black_box(&q).sample(&mut rng, &mut x)));
    let mut pts = [SVector::<T, D>::zeros(); 256];
    q.sample(&mut rng, &mut pts);
    let mut i = 0;
    group.bench_function(format!("log_density_{name}"), |b| {
        b.iter(|| {
            i = (i + 1) % pts.len();
            black_box(&q).log_density(&pts[i])
        })
    });
    let mut out = SubGmm::new();
    group.bench_function(format!("conditional_{name}"), |b| {
        b.iter(|| {
            i = (i + 1) % pts.len();
            black_box(&q).conditional(&[0, 1, 2], &pts[i], &mut out)
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_model::<f32>(c, "d7_k8_f32");
    bench_model::<f64>(c, "d7_k8_f64");
}

criterion_group!(model_benches, benches);
criterion_main!(model_benches);

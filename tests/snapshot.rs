//! `Optimizer::snapshot`: a copy of the model that samples and evaluates without the optimiser,
//! and the double buffer of its docs: one thread fits and publishes a snapshot after every
//! step, another samples from the published one at a fixed rate.
mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Gauss;
use gmmvi::{Config, Gmm, Optimizer, SubGmm};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const D: usize = 4;
const K: usize = 6;
type Opt = Optimizer<f64, D, K, 2048, 64, 256>;

fn target() -> Gauss<D> {
    let a = SMatrix::<f64, D, D>::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f64 * 0.15);
    Gauss::new(SVector::from([1.0, -0.5, 0.25, 2.0]), a * a.transpose() + SMatrix::identity() * 0.2)
}

fn optimizer() -> Box<Opt> {
    let init = Gmm::<f64, D, K>::from_prior(
        3,
        &SVector::zeros(),
        &SVector::repeat(1.0),
        &SVector::repeat(4.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(3),
    )
    .unwrap();
    Box::new(Opt::new(&Config::samtrux(), init, 5).unwrap())
}

/// A digest of every value a snapshot holds (weights, means, factors), bit for bit.
fn digest(q: &Gmm<f64, D, K>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ q.len() as u64;
    let mut eat = |v: f64| {
        h = (h ^ v.to_bits()).wrapping_mul(0x0000_0100_0000_01b3);
    };
    for k in 0..q.len() {
        eat(q.log_weights()[k]);
        q.mean(k).unwrap().iter().for_each(|v| eat(*v));
        q.chol(k).unwrap().iter().for_each(|v| eat(*v));
    }
    h
}

const fn send_sync<X: Send + Sync>() {}
const _: () = send_sync::<Gmm<f64, D, K>>();
const _: () = send_sync::<SubGmm<f32, 7, 8>>();

#[test]
fn a_snapshot_equals_the_model_and_works_without_the_optimiser() {
    let mut opt = optimizer();
    let mut t = target();
    for _ in 0..20 {
        opt.step(&mut t).unwrap();
    }
    let mut snap = Gmm::<f64, D, K>::new();
    opt.snapshot(&mut snap);
    assert_eq!(digest(&snap), digest(opt.model()));
    let probe = SVector::from([0.3, 0.1, -0.2, 1.0]);
    assert_eq!(snap.log_density(&probe).to_bits(), opt.model().log_density(&probe).to_bits());
    // The same draws as from the model itself.
    let (mut a, mut b) = ([SVector::zeros(); 16], [SVector::zeros(); 16]);
    snap.sample(&mut Xoshiro256PlusPlus::seed_from_u64(9), &mut a);
    opt.model().sample(&mut Xoshiro256PlusPlus::seed_from_u64(9), &mut b);
    assert_eq!(a, b);
    // The optimiser goes on; the snapshot keeps the old model.
    drop(opt);
    let mut c = SubGmm::new();
    snap.conditional(&[0, 3], &probe, &mut c).unwrap();
    assert_eq!(c.coords(), &[1, 2]);
    assert!(c.log_density(&probe).is_finite());
}

/// One published snapshot: its generation (the optimiser's iteration count when it was taken),
/// the writer's digest of it, and the mixture.
struct Slot {
    generation: u64,
    digest: u64,
    model: Gmm<f64, D, K>,
}

#[test]
fn one_thread_fits_another_samples_the_published_snapshot() {
    const STEPS: u64 = 300;
    const PERIOD: Duration = Duration::from_micros(200);
    let slots = [
        Mutex::new(Slot { generation: 0, digest: 0, model: Gmm::new() }),
        Mutex::new(Slot { generation: 0, digest: 0, model: Gmm::new() }),
    ];
    let published = AtomicUsize::new(0);
    let published_generation = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let mut opt = optimizer();
    {
        let mut s = slots[0].lock().unwrap();
        opt.snapshot(&mut s.model);
        s.digest = digest(&s.model);
    }

    let (reads, generations_seen, samples) = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut t = target();
            for _ in 0..STEPS {
                opt.step(&mut t).unwrap();
                let next = 1 - published.load(Ordering::Relaxed);
                {
                    let mut s = slots[next].lock().unwrap();
                    opt.snapshot(&mut s.model);
                    s.generation = opt.iterations();
                    s.digest = digest(&s.model);
                    assert_eq!(s.digest, digest(opt.model()));
                }
                published_generation.store(opt.iterations(), Ordering::Release);
                published.store(next, Ordering::Release);
            }
            done.store(true, Ordering::Release);
        });

        let sampler = scope.spawn(|| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
            let mut xs = [SVector::<f64, D>::zeros(); 8];
            let (mut reads, mut samples) = (0u64, 0u64);
            let mut seen = std::collections::BTreeSet::new();
            let mut next = Instant::now();
            loop {
                let finished = done.load(Ordering::Acquire);
                let floor = published_generation.load(Ordering::Acquire);
                let idx = published.load(Ordering::Acquire);
                {
                    let s = slots[idx].lock().unwrap();
                    // A complete snapshot: what the writer digested, not older than published.
                    assert_eq!(digest(&s.model), s.digest, "torn snapshot at generation {}", s.generation);
                    assert!(s.generation + 1 >= floor, "stale snapshot {} < {floor}", s.generation);
                    assert!(!s.model.is_empty());
                    assert_eq!(s.model.sample(&mut rng, &mut xs), xs.len());
                    for x in &xs {
                        assert!(x.iter().all(|v| v.is_finite()), "non-finite sample {x:?}");
                        assert!(s.model.log_density(x).is_finite());
                    }
                    seen.insert(s.generation);
                }
                reads += 1;
                samples += xs.len() as u64;
                if finished {
                    break;
                }
                next += PERIOD;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            (reads, seen.len(), samples)
        });
        sampler.join().unwrap()
    });
    println!("{reads} reads, {samples} samples, {generations_seen} distinct snapshots over {STEPS} steps");
    // The sampler ran during the fit and saw it progress.
    assert!(generations_seen >= 3, "only {generations_seen} snapshots seen");
    assert!(reads > generations_seen as u64 / 2);
}

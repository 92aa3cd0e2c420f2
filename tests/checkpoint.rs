//! Checkpoint and resume: save → restore → n steps is bit-identical to n
//! uninterrupted steps, for every kind of design choice, f32 and f64, full and diagonal; bad
//! bytes give `BadCheckpoint` and leave the optimiser unchanged.

mod common;

use common::{big_stack, four_modes};
use gmmvi::{Config, Error, Gmm, Optimizer, Real};
use nalgebra::SVector;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

type Opt<T, const DIAG: bool> = Optimizer<T, 2, 12, 4096, 64, 64, DIAG>;

fn init<T: Real>(k0: usize, seed: u64) -> Gmm<T, 2, 12> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let s = SVector::repeat(T::of(8.0));
    Gmm::from_prior(k0, &SVector::zeros(), &s, &SVector::repeat(T::of(30.0)), &mut rng).unwrap()
}

fn config<T: Real>(code: &str) -> Config<T> {
    let mut c = Config::from_codeword(code).unwrap();
    c.samples.desired_samples_per_component = 40;
    c.adapt.max_components = 12;
    c.adapt.add_iters = 3;
    c.adapt.del_iters = 9;
    if code.as_bytes()[6] == b'G' {
        c.weight_step.annealing_exponent = Some(T::of(0.5));
    }
    c
}

/// The model's exact bits (weights, means, factors).
fn bits<T: Real>(q: &Gmm<T, 2, 12>) -> Vec<u64> {
    let mut v: Vec<u64> = q.log_weights().iter().map(|x| x.to_f64().to_bits()).collect();
    for k in 0..q.len() {
        v.extend(q.mean(k).unwrap().iter().map(|x| x.to_f64().to_bits()));
        v.extend(q.chol(k).unwrap().iter().map(|x| x.to_f64().to_bits()));
    }
    v
}

fn resume_is_bit_identical<T: Real, const DIAG: bool>(code: &str) {
    let cfg = config::<T>(code);
    let mut target = four_modes();
    let mut a = Box::new(Opt::<T, DIAG>::new(&cfg, init(3, 1), 11).unwrap());
    for _ in 0..7 {
        a.step(&mut target).unwrap();
    }
    let mut bytes = vec![0u8; a.checkpoint_size()];
    assert_eq!(a.save(&mut bytes).unwrap(), bytes.len());
    // A different seed and initial model: restore must overwrite everything that matters.
    let mut b = Box::new(Opt::<T, DIAG>::new(&cfg, init(5, 2), 99).unwrap());
    b.restore(&bytes).unwrap();
    // The restored state saves to the same bytes.
    let mut again = vec![0u8; b.checkpoint_size()];
    b.save(&mut again).unwrap();
    assert!(again == bytes, "{code}: re-saved checkpoint differs");
    for i in 0..8 {
        let ra = a.step(&mut target).unwrap();
        let rb = b.step(&mut target).unwrap();
        assert_eq!(ra.evaluations, rb.evaluations);
        assert_eq!(ra.elbo_estimate.to_f64().to_bits(), rb.elbo_estimate.to_f64().to_bits(), "{code} step {i}");
        assert_eq!(bits(a.model()), bits(b.model()), "{code} step {i}");
    }
    let (ea, eb) = (a.estimate_elbo(&mut target, 200).unwrap(), b.estimate_elbo(&mut target, 200).unwrap());
    assert_eq!(ea.to_f64().to_bits(), eb.to_f64().to_bits());
    assert_eq!(a.iterations(), b.iterations());
}

#[test]
fn resume_is_bit_identical_for_every_option() {
    big_stack(|| {
        // Every letter of every design choice appears at least once.
        for code in ["SAMTRUX", "ZAMTRUX", "SEPYFUX", "SAMTRON", "SEMIDOG", "ZEPTFUN", "SAPYDUX"] {
            resume_is_bit_identical::<f64, false>(code);
        }
        resume_is_bit_identical::<f32, false>("SAMTRUX");
        resume_is_bit_identical::<f32, false>("SEPYFUX");
        resume_is_bit_identical::<f64, true>("SAMTRUX");
        resume_is_bit_identical::<f32, true>("SEPYRON");
    });
}

#[test]
fn bad_bytes_are_rejected_and_change_nothing() {
    big_stack(|| {
        let cfg = config::<f64>("SAMTRUX");
        let mut target = four_modes();
        let mut a = Box::new(Opt::<f64, false>::new(&cfg, init(3, 1), 11).unwrap());
        for _ in 0..4 {
            a.step(&mut target).unwrap();
        }
        let mut good = vec![0u8; a.checkpoint_size()];
        a.save(&mut good).unwrap();
        assert_eq!(a.save(&mut good.clone()[..10]), Err(Error::BufferTooSmall { needed: good.len() }));

        let mut b = Box::new(Opt::<f64, false>::new(&cfg, init(2, 5), 3).unwrap());
        let mut before = vec![0u8; b.checkpoint_size()];
        b.save(&mut before).unwrap();
        let unchanged = |b: &Opt<f64, false>| {
            let mut now = vec![0u8; b.checkpoint_size()];
            b.save(&mut now).unwrap();
            now == before
        };
        let is_bad = |r: Result<(), Error>| matches!(r, Err(Error::BadCheckpoint { .. }));

        // Truncations (a sample of lengths, all short ones) and bit flips.
        let n = good.len();
        for len in (0..64).chain((64..n).step_by(n / 97 + 1)) {
            assert!(is_bad(b.restore(&good[..len])), "length {len}");
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for _ in 0..300 {
            let mut c = good.clone();
            let i = (rng.next_u64() % (n as u64 * 8)) as usize;
            c[i / 8] ^= 1 << (i % 8);
            assert!(is_bad(b.restore(&c)));
        }
        // Another configuration, another type.
        let mut other_cfg = cfg.clone();
        other_cfg.temperature = 0.5;
        let mut c = Box::new(Opt::<f64, false>::new(&other_cfg, init(3, 1), 11).unwrap());
        assert!(is_bad(c.restore(&good)));
        let mut d = Box::new(Optimizer::<f64, 2, 12, 4096, 64, 32>::new(&cfg, init(3, 1), 11).unwrap());
        assert!(is_bad(d.restore(&good)));
        let mut e = Box::new(Opt::<f32, false>::new(&config("SAMTRUX"), init(3, 1), 11).unwrap());
        assert!(is_bad(e.restore(&good)));

        // Another format version (checksum made valid again).
        let mut v2 = good.clone();
        v2[8] = 3;
        reseal(&mut v2);
        assert_eq!(b.restore(&v2), Err(Error::BadCheckpoint { what: "unsupported checkpoint version" }));

        // Forged blobs (valid checksum, mutated body): an error or a valid state, never a panic
        // and never a NaN in the model.
        for _ in 0..400 {
            let mut c = good.clone();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = 8 + (rng.next_u64() % (n as u64 - 16)) as usize;
                c[i] = rng.next_u64() as u8;
            }
            reseal(&mut c);
            let mut f = Box::new(Opt::<f64, false>::new(&cfg, init(2, 5), 3).unwrap());
            if f.restore(&c).is_ok() {
                let _ = f.step(&mut target);
                assert!(f.model().log_weights().iter().all(|w| !w.is_nan()));
            }
        }
        assert!(unchanged(&b));
        // And the good one still works.
        b.restore(&good).unwrap();
        assert!(!unchanged(&b));
    });
}

/// Recomputes the trailing FNV-1a checksum (format: `gmmvi::checkpoint` docs).
fn reseal(c: &mut [u8]) {
    let n = c.len() - 8;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &c[..n] {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    c[n..].copy_from_slice(&h.to_le_bytes());
}

#[test]
fn exported_model_survives_f64_to_f32() {
    big_stack(|| {
        let cfg = config::<f64>("SAMTRUX");
        let mut target = four_modes();
        let mut a = Box::new(Opt::<f64, false>::new(&cfg, init(3, 1), 11).unwrap());
        for _ in 0..30 {
            a.step(&mut target).unwrap();
        }
        let q = a.model();
        let mut bytes = vec![0u8; q.export_size()];
        q.export(&mut bytes).unwrap();
        let mut fw = Gmm::<f32, 2, 12>::new();
        fw.import(&bytes).unwrap();
        assert_eq!(fw.len(), q.len());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let mut xs = vec![SVector::<f64, 2>::zeros(); 1000];
        q.sample(&mut rng, &mut xs);
        for x in &xs {
            let (want, got) = (q.log_density(x), fw.log_density(&x.cast::<f32>()) as f64);
            assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{got} vs {want}");
        }
    });
}

/// The kept background sums (the default `BG_CACHE = SAMPLES`) and sums made afresh at every
/// selection (`BG_CACHE = 0`) give the same bits over a run whose working sets slide, grow and
/// shrink as components are added and deleted; a checkpoint (which holds no sums) restores
/// into either and both continue with the same bits.
fn kept_and_fresh_background_agree<T: Real>(code: &str) {
    type Fresh<T> = Optimizer<T, 2, 12, 4096, 64, 64, false, 0, 0>;
    let mut cfg = config::<T>(code);
    cfg.samples.reuse_ratio = T::of(2.0);
    let mut target = four_modes();
    let mut a = Box::new(Opt::<T, false>::new(&cfg, init(1, 3), 5).unwrap());
    let mut b = Box::new(Fresh::<T>::new(&cfg, init(1, 3), 5).unwrap());
    let (mut added, mut deleted) = (0, 0);
    for i in 0..40 {
        let ra = a.step(&mut target).unwrap();
        let rb = b.step(&mut target).unwrap();
        assert_eq!(ra.working_set, rb.working_set, "{code} step {i}");
        assert_eq!(ra.elbo_estimate.to_f64().to_bits(), rb.elbo_estimate.to_f64().to_bits(), "{code} step {i}");
        assert_eq!(bits(a.model()), bits(b.model()), "{code} step {i}");
        added += ra.added;
        deleted += ra.deleted;
    }
    assert!(added > 0 && deleted > 0, "{code}: {added} added, {deleted} deleted");
    let mut bytes = vec![0u8; a.checkpoint_size()];
    a.save(&mut bytes).unwrap();
    let mut c = Box::new(Fresh::<T>::new(&cfg, init(4, 9), 1).unwrap());
    c.restore(&bytes).unwrap();
    let mut d = Box::new(Opt::<T, false>::new(&cfg, init(4, 9), 1).unwrap());
    d.restore(&bytes).unwrap();
    for i in 0..10 {
        let ra = a.step(&mut target).unwrap();
        for (name, r) in [("fresh", c.step(&mut target).unwrap()), ("kept", d.step(&mut target).unwrap())] {
            assert_eq!(ra.elbo_estimate.to_f64().to_bits(), r.elbo_estimate.to_f64().to_bits(), "{code} {name} {i}");
        }
        assert_eq!(bits(a.model()), bits(c.model()), "{code} fresh step {i}");
        assert_eq!(bits(a.model()), bits(d.model()), "{code} kept step {i}");
    }
}

#[test]
fn kept_background_sums_change_no_bit() {
    big_stack(|| {
        kept_and_fresh_background_agree::<f64>("SAMTRUX");
        kept_and_fresh_background_agree::<f64>("SAPYDUX");
        kept_and_fresh_background_agree::<f32>("SAMTRUX");
    });
}

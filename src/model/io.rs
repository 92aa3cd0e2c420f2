//! The model's byte forms: exact (inside an optimiser checkpoint) and portable (export/import
//! in `f64`, any scalar type on either side). Formats: [`crate::checkpoint`].

use nalgebra::{SMatrix, SVector};

use super::gmm::{Component, Gmm, factor_from_chol};
use crate::bounds::Bounds;
use crate::checkpoint::{MODEL_VERSION_BOUNDED, Reader, VERSION, Writer, bad};
use crate::error::Error;
use crate::real::{Real, log_sum_exp};

/// Magic of the portable model format.
const MODEL_MAGIC: &[u8; 8] = b"GMMVIMDL";

impl<T: Real, const D: usize> Component<T, D> {
    /// Exact form (own scalar width), part of a checkpoint.
    pub(crate) fn save(&self, w: &mut Writer) {
        w.reals(self.mean.as_slice());
        w.reals(self.inv_t.as_slice());
        w.real(self.log_norm);
        w.real(self.inv_trace);
        w.reals(self.inv_diag.as_slice());
        w.u8(u8::from(self.diag));
    }

    /// Reads the exact form; `BadCheckpoint` for a non-finite field.
    pub(crate) fn load(r: &mut Reader) -> Result<Self, Error> {
        let mut c = Self::ZERO;
        r.reals::<T, true>(c.mean.as_mut_slice())?;
        r.reals::<T, true>(c.inv_t.as_mut_slice())?;
        c.log_norm = r.real()?;
        c.inv_trace = r.real()?;
        r.reals::<T, true>(c.inv_diag.as_mut_slice())?;
        c.diag = r.bool()?;
        let all = c.mean.iter().chain(c.inv_t.iter()).chain(c.inv_diag.iter());
        if !(c.log_norm.finite() && c.inv_trace.finite()) || all.clone().any(|v| !v.finite()) {
            return Err(bad("non-finite Gaussian"));
        }
        Ok(c)
    }
}

impl<T: Real, const D: usize, const K: usize> Gmm<T, D, K> {
    /// Exact form, part of a checkpoint.
    pub(crate) fn save_state(&self, w: &mut Writer) {
        w.count(self.n);
        for k in 0..self.n {
            w.real(self.log_w[k]);
            w.reals(self.mean[k].as_slice());
            w.reals(self.chol[k].as_slice());
            self.comp[k].save(w);
        }
    }

    /// Reads the exact form, storing it only if `WRITE` (a dry pass validates first).
    pub(crate) fn load_state<const WRITE: bool>(&mut self, r: &mut Reader) -> Result<(), Error> {
        let n = r.count(K)?;
        if n == 0 {
            return Err(bad("model without components"));
        }
        let mut log_w = [T::zero(); K];
        for (k, lw_k) in log_w.iter_mut().enumerate().take(n) {
            let lw: T = r.real()?;
            let mut mean = SVector::<T, D>::zeros();
            r.reals::<T, true>(mean.as_mut_slice())?;
            let mut l = SMatrix::<T, D, D>::zeros();
            r.reals::<T, true>(l.as_mut_slice())?;
            let comp = Component::load(r)?;
            // A lower-triangular factor with a positive diagonal whose covariance is finite
            // (what `factor_from_chol` accepts), as every model the optimiser builds.
            let lower = (0..D).all(|i| (i + 1..D).all(|j| l[(i, j)] == T::zero()));
            if !lw.finite() || !lower || factor_from_chol(&mean, &l).is_none() {
                return Err(bad("invalid component"));
            }
            *lw_k = lw;
            if WRITE {
                self.log_w[k] = lw;
                self.mean[k] = mean;
                self.chol[k] = l;
                self.comp[k] = comp;
            }
        }
        // Normalised weights, up to the rounding of the scalar over K components.
        if !(log_sum_exp(&log_w[..n]).abs() <= T::of(1e-3)) {
            return Err(bad("weights do not sum to 1"));
        }
        if WRITE {
            self.n = n;
        }
        Ok(())
    }

    /// Writes the mixture in the portable model format ([`crate::checkpoint`]): `f64` scalars
    /// whatever `T`, so a model fitted in `f64` on a host can be imported in `f32` on firmware.
    /// Returns the bytes written; [`Self::export_size`] gives the size beforehand.
    ///
    /// ```
    /// # use gmmvi::Gmm;
    /// # use nalgebra::{SMatrix, SVector};
    /// let mut q = Gmm::<f64, 2, 4>::new();
    /// q.add_component(1.0, SVector::from([1.0, -1.0]), &(SMatrix::identity() * 0.5))?;
    /// let mut buf = [0u8; 256];
    /// let n = q.export(&mut buf)?;
    /// let mut on_device = Gmm::<f32, 2, 8>::new();
    /// on_device.import(&buf[..n])?;
    /// let x = SVector::from([0.5, 0.0]);
    /// assert!((on_device.log_density(&x.cast()) as f64 - q.log_density(&x)).abs() < 1e-5);
    /// # Ok::<(), gmmvi::Error>(())
    /// ```
    ///
    /// # Errors
    /// `BufferTooSmall { needed }` if `out` is shorter than the export (nothing is promised
    /// about `out`'s contents then).
    pub fn export(&self, out: &mut [u8]) -> Result<usize, Error> {
        self.export_with(out, None)
    }

    /// [`Self::export`]; with bounds that bound something, the bounded form (version 2: the
    /// mixture over the unconstrained space, then `D` pairs `lo, hi` as `f64`).
    pub(crate) fn export_with(&self, out: &mut [u8], bounds: Option<&Bounds<T, D>>) -> Result<usize, Error> {
        let bounds = bounds.filter(|b| !b.is_unbounded());
        let mut w = Writer::new(out);
        w.bytes(MODEL_MAGIC);
        w.u32(if bounds.is_some() { MODEL_VERSION_BOUNDED } else { VERSION });
        w.u32(D as u32);
        w.u32(self.n as u32);
        for k in 0..self.n {
            w.f64(self.log_w[k].to_f64());
            for v in self.mean[k].iter() {
                w.f64(v.to_f64());
            }
            for i in 0..D {
                for j in 0..=i {
                    w.f64(self.chol[k][(i, j)].to_f64());
                }
            }
        }
        if let Some(b) = bounds {
            for (lo, hi) in b.lower().iter().zip(b.upper()) {
                w.f64(lo.to_f64());
                w.f64(hi.to_f64());
            }
        }
        w.finish()
    }

    /// Bytes [`Self::export`] writes for the current model.
    pub fn export_size(&self) -> usize {
        8 + 3 * 4 + self.n * (1 + D + D * (D + 1) / 2) * 8 + 8
    }

    /// Replaces this mixture by an exported one (any scalar type on the exporting side). The
    /// log weights are re-normalised in `T`. Nothing changes on error.
    ///
    /// A model exported with bounds ([`crate::Optimizer::export_model`] of a bounded run) is a
    /// mixture over the unconstrained space and is refused here: read it with
    /// [`crate::bounds::import_model`] or [`crate::Optimizer::import_model`].
    ///
    /// # Errors
    /// `BadCheckpoint` for a model with bounds, truncated or corrupted bytes, another format
    /// version, another
    /// dimension, more than `K` or zero components, or a component that is not a valid
    /// Gaussian in `T` (non-finite values, a non-positive Cholesky diagonal).
    pub fn import(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.import_checked(bytes, false, false).map(|_| ())
    }

    /// [`Self::import`]; with `require_diag`, a component with a full covariance is an error;
    /// with `with_bounds`, a model with bounds is accepted and its bounds returned (`None` for a
    /// mixture alone).
    pub(crate) fn import_checked(
        &mut self,
        bytes: &[u8],
        require_diag: bool,
        with_bounds: bool,
    ) -> Result<Option<Bounds<T, D>>, Error> {
        let mut r = Reader::new(bytes, MODEL_MAGIC)?;
        let bounded = match r.u32()? {
            VERSION => false,
            MODEL_VERSION_BOUNDED if with_bounds => true,
            MODEL_VERSION_BOUNDED => {
                return Err(bad("model with bounds (import it with Optimizer::import_model or bounds::import_model)"));
            }
            _ => return Err(bad("unsupported model format version")),
        };
        if r.u32()? != D as u32 {
            return Err(bad("model of another dimension"));
        }
        let n = r.u32()? as usize;
        if n == 0 || n > K {
            return Err(bad("model has zero or more than K components"));
        }
        let body = r.pos();
        let mut bounds = None;
        // Two passes: validate everything, then write (so an error changes nothing).
        for write in [false, true] {
            r.seek(body);
            for k in 0..n {
                let lw = T::of(r.f64()?);
                let mut mean = SVector::<T, D>::zeros();
                for v in mean.iter_mut() {
                    *v = T::of(r.f64()?);
                }
                let mut l = SMatrix::<T, D, D>::zeros();
                for i in 0..D {
                    for j in 0..=i {
                        l[(i, j)] = T::of(r.f64()?);
                    }
                }
                if !lw.finite() {
                    return Err(bad("non-finite log weight"));
                }
                let (l, comp) = factor_from_chol(&mean, &l).ok_or(bad("invalid Gaussian (in this scalar type)"))?;
                if require_diag && !comp.diag {
                    return Err(bad("full covariance in a diagonal model"));
                }
                if write {
                    self.log_w[k] = lw;
                    self.mean[k] = mean;
                    self.chol[k] = l;
                    self.comp[k] = comp;
                }
            }
            if bounded {
                let (mut lo, mut hi) = ([T::zero(); D], [T::zero(); D]);
                for (l, h) in lo.iter_mut().zip(&mut hi) {
                    *l = T::of(r.f64()?);
                    *h = T::of(r.f64()?);
                }
                bounds = Some(Bounds::new(&lo, &hi).map_err(|_| bad("invalid bounds (in this scalar type)"))?);
            }
            if !r.at_end() {
                return Err(bad("trailing bytes"));
            }
        }
        self.n = n;
        self.normalize_weights();
        Ok(bounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Xoshiro256;

    fn random_model(seed: u64) -> Gmm<f64, 3, 6> {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let mut q =
            Gmm::<f64, 3, 6>::from_prior(5, &SVector::zeros(), &SVector::repeat(3.0), &SVector::repeat(0.5), &mut rng)
                .unwrap();
        // Full, correlated factors and uneven weights.
        for k in 0..5 {
            let mut l = SMatrix::<f64, 3, 3>::identity() * (0.5 + k as f64 * 0.1);
            l[(1, 0)] = 0.3;
            l[(2, 1)] = -0.2 * k as f64;
            let m = *q.mean(k).unwrap();
            assert!(q.parts_mut().nth(k).unwrap().set(m, &l));
        }
        q.set_log_weights(&[0.0, -1.0, 0.5, -2.0, 0.1]).unwrap();
        q
    }

    #[test]
    fn export_import_f64_to_f32_and_f64() {
        let q = random_model(3);
        let mut buf = [0u8; 1024];
        let n = q.export(&mut buf).unwrap();
        assert_eq!(n, q.export_size());
        assert_eq!(q.export(&mut buf[..n - 1]), Err(Error::BufferTooSmall { needed: n }));

        let mut same = Gmm::<f64, 3, 8>::new();
        same.import(&buf[..n]).unwrap();
        let mut small = Gmm::<f32, 3, 5>::new();
        small.import(&buf[..n]).unwrap();
        let mut rng = Xoshiro256::seed_from_u64(9);
        let mut xs = [SVector::<f64, 3>::zeros(); 200];
        assert_eq!(q.sample(&mut rng, &mut xs), 200);
        for x in &xs {
            let want = q.log_density(x);
            assert!((same.log_density(x) - want).abs() < 1e-12);
            let got = small.log_density(&x.cast::<f32>()) as f64;
            // f32 precision: relative 1e-6 of the terms involved (|log q| ≲ 30 here).
            assert!((got - want).abs() < 2e-4 * (1.0 + want.abs()), "{got} vs {want}");
        }
    }

    #[test]
    fn import_rejects_bad_bytes_and_keeps_the_model() {
        let q = random_model(4);
        let mut buf = [0u8; 1024];
        let n = q.export(&mut buf).unwrap();
        let mut target = random_model(5);
        let before = target.log_density(&SVector::repeat(0.3));
        for len in 0..n {
            assert!(matches!(target.import(&buf[..len]), Err(Error::BadCheckpoint { .. })));
        }
        for i in (0..n * 8).step_by(7) {
            let mut c = buf;
            c[i / 8] ^= 1 << (i % 8);
            assert!(target.import(&c[..n]).is_err());
        }
        // Too many components for the capacity, another dimension.
        assert!(Gmm::<f64, 3, 4>::new().import(&buf[..n]).is_err());
        assert!(Gmm::<f64, 2, 8>::new().import(&buf[..n]).is_err());
        assert_eq!(target.log_density(&SVector::repeat(0.3)), before);
        // A well-formed blob whose Gaussian is invalid (negative Cholesky diagonal).
        let mut bad_model = [0u8; 1024];
        let mut w = Writer::new(&mut bad_model);
        w.bytes(MODEL_MAGIC);
        w.u32(VERSION);
        w.u32(1);
        w.u32(1);
        for v in [0.0, 0.0, -1.0] {
            w.f64(v);
        }
        let m = w.finish().unwrap();
        assert!(Gmm::<f64, 1, 2>::new().import(&bad_model[..m]).is_err());
    }
}

//! Byte formats for checkpoints and model export, without allocation.
//!
//! Both formats are little-endian throughout and end with an FNV-1a 64-bit checksum of every
//! byte before it, so a truncated or corrupted blob is rejected before anything is written.
//!
//! **Checkpoint** ([`crate::Optimizer::save`] / [`crate::Optimizer::restore`]): the complete
//! optimiser state (model, step sizes, weight-step state, reward and weight histories, sample
//! store and stored Gaussians, both generator states, counters), scalars in the optimiser's own
//! type (`f32` as 4 bytes, `f64` as 8) so that a resumed run is bit-identical to an
//! uninterrupted one. Restoring needs the same type (`T`, `D`, `K`, `S`, `G`, `H`, `DIAG`) and
//! the same [`crate::Config`] (checked by a fingerprint of its fields).
//!
//! ```text
//! "GMMVICKP" | version u32 | scalar bytes u8 | DIAG u8 | 0u16 | D K S G H (u32 each)
//! | config fingerprint u64 | body | checksum u64
//! ```
//!
//! **Model** ([`crate::Gmm::export`] / [`crate::Gmm::import`]): the mixture alone, scalars as
//! `f64` whatever the type it was exported from, so a model fitted on a host in `f64` can be
//! flashed to firmware that runs in `f32`:
//!
//! ```text
//! "GMMVIMDL" | version u32 | D u32 | n u32 | n × (log w, μ (D), L row-major lower triangle
//! (D(D+1)/2), diagonal flag u8) | checksum u64
//! ```
//!
//! Every reader checks the length before each field, so no input can make it read out of
//! bounds; every count is checked against the capacity it indexes.

use core::fmt;

use crate::error::Error;
use crate::real::Real;

/// Version of the model format of a mixture alone.
pub(crate) const VERSION: u32 = 1;
/// Version of the model format with bounds (the mixture, then the bounds).
pub(crate) const MODEL_VERSION_BOUNDED: u32 = 2;
/// Current version of the checkpoint format (version 1: without bounds, still read).
pub(crate) const CHECKPOINT_VERSION: u32 = 2;

/// The error of a malformed blob.
pub(crate) const fn bad(what: &'static str) -> Error {
    Error::BadCheckpoint { what }
}

/// FNV-1a, 64 bit: a small, dependency-free checksum (detects corruption, not forgery).
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub fn finish(self) -> u64 {
        self.0
    }
}

impl fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.update(s.as_bytes());
        Ok(())
    }
}

/// FNV-1a (64 bit) of `bytes`: the checksum that ends both formats, for a layer that appends
/// its own checked bytes to a checkpoint (the C ABI does).
///
/// ```
/// assert_eq!(gmmvi::checkpoint::fnv(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(gmmvi::checkpoint::fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.update(bytes);
    h.finish()
}

/// Fingerprint of any `Debug` value (used for the configuration: its derived `Debug` prints
/// every field, floats in round-trip precision).
pub(crate) fn fingerprint<V: fmt::Debug>(v: &V) -> u64 {
    let mut h = Fnv::new();
    // Writing into `Fnv` cannot fail.
    let _ = fmt::write(&mut h, format_args!("{v:?}"));
    h.finish()
}

/// Serialises into a caller buffer. Past the buffer's end it keeps counting, so the same code
/// computes the size needed (with an empty buffer) and writes.
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
    hash: Fnv,
}

impl<'a> Writer<'a> {
    pub fn new(out: &'a mut [u8]) -> Self {
        Self { out, pos: 0, hash: Fnv::new() }
    }
    pub fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.pos.checked_add(b.len()).and_then(|end| self.out.get_mut(self.pos..end)) {
            dst.copy_from_slice(b);
        }
        self.hash.update(b);
        self.pos = self.pos.saturating_add(b.len());
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// A count or index (as `u64`).
    pub fn count(&mut self, v: usize) {
        self.u64(v as u64);
    }
    /// A scalar in `T`'s own width.
    pub fn real<T: Real>(&mut self, v: T) {
        if size_of::<T>() == 4 {
            self.u32((v.to_f64() as f32).to_bits());
        } else {
            self.u64(v.to_f64().to_bits());
        }
    }
    pub fn reals<T: Real>(&mut self, v: &[T]) {
        for &x in v {
            self.real(x);
        }
    }
    /// A scalar as `f64` (the model format).
    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    /// Appends the checksum; the total length, or `BufferTooSmall` with it.
    pub fn finish(mut self) -> Result<usize, Error> {
        let sum = self.hash.finish();
        self.bytes(&sum.to_le_bytes());
        if self.pos > self.out.len() { Err(Error::BufferTooSmall { needed: self.pos }) } else { Ok(self.pos) }
    }
}

/// Reads a blob whose checksum [`Reader::new`] has verified.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Checks the trailing checksum and the magic; the reader then starts after the magic.
    pub fn new(bytes: &'a [u8], magic: &[u8; 8]) -> Result<Self, Error> {
        let body_len = bytes.len().checked_sub(8).ok_or(bad("truncated"))?;
        let (body, sum) = bytes.split_at(body_len);
        if body.get(..8) != Some(&magic[..]) {
            return Err(bad("wrong magic (not this kind of blob)"));
        }
        let mut s = [0u8; 8];
        s.copy_from_slice(sum);
        if u64::from_le_bytes(s) != fnv(body) {
            return Err(bad("checksum mismatch (truncated or corrupted)"));
        }
        Ok(Self { b: body, pos: 8 })
    }
    /// Position in the blob (to rewind for a second pass).
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }
    pub fn at_end(&self) -> bool {
        self.pos == self.b.len()
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let end = self.pos.checked_add(N).ok_or(bad("truncated"))?;
        let src = self.b.get(self.pos..end).ok_or(bad("truncated"))?;
        let mut a = [0u8; N];
        a.copy_from_slice(src);
        self.pos = end;
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take::<1>()?[0])
    }
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    /// A count or index, which must be at most `max`.
    pub fn count(&mut self, max: usize) -> Result<usize, Error> {
        let v = self.u64()?;
        if v > max as u64 { Err(bad("count exceeds the capacity")) } else { Ok(v as usize) }
    }
    pub fn bool(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad("invalid flag byte")),
        }
    }
    pub fn real<T: Real>(&mut self) -> Result<T, Error> {
        if size_of::<T>() == 4 {
            Ok(T::of(f64::from(f32::from_bits(self.u32()?))))
        } else {
            Ok(T::of(f64::from_bits(self.u64()?)))
        }
    }
    /// Reads `dst.len()` scalars, storing them only if `WRITE`.
    pub fn reals<T: Real, const WRITE: bool>(&mut self, dst: &mut [T]) -> Result<(), Error> {
        for d in dst {
            let v = self.real()?;
            if WRITE {
                *d = v;
            }
        }
        Ok(())
    }
    pub fn f64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_bits(self.u64()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.bytes(b"GMMVITST");
        w.u32(7);
        w.real(1.5f32);
        w.real(-2.25f64);
        w.count(3);
        let n = w.finish().unwrap();
        assert_eq!(n, 8 + 4 + 4 + 8 + 8 + 8);
        let mut r = Reader::new(&buf[..n], b"GMMVITST").unwrap();
        assert_eq!(r.u32().unwrap(), 7);
        assert_eq!(r.real::<f32>().unwrap(), 1.5);
        assert_eq!(r.real::<f64>().unwrap(), -2.25);
        assert!(r.count(2).is_err());
        assert!(r.at_end());
        assert!(r.u8().is_err());
        // Every truncation and every single-bit flip is rejected.
        for len in 0..n {
            assert!(Reader::new(&buf[..len], b"GMMVITST").is_err());
        }
        for i in 0..n * 8 {
            let mut c = buf;
            c[i / 8] ^= 1 << (i % 8);
            assert!(Reader::new(&c[..n], b"GMMVITST").is_err());
        }
        assert!(Reader::new(&buf[..n], b"GMMVIXXX").is_err());
        // Counting mode: an empty buffer reports the size.
        let mut w = Writer::new(&mut []);
        w.u64(1);
        assert_eq!(w.finish(), Err(Error::BufferTooSmall { needed: 16 }));
    }
}

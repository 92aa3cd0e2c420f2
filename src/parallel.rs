//! Optional multi-core execution of the hot loops.
//!
//! The core never spawns threads. Every expensive pass of an iteration is split into tasks with
//! **fixed** boundaries (row ranges of [`ROW_TASK`] rows, or single components), each writing
//! only its own part of the output; a [`Parallel`] implementation decides where the tasks run.
//! Because the boundaries do not depend on the executor, results are bit-identical for
//! [`Serial`] and any number of threads.
//!
//! With the `std` feature, `Threads` runs the tasks on scoped threads; a robot controller can
//! implement [`Parallel`] on its own worker pool or RTOS tasks.

/// Rows per task of the row-wise passes.
pub const ROW_TASK: usize = 1024;

/// A pass of an iteration, reported to the executor by [`Parallel::pass_done`] when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pass {
    /// `log b` of working-set rows: the reused rows, or the new working set.
    Background,
    /// The effective sample sizes of the reused rows under the model.
    Selection,
    /// The fresh samples: drawing, the target's values (and gradients), storing.
    Draw,
    /// `log q` of the working set (with its gradient, for Stein).
    LogQ,
    /// The natural-gradient estimates.
    Estimation,
    /// The component step sizes and updates.
    ComponentUpdate,
    /// The weight step size and update (the expected log ratios).
    WeightUpdate,
    /// The deletion and addition of components.
    Adaptation,
}

/// Runs independent tasks, possibly concurrently.
pub trait Parallel: Sync {
    /// Called on the calling thread when `pass` of an iteration ends, with its extent: `rows`
    /// rows, each met with `gaussians` Gaussians before any pruning (the new samples and 1 for
    /// [`Pass::Draw`]; 0 rows for [`Pass::ComponentUpdate`]; the candidate rows of the add
    /// heuristic, or 0 if it did not run, for [`Pass::Adaptation`]). An executor may time the
    /// passes; nothing the optimiser computes depends on it. The default does nothing.
    #[inline(always)]
    fn pass_done(&self, pass: Pass, rows: usize, gaussians: usize) {
        let _ = (pass, rows, gaussians);
    }

    /// Calls `f(first, part)` once for every consecutive part of `items` of `chunk` elements (the
    /// last part may be shorter; `first` is the index of `part[0]` in `items`), possibly
    /// concurrently, and returns when every call has returned. `chunk = 0` is treated as 1.
    fn for_each_chunk<U: Send>(&self, items: &mut [U], chunk: usize, f: &(dyn Fn(usize, &mut [U]) + Sync));
}

/// Runs every task on the calling thread, in order.
#[derive(Clone, Copy, Debug, Default)]
pub struct Serial;

impl Parallel for Serial {
    fn for_each_chunk<U: Send>(&self, items: &mut [U], chunk: usize, f: &(dyn Fn(usize, &mut [U]) + Sync)) {
        let chunk = chunk.max(1);
        for (i, part) in items.chunks_mut(chunk).enumerate() {
            f(i * chunk, part);
        }
    }
}

/// Runs the tasks on `n` scoped threads (the calling thread is one of them); tasks are dealt
/// out round-robin so that uneven tasks spread evenly.
///
/// The helper threads get the standard library's default stack (2 MiB unless `RUST_MIN_STACK`
/// says otherwise) or the size given to [`Threads::with_stack_size`]. A per-component task
/// keeps several `D × D` matrices on it (`8·D²` bytes each in `f64`, 720 kB at `D = 300`): at
/// high dimension give the helpers as much stack as the calling thread has. A helper that the
/// operating system refuses to start is not an error: its tasks run on the calling thread
/// (the results are the same bits either way).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub struct Threads {
    n: usize,
    stack: Option<usize>,
}

#[cfg(feature = "std")]
impl Threads {
    /// `n` threads (at least 1).
    pub fn new(n: usize) -> Self {
        Self { n: n.max(1), stack: None }
    }

    /// `n` threads (at least 1) whose helpers get stacks of `bytes` bytes.
    pub fn with_stack_size(n: usize, bytes: usize) -> Self {
        Self { n: n.max(1), stack: Some(bytes) }
    }

    /// As many threads as the machine reports (`std::thread::available_parallelism`).
    pub fn available() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

#[cfg(feature = "std")]
impl Parallel for Threads {
    fn for_each_chunk<U: Send>(&self, items: &mut [U], chunk: usize, f: &(dyn Fn(usize, &mut [U]) + Sync)) {
        let chunk = chunk.max(1);
        if self.n == 1 || items.len() <= chunk {
            return Serial.for_each_chunk(items, chunk, f);
        }
        // Deal the parts out round-robin: thread t gets parts t, t + n, t + 2n, ...
        let mut lanes: std::vec::Vec<std::vec::Vec<(usize, &mut [U])>> =
            (0..self.n).map(|_| std::vec::Vec::new()).collect();
        for (i, part) in items.chunks_mut(chunk).enumerate() {
            lanes[i % self.n].push((i * chunk, part));
        }
        // Each lane in its own slot, so that a lane whose thread did not start is still here.
        let slots: std::vec::Vec<std::sync::Mutex<_>> = lanes.into_iter().map(std::sync::Mutex::new).collect();
        let run = |slot: &std::sync::Mutex<std::vec::Vec<(usize, &mut [U])>>| {
            let lane = match slot.lock() {
                Ok(mut g) => core::mem::take(&mut *g),
                Err(poisoned) => core::mem::take(&mut *poisoned.into_inner()),
            };
            for (first, part) in lane {
                f(first, part);
            }
        };
        std::thread::scope(|s| {
            let mut unstarted = std::vec::Vec::new();
            for slot in slots.iter().skip(1) {
                let builder = match self.stack {
                    Some(bytes) => std::thread::Builder::new().stack_size(bytes),
                    None => std::thread::Builder::new(),
                };
                if builder.spawn_scoped(s, move || run(slot)).is_err() {
                    unstarted.push(slot);
                }
            }
            for slot in slots.first().into_iter().chain(unstarted) {
                run(slot);
            }
        });
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// Every task runs exactly once, on helpers with the requested stack: the helpers' tasks
    /// keep 8 MiB on their stacks, four times the standard library's default (the calling
    /// thread's lane, tasks 0 and 3 of the round-robin deal, stays small).
    #[test]
    fn threads_with_a_stack_size_run_every_task_once() {
        #[inline(never)]
        fn deep(seed: usize) -> usize {
            let buf = core::hint::black_box([seed as u8; 8 << 20]);
            buf.iter().step_by(4096).map(|&b| b as usize).sum()
        }
        let mut items = [0usize; 6];
        let par = Threads::with_stack_size(3, 64 << 20);
        par.for_each_chunk(&mut items, 1, &|first, part| {
            for (i, v) in part.iter_mut().enumerate() {
                let task = first + i;
                *v += if task % 3 == 0 { (task + 1) * (8 << 20) / 4096 } else { deep(task + 1) };
            }
        });
        let want: std::vec::Vec<usize> = (1..=6).map(|s| s * (8 << 20) / 4096).collect();
        assert_eq!(items.to_vec(), want);
    }
}

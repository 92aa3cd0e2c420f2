//! The 7-joint planar-arm task of `c_examples/planar_arm.c` as Cortex-M4F firmware (qemu
//! `mps2-an386`, semihosting output), with the gmmvi Rust API in `f32`.
//!
//! A planar arm with 7 unit links should put its end effector at (3, 3) or (3, −3). gmmvi fits
//! a Gaussian mixture to the posterior over joint angles (prior N(0, I), likelihood std 0.05,
//! log-sum-exp over the goals), every joint limited to (−1.5, 1.5) rad with
//! `Optimizer::set_bounds`; the firmware then draws 10 joint configurations, prints them, and
//! checks that 1000 draws reach both goals (each goal ≥ 10 % of the draws within 0.2) and that
//! every draw is inside the joint limits. Exit status: `EXIT_SUCCESS` only then; any error or
//! panic gives `EXIT_FAILURE`.
//!
//! It also measures its own footprint: `size_of` of the optimiser state, and the stack
//! high-water marks of initialisation and of the fitting steps, found by painting the free
//! RAM between the end of `.bss` and the stack pointer with a pattern and, afterwards, looking
//! for the lowest overwritten word.
//!
//! And its time: SysTick (core clock) around every `step()` and around the draws of the final
//! check. Under qemu with `-icount shift=0` (the runner in
//! `.cargo/config.toml`) one instruction is one virtual nanosecond, so ticks count
//! instructions; a loop of a known instruction count calibrates instructions per tick.

#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::mem::{MaybeUninit, size_of};

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln};
use gmmvi::rng::{Xoshiro256, fill_standard_normal};
use gmmvi::{Bounds, Config, Error, Gmm, Optimizer, Target, TargetError};
use nalgebra::{SMatrix, SVector};

// ---- capacities (see README.md "Memory"; footprint.sh prints what they cost) --------------

/// Joints of the arm, the dimension `D`.
const D: usize = 7;
/// Component capacity `K`.
const K: usize = 8;
/// New samples per component and iteration (`n_des`); `GMMVI_FW_N_DES` at build time.
const N_DES: usize = env_usize(option_env!("GMMVI_FW_N_DES"), 12);
/// Sample-store rows `S = n_des·K`: no reuse (ratio 0), so one iteration's samples fill it.
const S: usize = N_DES * K;
/// Stored Gaussians `G = K` (enough without reuse: the working set has one per component).
const G: usize = K;
/// Reward-history columns `H`; `del_iters` is the largest with `2⌊d/3⌋ + d ≤ H`;
/// `GMMVI_FW_HISTORY` at build time.
const H: usize = env_usize(option_env!("GMMVI_FW_HISTORY"), 8);

/// A decimal build-time variable, or `default` when unset.
const fn env_usize(v: Option<&str>, default: usize) -> usize {
    let Some(v) = v else { return default };
    let (b, mut i, mut n) = (v.as_bytes(), 0, 0);
    assert!(!b.is_empty(), "empty GMMVI_FW_* variable");
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "GMMVI_FW_* must be a decimal number");
        n = n * 10 + (b[i] - b'0') as usize;
        i += 1;
    }
    n
}

/// Without reuse the kept background sums (`BG_CACHE = S`, 24 bytes a row) would save nothing:
/// `BG_CACHE = 0` sums the background afresh, with the same results.
type Opt = Optimizer<f32, D, K, S, G, H, false, 0, 0>;
/// Bytes of the kept background sums that `BG_CACHE = 0` leaves out of the memory formula.
const BG_SUMS_BYTES: usize = 24 * S;

/// Iterations of the fit: `ROUNDS` calls of `run`, `PER_ROUND` iterations each (as planar_arm.c).
const ROUNDS: u32 = 6;
const PER_ROUND: u64 = 250;
/// Draws of the final check, the reach radius and the fraction each goal needs.
const CHECK_SAMPLES: usize = 1000;
const REACH_RADIUS: f32 = 0.2;
const MIN_FRACTION_PER_GOAL: usize = CHECK_SAMPLES / 10;

// ---- the task (arm.h in f32) -----------------------------------------------------------------

const GOALS: [[f32; 2]; 2] = [[3.0, 3.0], [3.0, -3.0]];
const LIK_STD: f32 = 0.05;
/// Joint limits (rad), as arm.h: every joint in (−JOINT_LIMIT, JOINT_LIMIT).
const JOINT_LIMIT: f32 = 1.5;

/// `(sin a, cos a)` in `f32` arithmetic: reduction by π/2 in two parts (Cody & Waite), then
/// Taylor polynomials on `[−π/4, π/4]`. `libm::sinf` reduces in `f64`, which this FPU runs in
/// software; link angles are small, and beyond `|a| ≈ 10⁴` (a log density far below any
/// sample's) the reduction loses accuracy but stays finite.
fn sin_cos(a: f32) -> (f32, f32) {
    const PI_2_HI: f32 = 1.570_312_5; // 8 significant bits: n · PI_2_HI is exact
    const PI_2_LO: f32 = 4.838_268e-4; // π/2 − PI_2_HI
    let n = a * core::f32::consts::FRAC_2_PI;
    let n = if n >= 0.0 { (n + 0.5) as i32 } else { (n - 0.5) as i32 };
    let x = (a - n as f32 * PI_2_HI) - n as f32 * PI_2_LO;
    let x2 = x * x;
    let s = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0)))));
    let c =
        1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40_320.0 + x2 * (-1.0 / 3_628_800.0)))));
    match n & 3 {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// End effector of joint angles `q`; fills the sines and cosines of the absolute link angles.
fn forward(q: &SVector<f32, D>, sin: &mut [f32; D], cos: &mut [f32; D]) -> (f32, f32) {
    let (mut a, mut x, mut y) = (0.0f32, 0.0f32, 0.0f32);
    for i in 0..D {
        a += q[i];
        (sin[i], cos[i]) = sin_cos(a);
        x += cos[i];
        y += sin[i];
    }
    (x, y)
}

/// `log p~(q) = −|q|²/2 + log Σ_g exp(−|e(q) − goal_g|² / (2σ²))` and its gradient.
struct Arm;

impl Arm {
    fn eval(q: &SVector<f32, D>, grad: Option<&mut SVector<f32, D>>) -> f32 {
        let inv_var = 1.0 / (LIK_STD * LIK_STD);
        let (mut sin, mut cos) = ([0.0f32; D], [0.0f32; D]);
        let (ex, ey) = forward(q, &mut sin, &mut cos);
        let prior = -0.5 * q.norm_squared();
        let mut l = [0.0f32; 2];
        for (lg, goal) in l.iter_mut().zip(GOALS) {
            let (dx, dy) = (ex - goal[0], ey - goal[1]);
            *lg = -0.5 * (dx * dx + dy * dy) * inv_var;
        }
        let m = l[0].max(l[1]);
        let e = [libm::expf(l[0] - m), libm::expf(l[1] - m)];
        let s = e[0] + e[1];
        let lp = prior + m + libm::logf(s);
        if let Some(g) = grad {
            let (mut gx, mut gy) = (0.0f32, 0.0f32);
            for (eg, goal) in e.iter().zip(GOALS) {
                let resp = eg / s;
                gx += resp * (goal[0] - ex) * inv_var;
                gy += resp * (goal[1] - ey) * inv_var;
            }
            let (mut tail_sin, mut tail_cos) = (0.0f32, 0.0f32);
            for j in (0..D).rev() {
                tail_sin += sin[j];
                tail_cos += cos[j];
                g[j] = -q[j] - gx * tail_sin + gy * tail_cos;
            }
        }
        lp
    }

    /// Index of the goal within `REACH_RADIUS` of the end effector of `q`.
    fn goal_reached(q: &SVector<f32, D>) -> Option<usize> {
        let (mut sin, mut cos) = ([0.0f32; D], [0.0f32; D]);
        let (ex, ey) = forward(q, &mut sin, &mut cos);
        GOALS.iter().position(|g| {
            let (dx, dy) = (ex - g[0], ey - g[1]);
            dx * dx + dy * dy <= REACH_RADIUS * REACH_RADIUS
        })
    }
}

/// SysTick ticks spent in the target, to tell its share of a step from the library's: the
/// stopwatch is restarted only outside a step, so within one the counter does not wrap.
static TARGET_TICKS: AtomicU32 = AtomicU32::new(0);

fn count_target_ticks(start: u32) {
    TARGET_TICKS.fetch_add(start.wrapping_sub(SYST::get_current()), Ordering::Relaxed);
}

impl Target<f32, D> for Arm {
    fn log_density(&mut self, x: &[SVector<f32, D>], lp: &mut [f32]) -> Result<(), TargetError> {
        let start = SYST::get_current();
        for (xi, l) in x.iter().zip(lp) {
            *l = Self::eval(xi, None);
        }
        count_target_ticks(start);
        Ok(())
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f32, D>],
        lp: &mut [f32],
        grad: &mut [SVector<f32, D>],
    ) -> Result<(), TargetError> {
        let start = SYST::get_current();
        for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
            *l = Self::eval(xi, Some(g));
        }
        count_target_ticks(start);
        Ok(())
    }
}

// ---- the optimiser in static storage ---------------------------------------------------------

/// Static storage for one value, handed out once as `&'static mut` (no `static mut`).
struct Slot<T> {
    taken: AtomicBool,
    cell: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the cell is only reached through `take`, which succeeds once.
unsafe impl<T> Sync for Slot<T> {}

impl<T> Slot<T> {
    const fn new() -> Self {
        Self { taken: AtomicBool::new(false), cell: UnsafeCell::new(MaybeUninit::uninit()) }
    }
    // The `&'static mut` comes from the cell, handed out once (the flag), not from `&self`.
    #[allow(clippy::mut_from_ref)]
    fn take(&'static self) -> Option<&'static mut MaybeUninit<T>> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: first and only call: no other reference to the cell exists.
        Some(unsafe { &mut *self.cell.get() })
    }
}

/// The whole optimiser state, `size_of::<Opt>()` bytes of `.bss`.
static OPT: Slot<Opt> = Slot::new();

// ---- stack painting ----------------------------------------------------------------------------

const PAINT: u32 = 0xDEAD_BEEF;

unsafe extern "C" {
    /// End of `.bss`/`.uninit` (start of the free RAM), from cortex-m-rt's link.x.
    static mut __sheap: u32;
    /// Initial stack pointer (top of RAM), from cortex-m-rt's link.x.
    static _stack_start: u32;
}

fn ram_start() -> usize {
    0x2000_0000
}
fn heap_start() -> usize {
    (&raw const __sheap) as usize
}
fn stack_top() -> usize {
    (&raw const _stack_start) as usize
}

/// Fills the free RAM from the end of `.bss` to 256 bytes below the current stack pointer.
#[inline(never)]
fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = heap_start();
    while p < sp - 256 {
        // SAFETY: free RAM between `.bss` and the live stack, word aligned.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Lowest address the stack reached since the last `paint`.
#[inline(never)]
fn low_water() -> usize {
    let mut p = heap_start();
    // SAFETY: reads words of RAM below the stack pointer.
    while p < stack_top() && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    p
}

// ---- time: SysTick as a stopwatch ----------------------------------------------------------

/// SysTick counting down from its full 24-bit range on the core clock, no interrupt.
struct Stopwatch {
    syst: SYST,
}

/// Instructions of the calibration loop.
const CALIBRATION_INSTRUCTIONS: u32 = 2_000_000;

impl Stopwatch {
    const RELOAD: u32 = 0x00FF_FFFF;

    fn new(mut syst: SYST) -> Self {
        syst.disable_interrupt();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(Self::RELOAD);
        syst.clear_current();
        syst.enable_counter();
        Self { syst }
    }

    /// Restarts the count (clearing the current value also clears the wrap flag).
    #[inline(always)]
    fn start(&mut self) {
        self.syst.clear_current();
    }

    /// Ticks since `start`; `None` if the counter wrapped (more than 2²⁴ ticks).
    #[inline(always)]
    fn ticks(&mut self) -> Option<u32> {
        let now = SYST::get_current();
        if self.syst.has_wrapped() { None } else { Some(Self::RELOAD - now + 1) }
    }

    /// Ticks of a loop of exactly `CALIBRATION_INSTRUCTIONS` instructions (`subs` + `bne`).
    #[inline(never)]
    fn calibrate(&mut self) -> u32 {
        self.start();
        // SAFETY: a register-only countdown loop, no memory access.
        unsafe {
            core::arch::asm!("2:", "subs {n}, #1", "bne 2b", n = inout(reg) CALIBRATION_INSTRUCTIONS / 2 => _,
                options(nomem, nostack));
        }
        self.ticks().unwrap_or(u32::MAX)
    }
}

/// Per-step ticks: sum, maximum, number of steps timed and of steps too long to time.
#[derive(Default)]
struct StepTimes {
    sum: u32,
    max: u32,
    steps: u32,
    wrapped: u32,
}

// ---- output helpers (fixed point: keeps core's float formatting out of flash) -----------------

fn print_fixed(v: f32) {
    if !v.is_finite() {
        hprint!("    nan");
        return;
    }
    let m = libm::roundf(v * 1000.0) as i32;
    let sign = if m < 0 { "-" } else { " " };
    let a = m.unsigned_abs();
    hprint!(" {}{}.{:03}", sign, a / 1000, a % 1000);
}

/// After `debug::exit` (which returns only without a debugger/emulator to end the run).
fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

fn fail(what: &str, e: Error) -> ! {
    hprintln!("{}: {}", what, e);
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    match info.location() {
        Some(l) => hprintln!("panic at {}:{}:{}: {}", l.file(), l.line(), l.column(), info.message()),
        None => hprintln!("panic: {}", info.message()),
    }
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

/// Candidates the add heuristic draws from the prior at each call (docs/algorithm.md §10.1 step 2).
const PRIOR_CANDIDATES: usize = 50;

/// SAMTRUX with `N_DES` new samples per component, no reuse, prior candidates for the add
/// heuristic, and the deletion window the history H holds.
///
/// Without prior candidates, new components can only start at stored samples, which all come
/// from the current model: when the 4 initial components all drift to one goal the other is
/// never found (host runs of this task over seeds 1–100: both goals in 63 of 100 at
/// n_des = 20, 49 of 100 at n_des = 12). With 50 prior candidates per add call: 99 and 97.
fn config() -> Config<f32> {
    let mut cfg = Config::<f32>::samtrux();
    cfg.samples.desired_samples_per_component = N_DES;
    cfg.samples.reuse_ratio = 0.0;
    cfg.adapt.max_components = K;
    cfg.adapt.num_prior_samples = PRIOR_CANDIDATES;
    while cfg.adapt.del_iters > 1 && cfg.history_needed() > H {
        cfg.adapt.del_iters -= 1;
    }
    cfg
}

/// Builds the optimiser in its static slot (`Optimizer::new_in`: in place, no state-sized
/// temporary). Its own frame, so that its stack is reused by the fit, not part of `main`'s.
#[inline(never)]
fn init(cfg: &Config<f32>) -> Result<&'static mut Opt, Error> {
    // As planar_arm.c: 4 initial components, means from the N(0, I) prior, std 0.3 (what
    // `Gmm::from_prior` does, built in place: its `Result` would hold a second model copy).
    let mut init_rng = Xoshiro256::seed_from_u64(1 ^ 0xD1B5_4A32_D192_ED03);
    let zero = SVector::<f32, D>::zeros();
    let one = SVector::<f32, D>::repeat(1.0);
    let cov = SMatrix::<f32, D, D>::from_diagonal_element(0.09);
    let mut model = Gmm::<f32, D, K>::new();
    for _ in 0..4 {
        let mut mean = zero;
        fill_standard_normal(&mut init_rng, mean.as_mut_slice());
        model.add_component(1.0, mean, &cov)?;
    }
    let slot = OPT.take().ok_or(Error::InvalidArgument { what: "optimiser slot taken twice" })?;
    let opt = Opt::new_in(slot, cfg, &model, 1)?;
    // The add heuristic also draws candidates from this prior (`num_prior_samples`).
    opt.set_prior(&zero, &one)?;
    opt.set_bounds(&Bounds::new(&[-JOINT_LIMIT; D], &[JOINT_LIMIT; D])?)?;
    Ok(opt)
}

/// The fit: `ROUNDS` rounds of `PER_ROUND` steps (what `run` with
/// `StopRule::iterations(PER_ROUND)` does), each step timed, a progress line after each round.
#[inline(never)]
fn fit(opt: &mut Opt, clock: &mut Stopwatch) -> StepTimes {
    let mut arm = Arm;
    let mut times = StepTimes::default();
    for _ in 0..ROUNDS {
        let mut last = None;
        for _ in 0..PER_ROUND {
            clock.start();
            let rep = opt.step(&mut arm);
            match clock.ticks() {
                Some(t) => {
                    times.sum = times.sum.saturating_add(t);
                    times.max = times.max.max(t);
                    times.steps += 1;
                }
                None => times.wrapped += 1,
            }
            match rep {
                Ok(r) => last = Some(r),
                Err(e) => fail("step", e),
            }
        }
        if let Some(r) = last {
            hprint!(
                "iteration {}: {} evaluations, {} components, ELBO estimate",
                r.iteration,
                r.evaluations,
                r.components
            );
            print_fixed(r.elbo_estimate);
            hprintln!();
        }
    }
    times
}

/// What a controller does with the fitted model: draws 10 joint configurations and prints them
/// with their end effectors, then counts how many of `CHECK_SAMPLES` draws reach each goal;
/// returns those counts, how many of all draws are inside the joint limits, the ticks of the
/// `CHECK_SAMPLES` draws and the ticks of as many draws of `D` standard normals alone.
/// Its own frame (the draw buffers), released before the footprint is printed.
#[inline(never)]
fn use_the_model(opt: &Opt, clock: &mut Stopwatch) -> ([usize; 2], usize, u32, u32) {
    let inside = |x: &SVector<f32, D>| x.iter().all(|v| v.abs() < JOINT_LIMIT);
    let mut rng = Xoshiro256::seed_from_u64(1 ^ 0x5A4D_504C_4531_0001);
    let mut q = [SVector::<f32, D>::zeros(); 10];
    opt.sample(&mut rng, &mut q);
    let mut within = q.iter().filter(|x| inside(x)).count();
    hprintln!("10 joint configurations (rad) and their end effectors:");
    for x in &q {
        hprint!("  [");
        for v in x.iter() {
            print_fixed(*v);
        }
        let (mut sin, mut cos) = ([0.0; D], [0.0; D]);
        let (ex, ey) = forward(x, &mut sin, &mut cos);
        hprint!("] -> (");
        print_fixed(ex);
        print_fixed(ey);
        hprintln!(")");
    }

    let mut near = [0usize; 2];
    let mut ticks = 0u32;
    let mut buf = [SVector::<f32, D>::zeros(); 50];
    for _ in 0..CHECK_SAMPLES / buf.len() {
        clock.start();
        opt.sample(&mut rng, &mut buf);
        ticks += clock.ticks().unwrap_or(0);
        within += buf.iter().filter(|x| inside(x)).count();
        for x in &buf {
            if let Some(g) = Arm::goal_reached(x) {
                near[g] += 1;
            }
        }
    }
    // The Gaussian draws of one sample alone: D standard normals (Box–Muller).
    let mut eps = [0.0f32; D];
    clock.start();
    for _ in 0..CHECK_SAMPLES {
        fill_standard_normal(&mut rng, &mut eps);
    }
    let normal_ticks = clock.ticks().unwrap_or(0);
    if !eps.iter().all(|v| v.is_finite()) {
        hprintln!("non-finite normal draw");
    }
    (near, within, ticks, normal_ticks)
}

// ---- main --------------------------------------------------------------------------------------

#[entry]
fn main() -> ! {
    paint();
    let top = stack_top();
    // Build with GMMVI_FW_SELFTEST_PANIC=1 to check the panic handler (location, EXIT_FAILURE).
    if option_env!("GMMVI_FW_SELFTEST_PANIC").is_some() {
        panic!("self-test panic");
    }

    let Some(peripherals) = cortex_m::Peripherals::take() else {
        hprintln!("core peripherals taken twice");
        debug::exit(debug::EXIT_FAILURE);
        halt()
    };
    let mut clock = Stopwatch::new(peripherals.SYST);
    let cal_ticks = clock.calibrate();

    let cfg = config();
    let opt = match init(&cfg) {
        Ok(o) => o,
        Err(e) => fail("init", e),
    };
    let init_stack = top - low_water();

    hprintln!(
        "gmmvi firmware: D={} K={} S={} G={} H={} n_des={} del_iters={} (f32)",
        D,
        K,
        S,
        G,
        H,
        N_DES,
        cfg.adapt.del_iters
    );

    // Fit; the stack is re-painted so the step's high-water mark is measured alone.
    paint();
    let sp_at_step = cortex_m::register::msp::read() as usize;
    let times = fit(opt, &mut clock);
    let low = low_water();
    let step_stack = sp_at_step - low;
    let run_stack = top - low;

    let (near, within, sample_ticks, normal_ticks) = use_the_model(opt, &mut clock);
    let reached = near.iter().filter(|&&n| n >= MIN_FRACTION_PER_GOAL).count();

    let bss_data = heap_start() - ram_start();
    hprintln!(
        "footprint: state {} B (size_of::<Optimizer<f32, {}, {}, {}, {}, {}, false, 0, 0>>)",
        size_of::<Opt>(),
        D,
        K,
        S,
        G,
        H
    );
    hprintln!("footprint: formula {} B", gmmvi::state_size_formula(size_of::<f32>(), D, K, S, G, H) - BG_SUMS_BYTES);
    hprintln!("footprint: .data+.bss {} B", bss_data);
    hprintln!(
        "footprint: stack peak init {} B, fitting {} B (of which inside run/step {} B)",
        init_stack,
        run_stack,
        step_stack
    );
    hprintln!("footprint: RAM total (.data+.bss+stack peak) {} B", bss_data + init_stack.max(run_stack));
    let per_tick = CALIBRATION_INSTRUCTIONS / cal_ticks.max(1);
    hprintln!("timing: calibration {} instructions in {} ticks", CALIBRATION_INSTRUCTIONS, cal_ticks);
    hprintln!(
        "timing: step mean {} max {} instructions over {} steps ({} too long to time; of which target {})",
        per_tick * (times.sum / times.steps.max(1)),
        per_tick * times.max,
        times.steps,
        times.wrapped,
        per_tick * (TARGET_TICKS.load(Ordering::Relaxed) / times.steps.max(1))
    );
    hprintln!(
        "timing: sample {} instructions (mean of {}; of which {} standard normals {})",
        per_tick * sample_ticks / CHECK_SAMPLES as u32,
        CHECK_SAMPLES,
        D,
        per_tick * normal_ticks / CHECK_SAMPLES as u32
    );
    hprintln!(
        "goals reached: {} of 2 ({} and {} of {} samples within 0.2 of (3, 3) and (3, -3))",
        reached,
        near[0],
        near[1],
        CHECK_SAMPLES
    );
    let drawn = CHECK_SAMPLES + 10;
    hprintln!("joint limits: {} of {} samples within (-1.5, 1.5) rad", within, drawn);
    debug::exit(if reached == 2 && within == drawn { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    halt()
}

//! PlanarRobot1 against the shipped ground truth (docs/targets.md §4.3): the mean of `log p~` over
//! the 10 000 VIPS samples is −0.9716.

mod common;

use common::npz_member;
use gmmvi::Target;
use gmmvi_targets::PlanarRobot;
use nalgebra::SVector;

#[test]
fn planar_robot_1_ground_truth_mean_log_density() {
    let gt = npz_member("groundtruth/planar1_10link_gt_10k.npz", "arr_0");
    assert_eq!(gt.shape, vec![10000, 10]);
    let t = PlanarRobot::one_goal();
    let mut sum = 0.0;
    for i in 0..gt.shape[0] {
        let th: [f64; 10] = gt.row(i).unwrap().try_into().unwrap();
        sum += t.log_density_f64(&th, None);
    }
    let mean = sum / gt.shape[0] as f64;
    eprintln!("PlanarRobot1: mean log p~ over the ground truth = {mean}");
    // docs/targets.md §4.3 quotes four decimals.
    assert!((mean - (-0.9716)).abs() < 5e-5, "mean log p~ {mean} vs -0.9716");

    // The batched trait agrees on the first block.
    let mut t = PlanarRobot::one_goal();
    let x: Vec<SVector<f64, 10>> = (0..64).map(|i| SVector::from_column_slice(gt.row(i).unwrap())).collect();
    let mut lp = vec![0.0; 64];
    t.log_density(&x, &mut lp).unwrap();
    for (i, v) in lp.iter().enumerate() {
        assert_eq!(*v, t.log_density_f64(&x[i].into(), None));
    }
}

//! `Config`: codewords, per-letter defaults of docs/algorithm.md §11, `validate`, and the key=value
//! text form.

use gmmvi::config::{
    ComponentAdaptation, ComponentUpdater, MAX_ADD_THRESHOLDS, NgEstimator, ParseError, SampleSelector, StepSchedule,
    WeightUpdater,
};
use gmmvi::{Config, Error, Real};

const LETTERS: [&str; 7] = ["ZS", "AE", "MP", "IYT", "FDR", "UO", "XGN"];
const G_FIELD: &str = "weight_step.annealing_exponent (required for G: it has no default)";

/// All 432 codewords.
fn all_codewords() -> Vec<String> {
    let mut out = vec![String::new()];
    for letters in LETTERS {
        out = out.iter().flat_map(|p| letters.chars().map(move |c| format!("{p}{c}"))).collect();
    }
    out
}

fn invalid<T: Real>(cfg: &Config<T>) -> &'static str {
    match cfg.validate() {
        Err(Error::InvalidConfig { field }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

fn v<T: Real>(x: f64) -> T {
    T::of(x)
}

// ---------------------------------------------------------------- codewords and defaults

fn codeword_round_trips<T: Real>() {
    let all = all_codewords();
    assert_eq!(all.len(), 432);
    for c in &all {
        let cfg = Config::<T>::from_codeword(c).unwrap();
        assert_eq!(cfg.codeword().as_str(), c);
        let bare = Config::<T>::parse(c);
        let keyed_text = format!("codeword={c}");
        let keyed = Config::<T>::parse(&keyed_text);
        if c.ends_with('G') {
            // G has no default annealing exponent: parse validates, from_codeword does not.
            assert_eq!(bare, Err(ParseError::Invalid { field: G_FIELD }), "{c}");
            assert_eq!(keyed, bare);
            let fixed = Config::<T>::parse(&format!("{c} weight_stepsize.annealing_exponent=0.5")).unwrap();
            let mut want = cfg.clone();
            want.weight_step.annealing_exponent = Some(v(0.5));
            assert_eq!(fixed, want, "{c}");
        } else {
            assert_eq!(bare.as_ref(), Ok(&cfg), "{c}");
            assert_eq!(keyed.as_ref(), Ok(&cfg), "{c}");
        }
    }
}

#[test]
fn codeword_round_trips_f64() {
    codeword_round_trips::<f64>();
}

#[test]
fn codeword_round_trips_f32() {
    codeword_round_trips::<f32>();
}

fn per_letter_defaults<T: Real>() {
    let c = |code: &str| Config::<T>::from_codeword(code).unwrap();
    // Position 1.
    assert_eq!(c("ZAMTRUX").ng.estimator, NgEstimator::More);
    assert_eq!(c("SAMTRUX").ng.estimator, NgEstimator::Stein);
    assert_eq!(c("ZAMTRUX").ng.initial_l2_regularizer, v(1e-12));
    // Position 2.
    assert_eq!(c("SAMTRUX").adapt.mode, ComponentAdaptation::Adaptive);
    assert_eq!(c("SEMTRUX").adapt.mode, ComponentAdaptation::Fixed);
    // Position 3: M reuses 2·n_des, P nothing.
    let m = c("SAMTRUX").samples;
    assert_eq!(
        (m.selector, m.reuse_ratio, m.desired_samples_per_component),
        (SampleSelector::ComponentBased, v(2.0), 100)
    );
    let p = c("SAPTRUX").samples;
    assert_eq!(
        (p.selector, p.reuse_ratio, p.desired_samples_per_component),
        (SampleSelector::MixtureBased, v(0.0), 100)
    );
    // Position 4.
    assert_eq!(c("SAMIRUX").component_update.updater, ComponentUpdater::Direct);
    assert_eq!(c("SAMYRUX").component_update.updater, ComponentUpdater::Iblr);
    assert_eq!(c("SAMTRUX").component_update.updater, ComponentUpdater::TrustRegion);
    // Position 5: F starts at 1e-5, D and R at 1; D anneals with 0.55; R clips to [0.001, 1].
    let f = c("SAMTFUX").component_step;
    assert_eq!((f.schedule, f.initial), (StepSchedule::Fixed, v(1e-5)));
    let d = c("SAMTDUX").component_step;
    assert_eq!((d.schedule, d.initial, d.annealing_exponent), (StepSchedule::Decaying, v(1.0), v(0.55)));
    let r = c("SAMTRUX").component_step;
    assert_eq!(r.schedule, StepSchedule::ImprovementBased);
    assert_eq!([r.initial, r.min, r.max, r.inc_factor, r.dec_factor], [1.0, 0.001, 1.0, 1.15, 0.85].map(v::<T>));
    // Position 6.
    assert_eq!(c("SAMTRUX").weight_update.updater, WeightUpdater::Direct);
    assert_eq!(c("SAMTROX").weight_update.updater, WeightUpdater::TrustRegion);
    assert!(c("SAMTROX").weight_update.self_normalized);
    // Position 7: N clips to [1e-4, 1]; G ships no exponent.
    let x = c("SAMTRUX").weight_step;
    assert_eq!((x.schedule, x.initial), (StepSchedule::Fixed, v(1.0)));
    let g = c("SAMTRUG").weight_step;
    assert_eq!((g.schedule, g.initial, g.annealing_exponent), (StepSchedule::Decaying, v(1.0), None));
    let n = c("SAMTRUN").weight_step;
    assert_eq!(n.schedule, StepSchedule::ImprovementBased);
    assert_eq!([n.initial, n.min, n.max, n.inc_factor, n.dec_factor], [1.0, 1e-4, 1.0, 1.15, 0.85].map(v::<T>));
}

#[test]
fn per_letter_defaults_f64() {
    per_letter_defaults::<f64>();
}

#[test]
fn per_letter_defaults_f32() {
    per_letter_defaults::<f32>();
}

/// The shared YAML values of §11 (ng config, adapter config, n_des, weight-update config).
fn check_common_yaml<T: Real>(c: &Config<T>) {
    assert_eq!(c.temperature, v(1.0));
    assert!(!c.ng.only_use_own_samples);
    assert!(c.ng.self_normalized && c.weight_update.self_normalized);
    assert_eq!(c.samples.desired_samples_per_component, 100);
    assert_eq!(c.weight_step.initial, v(1.0));
    let a = &c.adapt;
    assert_eq!((a.del_iters, a.add_iters, a.max_components), (100, 30, 1000));
    assert_eq!(a.thresholds.as_slice(), [5000.0, 1000.0, 500.0, 200.0, 100.0, 50.0].map(v::<T>).as_slice());
    assert_eq!(a.min_weight_for_del, v(1e-6));
    assert_eq!((a.num_database_samples, a.num_prior_samples), (100_000, 0));
}

fn presets_match_yaml<T: Real>() {
    let pairs: [(Config<T>, &str); 5] = [
        (Config::samtrux(), "SAMTRUX"),
        (Config::samtron(), "SAMTRON"),
        (Config::zamtrux(), "ZAMTRUX"),
        (Config::sepifux(), "SEPIFUX"),
        (Config::sepyfux(), "SEPYFUX"),
    ];
    for (preset, code) in &pairs {
        assert_eq!(preset, &Config::from_codeword(code).unwrap(), "{code}");
        assert_eq!(preset.codeword().as_str(), *code);
        assert_eq!(preset.validate(), Ok(()), "{code}");
        check_common_yaml(preset);
    }
    assert_eq!(Config::<T>::default(), Config::samtrux());

    // SAMTRUX / ZAMTRUX: adaptive, component-based with reuse 2, trust region, R, U, X.
    for c in [Config::<T>::samtrux(), Config::zamtrux()] {
        assert_eq!(c.adapt.mode, ComponentAdaptation::Adaptive);
        assert_eq!(c.samples.reuse_ratio, v(2.0));
        assert_eq!(c.component_update.updater, ComponentUpdater::TrustRegion);
        let s = &c.component_step;
        assert_eq!(s.schedule, StepSchedule::ImprovementBased);
        assert_eq!([s.initial, s.min, s.max, s.inc_factor, s.dec_factor], [1.0, 0.001, 1.0, 1.15, 0.85].map(v::<T>));
        assert_eq!((c.weight_update.updater, c.weight_step.schedule), (WeightUpdater::Direct, StepSchedule::Fixed));
    }
    assert_eq!(Config::<T>::samtrux().ng.estimator, NgEstimator::Stein);
    let z = Config::<T>::zamtrux();
    assert_eq!((z.ng.estimator, z.ng.initial_l2_regularizer), (NgEstimator::More, v(1e-12)));

    // SAMTRON: trust-region weights with improvement_based steps in [1e-4, 1].
    let o = Config::<T>::samtron();
    assert_eq!(o.weight_update.updater, WeightUpdater::TrustRegion);
    let w = &o.weight_step;
    assert_eq!(w.schedule, StepSchedule::ImprovementBased);
    assert_eq!([w.initial, w.min, w.max, w.inc_factor, w.dec_factor], [1.0, 1e-4, 1.0, 1.15, 0.85].map(v::<T>));

    // SEPIFUX / SEPYFUX: fixed components, mixture samples without reuse, F at 1e-5.
    for (c, updater) in
        [(Config::<T>::sepifux(), ComponentUpdater::Direct), (Config::sepyfux(), ComponentUpdater::Iblr)]
    {
        assert_eq!(c.ng.estimator, NgEstimator::Stein);
        assert_eq!(c.adapt.mode, ComponentAdaptation::Fixed);
        assert_eq!((c.samples.selector, c.samples.reuse_ratio), (SampleSelector::MixtureBased, v(0.0)));
        assert_eq!(c.component_update.updater, updater);
        assert_eq!((c.component_step.schedule, c.component_step.initial), (StepSchedule::Fixed, v(1e-5)));
        assert_eq!((c.weight_update.updater, c.weight_step.schedule), (WeightUpdater::Direct, StepSchedule::Fixed));
    }
}

#[test]
fn presets_match_yaml_f64() {
    presets_match_yaml::<f64>();
}

#[test]
fn presets_match_yaml_f32() {
    presets_match_yaml::<f32>();
}

fn g_needs_annealing_exponent<T: Real>() {
    for code in ["SAMTRUG", "ZEPIFOG", "SAMYDOG"] {
        let mut c = Config::<T>::from_codeword(code).unwrap();
        assert_eq!(invalid(&c), G_FIELD);
        c.set("weight_stepsize.annealing_exponent", "0.6").unwrap();
        assert_eq!(c.weight_step.annealing_exponent, Some(v(0.6)));
        assert_eq!(c.validate(), Ok(()));
        c.set("weight_stepsize.annealing_exponent", "none").unwrap();
        assert_eq!(invalid(&c), G_FIELD);
        c.weight_step.annealing_exponent = Some(T::NAN);
        assert_eq!(invalid(&c), G_FIELD);
        assert_eq!(Config::<T>::parse(code), Err(ParseError::Invalid { field: G_FIELD }));
        let ok = Config::<T>::parse(&format!("{code} weight_stepsize.annealing_exponent=0")).unwrap();
        assert_eq!(ok.weight_step.annealing_exponent, Some(v(0.0)));
    }
}

#[test]
fn g_needs_annealing_exponent_f64() {
    g_needs_annealing_exponent::<f64>();
}

#[test]
fn g_needs_annealing_exponent_f32() {
    g_needs_annealing_exponent::<f32>();
}

// ---------------------------------------------------------------- validate, one branch each

/// Every `bad(...)` branch of `validate`: the configuration and the field it must name.
fn invalid_cases<T: Real>() -> Vec<(Config<T>, &'static str)> {
    let base = Config::<T>::samtrux;
    let code = |c: &str| Config::<T>::from_codeword(c).unwrap();
    let with = |mut c: Config<T>, f: &dyn Fn(&mut Config<T>)| {
        f(&mut c);
        c
    };
    vec![
        (with(base(), &|c| c.temperature = T::zero()), "temperature"),
        (with(base(), &|c| c.temperature = T::INFINITY), "temperature"),
        (with(base(), &|c| c.samples.desired_samples_per_component = 0), "samples.desired_samples_per_component"),
        (with(base(), &|c| c.samples.reuse_ratio = v(-0.5)), "samples.reuse_ratio"),
        (with(base(), &|c| c.samples.reuse_ratio = T::NAN), "samples.reuse_ratio"),
        (with(base(), &|c| c.samples.max_database_size = 0), "samples.max_database_size"),
        (with(code("ZAMTRUX"), &|c| c.ng.initial_l2_regularizer = v(-1.0)), "ng.initial_l2_regularizer"),
        (with(base(), &|c| c.component_step.initial = T::zero()), "component_step.initial"),
        (with(base(), &|c| c.component_step.min = T::zero()), "component_step.min/max"),
        (with(base(), &|c| c.component_step.max = T::NAN), "component_step.min/max"),
        (with(base(), &|c| c.component_step.min = v(2.0)), "component_step.min/max"),
        (with(base(), &|c| c.component_step.inc_factor = T::zero()), "component_step.inc_factor/dec_factor"),
        (with(base(), &|c| c.component_step.dec_factor = v(-0.85)), "component_step.inc_factor/dec_factor"),
        (
            with(code("SAMTDUX"), &|c| c.component_step.annealing_exponent = v(-0.1)),
            "component_step.annealing_exponent",
        ),
        (
            with(code("SAMTDUX"), &|c| c.component_step.annealing_exponent = T::INFINITY),
            "component_step.annealing_exponent",
        ),
        // O needs a positive KL bound; U accepts 0 but not a negative step.
        (with(code("SAMTROX"), &|c| c.weight_step.initial = T::zero()), "weight_step.initial"),
        (with(base(), &|c| c.weight_step.initial = v(-1.0)), "weight_step.initial"),
        (with(code("SAMTRON"), &|c| c.weight_step.min = v(2.0)), "weight_step.min/max"),
        (with(code("SAMTRON"), &|c| c.weight_step.max = T::zero()), "weight_step.min/max"),
        (with(code("SAMTRON"), &|c| c.weight_step.inc_factor = T::NAN), "weight_step.inc_factor/dec_factor"),
        (with(code("SAMTRON"), &|c| c.weight_step.dec_factor = T::zero()), "weight_step.inc_factor/dec_factor"),
        (code("SAMTRUG"), G_FIELD),
        (with(base(), &|c| c.adapt.del_iters = 0), "adapt.del_iters"),
        (with(base(), &|c| c.adapt.add_iters = 0), "adapt.add_iters"),
        (with(base(), &|c| c.adapt.max_components = 0), "adapt.max_components"),
        (with(base(), &|c| c.adapt.thresholds.clear()), "adapt.thresholds"),
        (with(base(), &|c| c.adapt.thresholds[2] = T::zero()), "adapt.thresholds"),
        (with(base(), &|c| c.adapt.min_weight_for_del = v(-1e-6)), "adapt.min_weight_for_del"),
    ]
}

fn validate_names_each_field<T: Real>() {
    let cases = invalid_cases::<T>();
    assert_eq!(cases.len(), 28);
    for (cfg, field) in &cases {
        assert_eq!(cfg.validate(), Err(Error::InvalidConfig { field }), "{field}");
    }
    // The inactive options' hyperparameters are not checked.
    let mut f = Config::<T>::samtrux();
    f.component_step.schedule = StepSchedule::Fixed;
    f.component_step.min = v(-1.0);
    f.weight_step.inc_factor = T::NAN;
    assert_eq!(f.validate(), Ok(()));
    // With E the adapter's fields are unused.
    let mut e = Config::<T>::sepifux();
    e.adapt.del_iters = 0;
    e.adapt.thresholds.clear();
    e.adapt.num_prior_samples = 7;
    assert_eq!(e.validate(), Ok(()));
    // U with step 0 (no weight update) is allowed.
    let mut u = Config::<T>::samtrux();
    u.weight_step.initial = T::zero();
    assert_eq!(u.validate(), Ok(()));
}

#[test]
fn validate_names_each_field_f64() {
    validate_names_each_field::<f64>();
}

#[test]
fn validate_names_each_field_f32() {
    validate_names_each_field::<f32>();
}

fn parse_reports_validate_field<T: Real>() {
    let cases = [
        ("temperature=0", "temperature"),
        ("n_des=0", "samples.desired_samples_per_component"),
        ("max_db=0", "samples.max_database_size"),
        ("beta=0", "component_step.initial"),
        ("component_stepsize.min_stepsize=2", "component_step.min/max"),
        ("component_stepsize.stepsize_dec_factor=0", "component_step.inc_factor/dec_factor"),
        ("del=0", "adapt.del_iters"),
        ("add=0", "adapt.add_iters"),
        ("max_k=0", "adapt.max_components"),
        ("thresholds_for_add_heuristic=100;0", "adapt.thresholds"),
    ];
    for (text, field) in cases {
        assert_eq!(Config::<T>::parse(text), Err(ParseError::Invalid { field }), "{text}");
        let e: Error = Config::<T>::parse(text).unwrap_err().into();
        assert_eq!(e, Error::InvalidConfig { field });
    }
    assert_eq!(Config::<T>::parse("SAMTROX beta_w=0"), Err(ParseError::Invalid { field: "weight_step.initial" }));
    assert_eq!(
        Config::<T>::parse("SAMTRON weight_stepsize.max_stepsize=0"),
        Err(ParseError::Invalid { field: "weight_step.min/max" })
    );
    assert_eq!(
        Config::<T>::parse("SAMTRON weight_stepsize.stepsize_inc_factor=0"),
        Err(ParseError::Invalid { field: "weight_step.inc_factor/dec_factor" })
    );
}

#[test]
fn parse_reports_validate_field_f64() {
    parse_reports_validate_field::<f64>();
}

#[test]
fn parse_reports_validate_field_f32() {
    parse_reports_validate_field::<f32>();
}

// ---------------------------------------------------------------- codeword errors

const LENGTH_FIELD: &str = "codeword (must have 7 letters)";
const POSITION_FIELDS: [&str; 7] = [
    "codeword position 1 (Z or S)",
    "codeword position 2 (A or E)",
    "codeword position 3 (M or P)",
    "codeword position 4 (I, Y or T)",
    "codeword position 5 (F, D or R)",
    "codeword position 6 (U or O)",
    "codeword position 7 (X, G or N)",
];

fn codeword_errors<T: Real>() {
    for bad in ["SAMTRU", "SAMTRUXX", "S", "SAMTRÜX"] {
        assert_eq!(Config::<T>::from_codeword(bad), Err(Error::InvalidConfig { field: LENGTH_FIELD }), "{bad}");
        let e = Config::<T>::parse(bad).unwrap_err();
        assert!(matches!(e, ParseError::BadValue { key: "codeword", field: LENGTH_FIELD, .. }), "{bad}: {e:?}");
        assert_eq!(e.value(), Some(bad));
    }
    assert!(matches!(Config::<T>::parse("codeword="), Err(ParseError::BadValue { field: LENGTH_FIELD, .. })));
    for (pos, field) in POSITION_FIELDS.iter().enumerate() {
        // A letter of no position, a letter of another position and a lower-case valid one.
        let valid = LETTERS[pos].as_bytes()[0];
        let other = if pos == 0 { b'A' } else { b'Z' };
        for letter in [b'Q', other, valid.to_ascii_lowercase()] {
            let mut code = *b"SAMTRUX";
            code[pos] = letter;
            let code = std::str::from_utf8(&code).unwrap();
            assert_eq!(Config::<T>::from_codeword(code), Err(Error::InvalidConfig { field }), "{code}");
            let e = Config::<T>::parse(code).unwrap_err();
            assert!(matches!(e, ParseError::BadValue { key: "codeword", field: f, .. } if f == *field), "{e:?}");
            assert_eq!(Error::from(e), Error::InvalidConfig { field });
            assert!(e.to_string().contains(&format!("letter {} must be", pos + 1)), "{e}");
        }
    }
    // The first bad position is named.
    assert_eq!(Config::<T>::from_codeword("QQQQQQQ"), Err(Error::InvalidConfig { field: POSITION_FIELDS[0] }));
    // A codeword after other tokens would silently reset them.
    let e = Config::<T>::parse("del=5 codeword=SEPIFUX").unwrap_err();
    assert!(matches!(e, ParseError::BadValue { key: "codeword", value: "SEPIFUX", .. }), "{e:?}");
    // A bare codeword is only recognised first.
    assert_eq!(Config::<T>::parse("del=5 SAMTRUX"), Err(ParseError::NoEquals { token: "SAMTRUX" }));
}

#[test]
fn codeword_errors_f64() {
    codeword_errors::<f64>();
}

#[test]
fn codeword_errors_f32() {
    codeword_errors::<f32>();
}

// ---------------------------------------------------------------- token errors

fn token_errors<T: Real>() {
    let parse = Config::<T>::parse;
    // Unknown key, also a known suffix under an unknown or wrong block.
    for (text, key) in [
        ("SAMTRUX tempreature=2", "tempreature"),
        ("component_stepsize.foo=1", "component_stepsize.foo"),
        ("weight_stepsize.bar=1", "weight_stepsize.bar"),
        ("initial_stepsize=1", "initial_stepsize"),
        ("=3", ""),
        ("DEL_ITERS=3", "DEL_ITERS"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(matches!(e, ParseError::UnknownKey { key: k, .. } if k == key), "{text}: {e:?}");
        assert_eq!(e.reason(), "unknown key");
        assert_eq!(Error::from(e), Error::InvalidConfig { field: "unknown key" });
    }
    assert_eq!(parse("SAMTRUX max_k=10 foo=bar").unwrap_err().to_string(), r#"unknown key "foo""#);

    // Token without '='.
    let e = parse("SAMTRUX del_iters 10").unwrap_err();
    assert_eq!(e, ParseError::NoEquals { token: "del_iters" });
    assert_eq!(e.key(), "del_iters");
    assert_eq!(e.value(), None);
    assert_eq!(Error::from(e), Error::InvalidConfig { field: "token without '=' (expected key=value)" });
    assert_eq!(e.to_string(), r#"token "del_iters" is not key=value"#);
    // Spaces around '=' split the token; a first token without '=' is read as a codeword.
    assert_eq!(parse("SAMTRUX del_iters = 10"), Err(ParseError::NoEquals { token: "del_iters" }));
    let e = parse("del_iters = 10").unwrap_err();
    assert!(matches!(e, ParseError::BadValue { key: "codeword", value: "del_iters", .. }), "{e:?}");

    let bad = |text: &'static str, key: &str, value: &str, field: &str, reason: &str| {
        let e = parse(text).unwrap_err();
        match e {
            ParseError::BadValue { key: k, value: val, field: f, reason: r } => {
                assert_eq!((k, val, f, r), (key, value, field, reason), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
        assert_eq!(Error::from(e), Error::InvalidConfig { field: e_field(&e) });
    };
    fn e_field(e: &ParseError<'_>) -> &'static str {
        match e {
            ParseError::BadValue { field, .. } => field,
            _ => unreachable!(),
        }
    }
    const INT: &str = "not a non-negative integer";
    const REAL: &str = "not a finite non-negative number";
    const BOOL: &str = "not a boolean (true, false, 1 or 0)";
    // Bad integers: text, fraction, negative, non-finite, too large, empty.
    bad("del_iters=abc", "del_iters", "abc", "adapt.del_iters", INT);
    bad("del=1.5", "del", "1.5", "adapt.del_iters", INT);
    bad("n_des=-1", "n_des", "-1", "samples.desired_samples_per_component", INT);
    bad("max_db=inf", "max_db", "inf", "samples.max_database_size", INT);
    bad("max_db=NaN", "max_db", "NaN", "samples.max_database_size", INT);
    bad("num_database_samples=1e30", "num_database_samples", "1e30", "adapt.num_database_samples", INT);
    bad("num_prior_samples=", "num_prior_samples", "", "adapt.num_prior_samples", INT);
    bad("add_iters=0x10", "add_iters", "0x10", "adapt.add_iters", INT);
    bad("max_components=2.5e0", "max_components", "2.5e0", "adapt.max_components", INT);
    // Bad numbers: text, negative, non-finite.
    bad("temperature=warm", "temperature", "warm", "temperature", REAL);
    bad("reuse=-1", "reuse", "-1", "samples.reuse_ratio", REAL);
    bad("beta=nan", "beta", "nan", "component_step.initial", REAL);
    bad("beta_w=inf", "beta_w", "inf", "weight_step.initial", REAL);
    bad("initial_l2_regularizer=1e-12x", "initial_l2_regularizer", "1e-12x", "ng.initial_l2_regularizer", REAL);
    bad(
        "min_weight_for_del_heuristic=-1e-6",
        "min_weight_for_del_heuristic",
        "-1e-6",
        "adapt.min_weight_for_del",
        REAL,
    );
    bad("component_stepsize.max_stepsize=", "component_stepsize.max_stepsize", "", "component_step.max", REAL);
    bad(
        "weight_stepsize.annealing_exponent=-0.5",
        "weight_stepsize.annealing_exponent",
        "-0.5",
        "weight_step.annealing_exponent",
        REAL,
    );
    bad("thresholds_for_add_heuristic=100;x", "thresholds_for_add_heuristic", "100;x", "adapt.thresholds", REAL);
    bad("thresholds_for_add_heuristic=100;", "thresholds_for_add_heuristic", "100;", "adapt.thresholds", REAL);
    bad("thresholds_for_add_heuristic=", "thresholds_for_add_heuristic", "", "adapt.thresholds", REAL);
    // Bad booleans.
    bad("only_use_own_samples=yes", "only_use_own_samples", "yes", "ng.only_use_own_samples", BOOL);
    bad(
        "use_self_normalized_importance_weights=2",
        "use_self_normalized_importance_weights",
        "2",
        "ng.self_normalized",
        BOOL,
    );
    bad(
        "weight_update.use_self_normalized_importance_weights=TRUE",
        "weight_update.use_self_normalized_importance_weights",
        "TRUE",
        "weight_update.self_normalized",
        BOOL,
    );
    // Bad option names.
    bad("ng_estimator_type=stein", "ng_estimator_type", "stein", "ng.estimator", "not an option of this design choice");
    bad(
        "weight_updater_type=G",
        "weight_updater_type",
        "G",
        "weight_update.updater",
        "not an option of this design choice",
    );
    // Too many thresholds.
    let nine = "thresholds_for_add_heuristic=9;8;7;6;5;4;3;2;1";
    bad(nine, "thresholds_for_add_heuristic", "9;8;7;6;5;4;3;2;1", "adapt.thresholds", "too many values (at most 8)");
    let eight = parse("thresholds_for_add_heuristic=8/7/6/5/4/3/2/1").unwrap();
    assert_eq!(eight.adapt.thresholds.len(), MAX_ADD_THRESHOLDS);
    assert_eq!(eight.adapt.thresholds.as_slice(), [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0].map(v::<T>).as_slice());

    // Display names the value, the key as written and the reason.
    assert_eq!(
        parse("SAMTRUX del_iters=abc").unwrap_err().to_string(),
        r#"bad value "abc" for key "del_iters": not a non-negative integer"#
    );
    assert_eq!(parse("SAMTRUG").unwrap_err().to_string(), format!("invalid configuration: {G_FIELD}"));
}

#[test]
fn token_errors_f64() {
    token_errors::<f64>();
}

#[test]
fn token_errors_f32() {
    token_errors::<f32>();
    // Finite in f64 but not in f32.
    let e = Config::<f32>::parse("temperature=1e300").unwrap_err();
    assert!(matches!(e, ParseError::BadValue { field: "temperature", .. }), "{e:?}");
    assert_eq!(Config::<f64>::parse("temperature=1e300").unwrap().temperature, 1e300);
}

// ---------------------------------------------------------------- successful parses

fn planar_robot_preset<T: Real>() {
    let text = "SAMTRUX del_iters=10 add_iters=1 n_des=100 reuse=0 component_stepsize.initial_stepsize=0.1 \
                beta_w=0.85 max_database_size=2000000";
    assert_eq!(Config::<T>::parse(text), Ok(Config::samtrux_planar_robot_4()));
    // Commas, tabs and newlines separate tokens as well.
    let text = "SAMTRUX,del_iters=10,\tadd_iters=1\nn_des=100 , reuse=0,component_stepsize.initial_stepsize=0.1,\
                beta_w=0.85,max_db=2e6,";
    assert_eq!(Config::<T>::parse(text), Ok(Config::samtrux_planar_robot_4()));
}

#[test]
fn planar_robot_preset_f64() {
    planar_robot_preset::<f64>();
}

#[test]
fn planar_robot_preset_f32() {
    planar_robot_preset::<f32>();
}

fn empty_and_keys_only<T: Real>() {
    for text in ["", "   ", ",,", "\n"] {
        assert_eq!(Config::<T>::parse(text), Ok(Config::samtrux()), "{text:?}");
    }
    // Without a codeword the start is SAMTRUX.
    let c = Config::<T>::parse("temperature=2").unwrap();
    let mut want = Config::<T>::samtrux();
    want.temperature = v(2.0);
    assert_eq!(c, want);
    // Later keys win.
    assert_eq!(Config::<T>::parse("del=5 del_iters=7").unwrap().adapt.del_iters, 7);
}

#[test]
fn empty_and_keys_only_f64() {
    empty_and_keys_only::<f64>();
}

#[test]
fn empty_and_keys_only_f32() {
    empty_and_keys_only::<f32>();
}

/// A hand edit of a configuration.
type Edit<T> = fn(&mut Config<T>);

/// Every key of the table sets exactly its field (compared with a hand-edited copy).
fn every_key_sets_its_field<T: Real>() {
    let cases: Vec<(&str, &str, Edit<T>)> = vec![
        ("temperature", "2.5", |c| c.temperature = T::of(2.5)),
        ("desired_samples_per_component", "250", |c| c.samples.desired_samples_per_component = 250),
        ("ratio_reused_samples_to_desired", "1.61803", |c| c.samples.reuse_ratio = T::of(1.61803)),
        ("max_database_size", "1e7", |c| c.samples.max_database_size = 10_000_000),
        ("only_use_own_samples", "1", |c| c.ng.only_use_own_samples = true),
        ("use_self_normalized_importance_weights", "false", |c| {
            c.ng.self_normalized = false;
            c.weight_update.self_normalized = false;
        }),
        ("ng.use_self_normalized_importance_weights", "0", |c| c.ng.self_normalized = false),
        ("weight_update.use_self_normalized_importance_weights", "False", |c| c.weight_update.self_normalized = false),
        ("initial_l2_regularizer", "1e-9", |c| c.ng.initial_l2_regularizer = T::of(1e-9)),
        ("del_iters", "30", |c| c.adapt.del_iters = 30),
        ("add_iters", "100.0", |c| c.adapt.add_iters = 100),
        ("max_components", "150", |c| c.adapt.max_components = 150),
        ("thresholds_for_add_heuristic", "3000;300/30", |c| {
            c.adapt.thresholds.clear();
            for t in [3000.0, 300.0, 30.0] {
                c.adapt.thresholds.push(T::of(t)).unwrap();
            }
        }),
        ("min_weight_for_del_heuristic", "1e-5", |c| c.adapt.min_weight_for_del = T::of(1e-5)),
        ("num_database_samples", "5000", |c| c.adapt.num_database_samples = 5000),
        ("num_prior_samples", "1000", |c| c.adapt.num_prior_samples = 1000),
        ("component_stepsize.initial_stepsize", "0.01", |c| c.component_step.initial = T::of(0.01)),
        ("component_stepsize.min_stepsize", "5e-5", |c| c.component_step.min = T::of(5e-5)),
        ("component_stepsize.max_stepsize", "0.05", |c| c.component_step.max = T::of(0.05)),
        ("component_stepsize.stepsize_inc_factor", "1.2", |c| c.component_step.inc_factor = T::of(1.2)),
        ("component_stepsize.stepsize_dec_factor", "0.8", |c| c.component_step.dec_factor = T::of(0.8)),
        ("component_stepsize.annealing_exponent", "0.7", |c| c.component_step.annealing_exponent = T::of(0.7)),
        ("weight_stepsize.initial_stepsize", "0.1", |c| c.weight_step.initial = T::of(0.1)),
        ("weight_stepsize.min_stepsize", "1e-5", |c| c.weight_step.min = T::of(1e-5)),
        ("weight_stepsize.max_stepsize", "4", |c| c.weight_step.max = T::of(4.0)),
        ("weight_stepsize.stepsize_inc_factor", "1.1", |c| c.weight_step.inc_factor = T::of(1.1)),
        ("weight_stepsize.stepsize_dec_factor", "0.9", |c| c.weight_step.dec_factor = T::of(0.9)),
        ("weight_stepsize.annealing_exponent", "0.5", |c| c.weight_step.annealing_exponent = Some(T::of(0.5))),
        ("ng_estimator_type", "MORE", |c| c.ng.estimator = NgEstimator::More),
        ("num_component_adapter_type", "fixed", |c| c.adapt.mode = ComponentAdaptation::Fixed),
        ("sample_selector_type", "mixture-based", |c| c.samples.selector = SampleSelector::MixtureBased),
        ("ng_based_updater_type", "iBLR", |c| c.component_update.updater = ComponentUpdater::Iblr),
        ("component_stepsize_adapter_type", "decaying", |c| c.component_step.schedule = StepSchedule::Decaying),
        ("weight_updater_type", "trust-region", |c| c.weight_update.updater = WeightUpdater::TrustRegion),
        ("weight_stepsize_adapter_type", "improvement_based", |c| {
            c.weight_step.schedule = StepSchedule::ImprovementBased
        }),
        // Letters work for the option keys too.
        ("ng_based_updater_type", "I", |c| c.component_update.updater = ComponentUpdater::Direct),
        ("weight_stepsize_adapter_type", "G", |c| c.weight_step.schedule = StepSchedule::Decaying),
        ("component_stepsize_adapter_type", "F", |c| c.component_step.schedule = StepSchedule::Fixed),
        ("weight_stepsize_adapter_type", "improvement-based", |c| {
            c.weight_step.schedule = StepSchedule::ImprovementBased
        }),
        ("codeword", "ZEPIDOG", |c| *c = Config::from_codeword("ZEPIDOG").unwrap()),
    ];
    for (key, value, edit) in cases {
        let mut got = Config::<T>::samtrux();
        got.set(key, value).unwrap_or_else(|e| panic!("{key}={value}: {e}"));
        let mut want = Config::<T>::samtrux();
        edit(&mut want);
        assert_eq!(got, want, "{key}={value}");
        assert_ne!(got, Config::samtrux(), "{key}={value} changed nothing");
    }
}

#[test]
fn every_key_sets_its_field_f64() {
    every_key_sets_its_field::<f64>();
}

#[test]
fn every_key_sets_its_field_f32() {
    every_key_sets_its_field::<f32>();
}

fn aliases_match_keys<T: Real>() {
    for (alias, key, value) in [
        ("n_des", "desired_samples_per_component", "250"),
        ("reuse", "ratio_reused_samples_to_desired", "0.5"),
        ("max_db", "max_database_size", "500000"),
        ("del", "del_iters", "20"),
        ("add", "add_iters", "5"),
        ("max_k", "max_components", "10"),
        ("beta", "component_stepsize.initial_stepsize", "0.2"),
        ("beta_w", "weight_stepsize.initial_stepsize", "0.3"),
    ] {
        let a = Config::<T>::parse(&format!("{alias}={value}")).unwrap();
        let k = Config::<T>::parse(&format!("{key}={value}")).unwrap();
        assert_eq!(a, k, "{alias}");
        assert_ne!(a, Config::samtrux(), "{alias}");
    }
}

#[test]
fn aliases_match_keys_f64() {
    aliases_match_keys::<f64>();
}

#[test]
fn aliases_match_keys_f32() {
    aliases_match_keys::<f32>();
}

fn set_leaves_config_unchanged_on_error<T: Real>() {
    let mut c = Config::<T>::samtron();
    let before = c.clone();
    let attempts = [
        ("thresholds_for_add_heuristic", "1;2;3;4;5;6;7;8;9"),
        ("thresholds_for_add_heuristic", "1;2;x"),
        ("use_self_normalized_importance_weights", "maybe"),
        ("codeword", "SAMTRUQ"),
        ("del_iters", "-1"),
        ("nope", "1"),
        ("weight_stepsize.annealing_exponent", "NaN"),
        ("component_stepsize_adapter_type", "X"),
    ];
    for (key, value) in attempts {
        assert!(c.set(key, value).is_err(), "{key}={value}");
        assert_eq!(c, before, "{key}={value}");
    }
}

#[test]
fn set_leaves_config_unchanged_on_error_f64() {
    set_leaves_config_unchanged_on_error::<f64>();
}

#[test]
fn set_leaves_config_unchanged_on_error_f32() {
    set_leaves_config_unchanged_on_error::<f32>();
}

#[test]
fn integer_keys_accept_exact_floats_only() {
    let int = |s: &str| {
        Config::<f64>::parse(&format!("num_database_samples={s}"))
            .map(|c| c.adapt.num_database_samples)
            .map_err(Error::from)
    };
    assert_eq!(int("1e6"), Ok(1_000_000));
    assert_eq!(int("2.5e3"), Ok(2500));
    assert_eq!(int("0"), Ok(0));
    assert_eq!(int("+7"), Ok(7));
    assert_eq!(int(&usize::MAX.to_string()), Ok(usize::MAX));
    assert!(int("1e-3").is_err());
    assert!(int("-0.0").is_ok_and(|n| n == 0));
    // 2^64 (and above) does not fit; 2^63 does on 64-bit targets.
    assert!(int("18446744073709551616").is_err());
    assert!(int("1.8446744073709552e19").is_err());
    if usize::BITS == 64 {
        assert_eq!(int("9.223372036854775808e18"), Ok(1 << 63));
    }
}

#[test]
fn parse_error_is_small_and_copy() {
    fn assert_copy<T: Copy>() {}
    assert_copy::<ParseError<'static>>();
    let e = Config::<f64>::parse("SAMTRUX n_des=x").unwrap_err();
    let copy = e;
    assert_eq!(copy, e);
    assert_eq!((e.key(), e.value(), e.reason()), ("n_des", Some("x"), "not a non-negative integer"));
    // The error borrows the input: no allocation.
    let input = String::from("SAMTRUX reuse=abc");
    let e = Config::<f32>::parse(&input).unwrap_err();
    assert!(std::ptr::eq(e.value().unwrap().as_ptr(), input[14..].as_ptr()));
    let as_std: &dyn std::error::Error = &e;
    assert!(as_std.to_string().starts_with("bad value"));
}

/// A huge `del_iters` (found by fuzz/config_text) needs more history than any capacity instead
/// of overflowing `2⌊d/3⌋ + d`.
#[test]
fn huge_del_iters_saturate_the_history_need() {
    let c = Config::<f64>::parse("SAMTRUX del_iters=12516769090929542939").unwrap();
    assert_eq!(c.history_needed(), usize::MAX);
    let init = {
        let mut q = gmmvi::Gmm::<f64, 2, 2>::new();
        q.add_component(1.0, nalgebra::SVector::zeros(), &nalgebra::SMatrix::identity()).unwrap();
        q
    };
    let e = gmmvi::Optimizer::<f64, 2, 2, 64, 8, 16>::new(&c, init, 0).unwrap_err();
    assert!(matches!(e, gmmvi::Error::InvalidConfig { field } if field.starts_with("adapt.del_iters")), "{e:?}");
}

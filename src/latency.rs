//! Latency distributions, written in scenarios as one-key maps:
//! `{constant: 2ms}`, `{uniform: {min: 1ms, max: 5ms}}`,
//! `{normal: {mean: 5ms, stddev: 1ms}}`, `{lognormal: {median: 2ms, p99: 20ms}}`,
//! `{exponential: {mean: 3ms}}`. Samples are whole nanoseconds, never negative.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::time::Dur;

/// z for the 99th percentile of the standard normal.
const Z_P99: f64 = 2.326_347_874_040_840_8;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "LatencyRepr")]
pub enum Latency {
    Constant(Dur),
    Uniform { min: Dur, max: Dur },
    /// Truncated at zero.
    Normal { mean: Dur, stddev: Dur },
    /// Parameterised as operators quote latencies: by median and 99th percentile.
    Lognormal { median: Dur, p99: Dur },
    Exponential { mean: Dur },
}

/// Written back in the same one-key form (serde_yaml would tag a derived enum).
impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use std::collections::BTreeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            Latency::Constant(d) => m.serialize_entry("constant", d)?,
            Latency::Uniform { min, max } => m.serialize_entry("uniform", &BTreeMap::from([("min", min), ("max", max)]))?,
            Latency::Normal { mean, stddev } => m.serialize_entry("normal", &BTreeMap::from([("mean", mean), ("stddev", stddev)]))?,
            Latency::Lognormal { median, p99 } => m.serialize_entry("lognormal", &BTreeMap::from([("median", median), ("p99", p99)]))?,
            Latency::Exponential { mean } => m.serialize_entry("exponential", &BTreeMap::from([("mean", mean)]))?,
        }
        m.end()
    }
}

/// The written form: a map with exactly one of these keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyRepr {
    #[serde(default)]
    constant: Option<Dur>,
    #[serde(default)]
    uniform: Option<UniformParams>,
    #[serde(default)]
    normal: Option<NormalParams>,
    #[serde(default)]
    lognormal: Option<LognormalParams>,
    #[serde(default)]
    exponential: Option<ExponentialParams>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UniformParams {
    min: Dur,
    max: Dur,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalParams {
    mean: Dur,
    stddev: Dur,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LognormalParams {
    median: Dur,
    p99: Dur,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExponentialParams {
    mean: Dur,
}

impl TryFrom<LatencyRepr> for Latency {
    type Error = String;
    fn try_from(r: LatencyRepr) -> Result<Latency, String> {
        let mut found = Vec::new();
        if let Some(d) = r.constant {
            found.push(Latency::Constant(d));
        }
        if let Some(p) = r.uniform {
            found.push(Latency::Uniform { min: p.min, max: p.max });
        }
        if let Some(p) = r.normal {
            found.push(Latency::Normal { mean: p.mean, stddev: p.stddev });
        }
        if let Some(p) = r.lognormal {
            found.push(Latency::Lognormal { median: p.median, p99: p.p99 });
        }
        if let Some(p) = r.exponential {
            found.push(Latency::Exponential { mean: p.mean });
        }
        if found.len() != 1 {
            return Err("expected exactly one of constant, uniform, normal, lognormal or exponential".into());
        }
        let l = found.remove(0);
        l.validate()?;
        Ok(l)
    }
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Constant(Dur(Duration::ZERO))
    }
}

fn ns(d: Dur) -> f64 {
    d.0.as_nanos() as f64
}

impl Latency {
    pub fn constant(d: Duration) -> Latency {
        Latency::Constant(Dur(d))
    }

    /// Checks parameters, so sampling never fails at run time.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Latency::Uniform { min, max } if min > max => Err(format!("uniform: min ({}) is above max ({})", crate::time::format_duration(min.0), crate::time::format_duration(max.0))),
            Latency::Lognormal { median, p99 } if median.0.is_zero() || p99 < median => {
                Err("lognormal: median must be above 0 and p99 at least the median".into())
            }
            Latency::Exponential { mean } if mean.0.is_zero() => Err("exponential: mean must be above 0".into()),
            _ => Ok(()),
        }
    }

    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        let v: f64 = match self {
            Latency::Constant(d) => return d.0,
            Latency::Uniform { min, max } => {
                if min == max {
                    return min.0;
                }
                let (lo, hi) = (min.0.as_nanos() as u64, max.0.as_nanos() as u64);
                return Duration::from_nanos(rng.random_range(lo..=hi));
            }
            Latency::Normal { mean, stddev } => match Normal::new(ns(*mean), ns(*stddev)) {
                Ok(d) => d.sample(rng),
                Err(_) => ns(*mean),
            },
            Latency::Lognormal { median, p99 } => {
                let mu = ns(*median).ln();
                let sigma = ((ns(*p99).ln() - mu) / Z_P99).max(0.0);
                match LogNormal::new(mu, sigma) {
                    Ok(d) => d.sample(rng),
                    Err(_) => ns(*median),
                }
            }
            Latency::Exponential { mean } => match Exp::new(1.0 / ns(*mean)) {
                Ok(d) => d.sample(rng),
                Err(_) => ns(*mean),
            },
        };
        Duration::from_nanos(v.max(0.0).min(u64::MAX as f64 / 2.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::stream;

    fn median_and_p99(l: &Latency) -> (f64, f64) {
        let mut rng = stream(1, "t");
        let mut v: Vec<u128> = (0..20_000).map(|_| l.sample(&mut rng).as_nanos()).collect();
        v.sort();
        (v[v.len() / 2] as f64, v[v.len() * 99 / 100] as f64)
    }

    #[test]
    fn parses_every_form() {
        let forms = "- {constant: 2ms}\n- {uniform: {min: 1ms, max: 5ms}}\n- {normal: {mean: 5ms, stddev: 1ms}}\n- {lognormal: {median: 2ms, p99: 20ms}}\n- {exponential: {mean: 3ms}}\n";
        let v: Vec<Latency> = serde_yaml::from_str(forms).unwrap();
        assert_eq!(v.len(), 5);
        assert!(serde_yaml::from_str::<Latency>("{gamma: 1ms}").is_err());
        assert!(serde_yaml::from_str::<Latency>("{uniform: {min: 1ms, max: 2ms, mode: 1ms}}").is_err());
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let (m, p99) = median_and_p99(&Latency::Lognormal { median: Dur(Duration::from_millis(2)), p99: Dur(Duration::from_millis(20)) });
        assert!((m / 2e6 - 1.0).abs() < 0.05, "median {m}");
        assert!((p99 / 20e6 - 1.0).abs() < 0.15, "p99 {p99}");
    }

    #[test]
    fn samples_stay_in_range_and_non_negative() {
        let mut rng = stream(3, "t");
        let u = Latency::Uniform { min: Dur(Duration::from_millis(1)), max: Dur(Duration::from_millis(5)) };
        let n = Latency::Normal { mean: Dur(Duration::from_millis(1)), stddev: Dur(Duration::from_millis(5)) };
        for _ in 0..1000 {
            let s = u.sample(&mut rng);
            assert!(s >= Duration::from_millis(1) && s <= Duration::from_millis(5));
            let _ = n.sample(&mut rng); // truncated at zero by construction (Duration is unsigned)
        }
        let (m, _) = median_and_p99(&Latency::Exponential { mean: Dur(Duration::from_millis(10)) });
        assert!((m / (10e6 * std::f64::consts::LN_2) - 1.0).abs() < 0.05, "exp median {m}");
    }
}

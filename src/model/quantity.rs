//! Resource quantities parsed exactly as `k8s.io/apimachinery/pkg/api/resource`
//! parses them: `<signed number><suffix>` with binary-SI (Ki…Ei), decimal-SI
//! (n, u, m, "", k, M, G, T, P, E) or decimal-exponent (e3, E-2) suffixes.
//! Values are kept as an exact integer count of nano-units; like upstream,
//! anything finer than a nano-unit is rounded up.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::cmp::Ordering;
use std::fmt;

const NANO: i128 = 1_000_000_000;

/// How a quantity was written, so it prints back in the same family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityFormat {
    BinarySI,
    DecimalSI,
    DecimalExponent,
}

#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    format: QuantityFormat,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    #[error("quantity is too large")]
    TooLarge,
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0, format: QuantityFormat::DecimalSI };

    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let (number, suffix) = rest.split_at(num_len);
        let dots = number.bytes().filter(|b| *b == b'.').count();
        if number.is_empty() || dots > 1 || number == "." {
            return Err(QuantityError::Format);
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let (base, exp10, format) = parse_suffix(suffix)?;
        // value = digits * 10^(exp10 - frac_len) * base, in nano-units.
        let digits: String = format!("{int_part}{frac_part}");
        let mantissa: i128 = digits.trim_start_matches('0').parse().unwrap_or(0);
        if digits.len() > 30 && mantissa != 0 {
            return Err(QuantityError::TooLarge);
        }
        let scale = exp10 - frac_part.len() as i32 + 9; // +9: nano-units
        let nanos = scale_by_pow10(mantissa.checked_mul(base).ok_or(QuantityError::TooLarge)?, scale)?;
        Ok(Quantity { nanos: if negative { -nanos } else { nanos }, format })
    }

    pub fn from_milli(milli: i64) -> Quantity {
        Quantity { nanos: i128::from(milli) * 1_000_000, format: QuantityFormat::DecimalSI }
    }
    pub fn from_value(value: i64) -> Quantity {
        Quantity { nanos: i128::from(value) * NANO, format: QuantityFormat::DecimalSI }
    }
    pub fn from_binary_value(value: i64) -> Quantity {
        Quantity { nanos: i128::from(value) * NANO, format: QuantityFormat::BinarySI }
    }

    /// Like upstream `MilliValue()`: rounded up to whole milli-units.
    pub fn milli_value(&self) -> i64 {
        clamp_i64(div_ceil(self.nanos, 1_000_000))
    }
    /// Like upstream `Value()`: rounded up to whole units.
    pub fn value(&self) -> i64 {
        clamp_i64(div_ceil(self.nanos, NANO))
    }
    pub fn nanos(&self) -> i128 {
        self.nanos
    }
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
    pub fn format(&self) -> QuantityFormat {
        self.format
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

/// Multiplies by 10^scale; a negative scale divides, rounding up (away from zero for magnitudes).
fn scale_by_pow10(v: i128, scale: i32) -> Result<i128, QuantityError> {
    if scale >= 0 {
        let mut out = v;
        for _ in 0..scale {
            out = out.checked_mul(10).ok_or(QuantityError::TooLarge)?;
        }
        Ok(out)
    } else {
        let mut div: i128 = 1;
        for _ in 0..(-scale).min(38) {
            div = div.saturating_mul(10);
        }
        Ok(div_ceil(v, div))
    }
}

/// Returns (binary multiplier, decimal exponent, format).
fn parse_suffix(suffix: &str) -> Result<(i128, i32, QuantityFormat), QuantityError> {
    use QuantityFormat::*;
    let binary = |p: u32| Ok((1i128 << (10 * p), 0, BinarySI));
    match suffix {
        "" => Ok((1, 0, DecimalSI)),
        "n" => Ok((1, -9, DecimalSI)),
        "u" => Ok((1, -6, DecimalSI)),
        "m" => Ok((1, -3, DecimalSI)),
        "k" => Ok((1, 3, DecimalSI)),
        "M" => Ok((1, 6, DecimalSI)),
        "G" => Ok((1, 9, DecimalSI)),
        "T" => Ok((1, 12, DecimalSI)),
        "P" => Ok((1, 15, DecimalSI)),
        "E" => Ok((1, 18, DecimalSI)),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E']).ok_or(QuantityError::Suffix)?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
                return Err(QuantityError::Suffix);
            }
            let exp: i32 = rest.parse().map_err(|_| QuantityError::Suffix)?;
            if exp > 40 {
                return Err(QuantityError::TooLarge);
            }
            Ok((1, exp, DecimalExponent))
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, o: Quantity) -> Quantity {
        Quantity { nanos: self.nanos.saturating_add(o.nanos), format: self.format }
    }
}
impl std::ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(self, o: Quantity) -> Quantity {
        Quantity { nanos: self.nanos.saturating_sub(o.nanos), format: self.format }
    }
}

impl fmt::Display for Quantity {
    /// Canonical form in the quantity's own format family, as upstream prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let n = self.nanos.unsigned_abs();
        if n == 0 {
            return f.write_str("0");
        }
        let whole = n % (NANO as u128) == 0;
        if whole && self.format == QuantityFormat::BinarySI {
            let v = n / NANO as u128;
            let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            let mut p = 0;
            while p < 6 && v % (1u128 << (10 * (p + 1))) == 0 {
                p += 1;
            }
            return write!(f, "{sign}{}{}", v >> (10 * p), suffixes[p]);
        }
        // Decimal: find the largest power of 1000 (from nano up) that divides evenly.
        let suffixes = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
        let mut p = 0usize;
        let mut v = n;
        while p < 9 && v % 1000 == 0 {
            v /= 1000;
            p += 1;
        }
        if self.format == QuantityFormat::DecimalExponent && p != 3 {
            let exp = 3 * p as i32 - 9;
            return write!(f, "{sign}{v}e{exp}");
        }
        write!(f, "{sign}{v}{}", suffixes[p])
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity such as 500m, 1Gi, 1.5 or 128974848")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(|e| E::custom(format!("invalid quantity {v:?}: {e}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                // YAML turns `1.5` or `2e3` into a float before we see it; its shortest
                // round-trip text is what the user wrote for every value that matters.
                self.visit_str(&format!("{v}"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_like_upstream() {
        // (input, milli value, value) — from apimachinery quantity_test.go cases.
        let cases: &[(&str, i64, i64)] = &[
            ("500m", 500, 1),
            ("1Gi", 1_073_741_824_000, 1_073_741_824),
            ("1.5", 1500, 2),
            ("2e3", 2_000_000, 2000),
            ("128974848", 128_974_848_000, 128_974_848),
            ("129e6", 129_000_000_000, 129_000_000),
            ("123Mi", 128_974_848_000, 128_974_848),
            ("1.5Gi", 1_610_612_736_000, 1_610_612_736),
            ("100n", 1, 1),
            ("1u", 1, 1),
            ("0", 0, 0),
            ("-5", -5000, -5),
            ("+3k", 3_000_000, 3000),
            (".5", 500, 1),
            ("5.", 5000, 5),
            ("1E3", 1_000_000, 1000),
            ("1e-3", 1, 1),
            ("12M", 12_000_000_000, 12_000_000),
        ];
        for (text, milli, value) in cases {
            let v = q(text);
            assert_eq!(v.milli_value(), *milli, "{text} milli");
            assert_eq!(v.value(), *value, "{text} value");
        }
    }

    #[test]
    fn rejects_what_upstream_rejects() {
        for bad in ["", "x", "1K", "1.2.3", "1ki", "Gi", "1e", "1 Gi", "1Gib", "--1", ".", "1e+"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn equal_values_compare_equal_across_formats() {
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1k"), q("1e3"));
        assert!(q("999m") < q("1"));
    }

    #[test]
    fn prints_canonically() {
        for (input, out) in [("500m", "500m"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("2000", "2k"), ("1.5", "1500m"), ("2e3", "2e3"), ("0", "0"), ("1536Mi", "1536Mi")] {
            assert_eq!(q(input).to_string(), out, "{input}");
        }
    }

    #[test]
    fn yaml_numbers_parse_as_quantities() {
        let v: Vec<Quantity> = serde_yaml::from_str("[1.5, 2e3, 4, \"500m\"]").unwrap();
        assert_eq!(v[0].milli_value(), 1500);
        assert_eq!(v[1].value(), 2000);
        assert_eq!(v[2].value(), 4);
        assert_eq!(v[3].milli_value(), 500);
    }
}

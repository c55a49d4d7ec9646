//! Python's spelling of numbers and strings. Input: floats, strings and number literals.
//! Output: the text Python's `repr`/`str` give (`1e-05`, `'it\'s'` quoting rules), and
//! numbers parsed as Python's `int(s, base)`/`float(s)` and rounded as `round(x, n)`.
//! Guarantee: these match CPython 3 on every finite and non-finite input, never panic, and
//! report overflow of the 64-bit range instead of wrapping.

/// Python `repr(x)` (= `str(x)`) of a float: shortest round-trip digits, scientific notation
/// when the decimal exponent is below -4 or at least 16.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits as `d.ddde-5`.
    let sci = format!("{:e}", x.abs());
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return format!("{x:?}");
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return format!("{x:?}");
    };
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        let body = if exp >= 0 {
            let int_len = exp.unsigned_abs() as usize + 1;
            if digits.len() <= int_len {
                format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
            format!("0.{zeros}{digits}")
        };
        format!("{sign}{body}")
    } else {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.unsigned_abs())
    }
}

/// The quote Python's `repr` uses for a string with this content.
pub(crate) fn quote_for(content: &str) -> char {
    if content.contains('\'') && !content.contains('"') {
        '"'
    } else {
        '\''
    }
}

/// Appends `s` escaped as inside a Python string literal quoted with `quote`.
pub(crate) fn escape_into(out: &mut String, s: &str, quote: char) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let code = u32::from(c);
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
}

/// Python `repr(s)` of a string.
pub(crate) fn str_repr(s: &str) -> String {
    let quote = quote_for(s);
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    escape_into(&mut out, s, quote);
    out.push(quote);
    out
}

/// Python's `str.isprintable` for one character: control, format, separator (other than
/// the ASCII space), private-use and non-character code points are not printable.
fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    !(c.is_control()
        || matches!(
            code,
            0xA0 | 0xAD
                | 0x600..=0x605
                | 0x61C
                | 0x6DD
                | 0x70F
                | 0x1680
                | 0x180E
                | 0x2000..=0x200F
                | 0x2028..=0x202F
                | 0x205F..=0x206F
                | 0x3000
                | 0xD800..=0xF8FF
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0xFFFE..=0xFFFF
                | 0xE0001..=0xE007F
                | 0xF0000..
        ))
}

/// Why a string is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumError {
    Invalid,
    /// A valid integer outside the 64-bit range.
    Overflow,
}

/// Python `int(s, base)` for `base` in 2..=36: surrounding whitespace, a sign, the base's
/// `0x`/`0o`/`0b` prefix and single underscores between digits are accepted.
pub(crate) fn parse_int(s: &str, base: u32) -> Result<i64, NumError> {
    let t = s.trim();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let prefix = match base {
        16 => Some(["0x", "0X"]),
        8 => Some(["0o", "0O"]),
        2 => Some(["0b", "0B"]),
        _ => None,
    };
    let mut digits = t;
    let mut after_prefix = false;
    if let Some(p) = prefix.and_then(|ps| ps.into_iter().find(|p| t.starts_with(p))) {
        digits = &t[p.len()..];
        after_prefix = true;
    }
    if after_prefix && let Some(rest) = digits.strip_prefix('_') {
        digits = rest;
    }
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return Err(NumError::Invalid);
    }
    let mut value: i128 = 0;
    let mut previous_underscore = false;
    let mut overflow = false;
    for c in digits.chars() {
        if c == '_' {
            if previous_underscore {
                return Err(NumError::Invalid);
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        let digit = c.to_digit(base).ok_or(NumError::Invalid)?;
        if !overflow {
            match value
                .checked_mul(i128::from(base))
                .and_then(|v| v.checked_add(i128::from(digit)))
            {
                Some(v) if v <= i128::from(u64::MAX) => value = v,
                _ => overflow = true,
            }
        }
    }
    if overflow {
        return Err(NumError::Overflow);
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).map_err(|_| NumError::Overflow)
}

/// Python `float(s)`: surrounding whitespace, `inf`/`infinity`/`nan` in any case, and
/// single underscores between digits are accepted.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let bytes = t.as_bytes();
    let mut cleaned = String::with_capacity(t.len());
    for (i, c) in t.char_indices() {
        if c == '_' {
            let before = i.checked_sub(1).and_then(|j| bytes.get(j));
            let after = bytes.get(i + 1);
            if !before.is_some_and(u8::is_ascii_digit) || !after.is_some_and(u8::is_ascii_digit) {
                return None;
            }
        } else {
            cleaned.push(c);
        }
    }
    cleaned.parse::<f64>().ok()
}

/// Python `round(x, ndigits)` for a float: the exact value rounded, ties to even.
pub(crate) fn round_float(x: f64, ndigits: i64) -> f64 {
    if !x.is_finite() || x == 0.0 || ndigits > 323 {
        return x;
    }
    if ndigits >= 0 {
        // Rust's fixed-precision formatting rounds the exact binary value, ties to even.
        let precision = usize::try_from(ndigits).unwrap_or(0);
        return format!("{x:.precision$}").parse().unwrap_or(x);
    }
    if ndigits < -308 {
        return 0.0_f64.copysign(x);
    }
    let scale = 10f64.powi(i32::try_from(-ndigits).unwrap_or(308));
    let rounded = (x / scale).round_ties_even() * scale;
    if rounded == 0.0 {
        0.0_f64.copysign(x)
    } else {
        rounded
    }
}

/// Python `round(n, ndigits)` for an int and negative `ndigits`: ties to even. `None` when
/// the result leaves the 64-bit range.
pub(crate) fn round_int(n: i64, ndigits: i64) -> Option<i64> {
    if ndigits >= 0 {
        return Some(n);
    }
    let exponent = u32::try_from(ndigits.unsigned_abs()).ok()?;
    let Some(scale) = 10i128.checked_pow(exponent) else {
        return Some(0);
    };
    let n = i128::from(n);
    let remainder = n.rem_euclid(scale);
    let base = n - remainder;
    let up = remainder * 2 > scale || (remainder * 2 == scale && (base / scale) % 2 != 0);
    i64::try_from(if up { base + scale } else { base }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_spelled_as_python_repr() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (123456789.0, "123456789.0"),
            (0.01, "0.01"),
            (2.5, "2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.0 / 3.0, "0.6666666666666666"),
            (0.1 + 0.2, "0.30000000000000004"),
            (100.0, "100.0"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (1e-100, "1e-100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (3.25159, "3.25159"),
            (-2.5e-7, "-2.5e-07"),
            (12345.678, "12345.678"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(*x), *want, "repr of {x:e}");
        }
    }

    #[test]
    fn strings_are_quoted_as_python_repr() {
        let cases = [
            ("abc", "'abc'"),
            ("it's", "\"it's\""),
            ("say \"hi\"", "'say \"hi\"'"),
            ("both ' and \"", "'both \\' and \"'"),
            ("a\\b", "'a\\\\b'"),
            ("line\nnext\ttab\rcr", "'line\\nnext\\ttab\\rcr'"),
            ("\u{1}\u{7f}", "'\\x01\\x7f'"),
            ("\u{a0}", "'\\xa0'"),
            ("\u{2028}", "'\\u2028'"),
            ("héllo ✓", "'héllo ✓'"),
            ("", "''"),
        ];
        for (s, want) in cases {
            assert_eq!(str_repr(s), want, "repr of {s:?}");
        }
    }

    #[test]
    fn ints_parse_as_python_int() {
        assert_eq!(parse_int(" 42 ", 10), Ok(42));
        assert_eq!(parse_int("-1_000", 10), Ok(-1000));
        assert_eq!(parse_int("+7", 10), Ok(7));
        assert_eq!(parse_int("0x1F", 16), Ok(31));
        assert_eq!(parse_int("ff", 16), Ok(255));
        assert_eq!(parse_int("0b101", 2), Ok(5));
        assert_eq!(parse_int("1__0", 10), Err(NumError::Invalid));
        assert_eq!(parse_int("3.5", 10), Err(NumError::Invalid));
        assert_eq!(parse_int("", 10), Err(NumError::Invalid));
        assert_eq!(
            parse_int("-9223372036854775808", 10),
            Ok(i64::MIN),
            "the most negative int"
        );
        assert_eq!(
            parse_int("9223372036854775808", 10),
            Err(NumError::Overflow)
        );
        assert_eq!(parse_int(&"9".repeat(100), 10), Err(NumError::Overflow));
    }

    #[test]
    fn floats_parse_as_python_float() {
        assert_eq!(parse_float(" 1.5 "), Some(1.5));
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float("nan").is_some_and(f64::is_nan));
        assert_eq!(parse_float("_1"), None);
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn rounding_is_python_round() {
        assert_eq!(round_float(0.5, 0), 0.0);
        assert_eq!(round_float(1.5, 0), 2.0);
        assert_eq!(round_float(2.5, 0), 2.0);
        assert_eq!(round_float(2.675, 2), 2.67);
        assert_eq!(round_float(0.125, 2), 0.12);
        assert_eq!(round_float(1234.5, -2), 1200.0);
        assert_eq!(round_float(1250.0, -2), 1200.0);
        assert_eq!(round_float(1350.0, -2), 1400.0);
        assert_eq!(round_float(1e300, 400), 1e300);
        assert_eq!(round_int(1250, -2), Some(1200));
        assert_eq!(round_int(1350, -2), Some(1400));
        assert_eq!(round_int(-1251, -2), Some(-1300));
        assert_eq!(round_int(5, 0), Some(5));
        assert_eq!(round_int(i64::MAX, -19), None);
        assert_eq!(round_int(7, -40), Some(0));
    }
}

//! Durations as users write them. Input: a YAML integer or string (`90`, `90s`, `115m`,
//! `1h30m`, `1d`, or Slurm's `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`).
//! Output: whole seconds for timeouts, or a Slurm `--time` value. Guarantee: anything else
//! is an error message saying which forms are accepted; no overflow.

const FORMS: &str =
    "use seconds (90), units (90s, 115m, 2h, 1h30m, 1d) or Slurm's HH:MM:SS, MM:SS, D-HH:MM";

/// Seconds of a duration string. A bare number is seconds.
pub fn seconds(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a duration: {FORMS}");
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    if text.contains(':') || text.contains('-') {
        return slurm_seconds(text).ok_or_else(bad);
    }
    unit_seconds(text).ok_or_else(bad)
}

/// `1h30m`, `90s`, `2d12h`: numbers each followed by one of d, h, m, s, in that order.
fn unit_seconds(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_rank = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let (rank, scale) = match c {
            'd' => (1, 86_400),
            'h' => (2, 3_600),
            'm' => (3, 60),
            's' => (4, 1),
            _ => return None,
        };
        if number.is_empty() || rank <= last_rank {
            return None;
        }
        last_rank = rank;
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(scale)?)?;
        number.clear();
    }
    number.is_empty().then_some(total)
}

/// Slurm's forms: `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
fn slurm_seconds(text: &str) -> Option<u64> {
    let (days, rest) = match text.split_once('-') {
        Some((d, rest)) => (Some(d.parse::<u64>().ok()?), rest),
        None => (None, text),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = match (days, parts.as_slice()) {
        (None, [m, s]) => (0, *m, *s),
        (_, [h, m, s]) => (*h, *m, *s),
        (Some(_), [h]) => (*h, 0, 0),
        (Some(_), [h, m]) => (*h, *m, 0),
        _ => return None,
    };
    days.unwrap_or(0)
        .checked_mul(86_400)?
        .checked_add(h.checked_mul(3_600)?)?
        .checked_add(m.checked_mul(60)?)?
        .checked_add(s)
}

/// The `#SBATCH --time` value for a backend's `time`. Slurm's own forms pass through; a
/// bare number is minutes (Slurm's convention); unit forms become `D-HH:MM:SS`.
pub fn slurm_time(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("infinite") {
        return Ok(text.to_string());
    }
    if text.parse::<u64>().is_ok() {
        return Ok(text.to_string());
    }
    if text.contains(':') || text.contains('-') {
        return slurm_seconds(text)
            .map(|_| text.to_string())
            .ok_or_else(|| format!("`{text}` is not a Slurm time: {FORMS}"));
    }
    let total =
        unit_seconds(text).ok_or_else(|| format!("`{text}` is not a Slurm time: {FORMS}"))?;
    let (days, rest) = (total / 86_400, total % 86_400);
    let hms = format!(
        "{:02}:{:02}:{:02}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    );
    Ok(if days > 0 {
        format!("{days}-{hms}")
    } else {
        hms
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accepts_every_documented_form() {
        for (text, want) in [
            ("90", 90),
            ("90s", 90),
            ("115m", 6_900),
            ("2h", 7_200),
            ("1h30m", 5_400),
            ("1d", 86_400),
            ("1d2h3m4s", 93_784),
            ("05:30", 330),
            ("01:00:00", 3_600),
            ("2-12", 216_000),
            ("1-00:30", 88_200),
            ("1-00:00:10", 86_410),
        ] {
            assert_eq!(seconds(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn seconds_rejects_malformed_text() {
        for text in [
            "",
            "m",
            "1x",
            "1m1h",
            "1:2:3:4",
            "a:b",
            "-1",
            "99999999999999999999d",
        ] {
            assert!(seconds(text).is_err(), "{text}");
        }
    }

    #[test]
    fn slurm_time_keeps_slurm_forms_and_converts_units() {
        assert_eq!(slurm_time("120").as_deref(), Ok("120"));
        assert_eq!(slurm_time("00:10:00").as_deref(), Ok("00:10:00"));
        assert_eq!(slurm_time("2h").as_deref(), Ok("02:00:00"));
        assert_eq!(slurm_time("1d1h").as_deref(), Ok("1-01:00:00"));
        assert!(slurm_time("soon").is_err());
    }
}

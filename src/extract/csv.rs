//! `extract --to csv`: a frame as `DataFrame.to_csv()` writes it with its defaults.
//!
//! The index first (its name, or its levels' names, in the header), then the columns;
//! `,` between fields, `\n` after each row, fields quoted only when they hold `,`, `"` or a
//! line break (Python's `csv.QUOTE_MINIMAL`, with `""` for a quote). Missing values of every
//! dtype are empty fields. Floats print as numpy prints them (the shortest repr, `1e+20`),
//! bools as `True`/`False`, datetimes as ISO dates when every value is midnight, else with
//! the seconds and as many fraction digits as the finest value needs, timedeltas as
//! pandas 3's `Timedelta` (`1 days 02:00:00`), float32 as numpy 2 prints it (`1e+06`).
//! The format is pandas 3's (older pandas printed float32 and timedeltas differently).
//! Datetimes with a time zone print as local wall time and offset
//! (`2021-03-14 03:00:00-04:00`): fixed offsets as they are, IANA zones through the time
//! zone database bundled with `jiff` (so every machine prints the same); a zone name not in
//! it is refused, naming the column.

// Arithmetic here is on i128 widened from i64 ticks (and unit factors of at most 10^9),
// which cannot overflow; no length or count from the input is computed.

use std::fmt::Write as _;
use std::io::Write;

use super::frame::{Frame, FrameIndex, Num, Scalar, Unit, Values, NAT};

type Res<T> = std::result::Result<T, String>;

/// Appends a field, quoted when the csv module would quote it.
fn field(text: &str, out: &mut String) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// A float as numpy's `str` (Python's repr, without the `np.float64(…)`).
fn float(x: f64, out: &mut String) {
    crate::pytext::repr_float(x, out);
}

/// A float32 as numpy 2 prints it (`str(np.float32(x))`): the shortest digits that read
/// back as the same float32, positional when `1e-4 <= |x| < 1e6` (`2.5`, `100.0`), else
/// scientific with at least two exponent digits (`1e+06`, `9e-05`).
fn float32(x: f32, out: &mut String) {
    if !x.is_finite() {
        crate::pytext::repr_float(f64::from(x), out);
        return;
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let abs = f64::from(x.abs());
    out.push_str(sign);
    if abs == 0.0 || (1e-4..1e6).contains(&abs) {
        // Positional: the point after digit `exp + 1`.
        let point = exp.saturating_add(1);
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..point.unsigned_abs() {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            let (int, frac) = if digits.len() > point {
                digits.split_at(point)
            } else {
                (digits.as_str(), "")
            };
            out.push_str(int);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push('.');
            out.push_str(if frac.is_empty() { "0" } else { frac });
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
}

/// Formats every value of a column (a missing value is an empty string).
pub(crate) fn format_values(label: &str, values: &Values) -> Res<Vec<String>> {
    let n = values.len();
    let mut out = Vec::with_capacity(n);
    match values {
        Values::Num { data, mask } => {
            for i in 0..n {
                let mut s = String::new();
                if mask.as_ref().is_none_or(|m| m.get(i) != Some(&true)) {
                    num(data, i, &mut s);
                }
                out.push(s);
            }
        }
        Values::Bool { data, mask } => {
            for (i, &b) in data.iter().enumerate() {
                let missing = mask.as_ref().is_some_and(|m| m.get(i) == Some(&true));
                out.push(match (missing, b) {
                    (true, _) => String::new(),
                    (false, true) => "True".into(),
                    (false, false) => "False".into(),
                });
            }
        }
        Values::Str { data, .. } => out.extend(data.iter().map(|s| s.clone().unwrap_or_default())),
        Values::Objects(items) => out.extend(items.iter().map(|s| match s {
            Scalar::Float(x) if x.is_nan() => String::new(),
            other => other.label_text(),
        })),
        Values::Datetime { data, unit, tz } => {
            let zone = match tz.as_deref() {
                None => None,
                Some(name) => {
                    Some(Zone::named(name).map_err(|e| format!("column {label:?}: {e}"))?)
                }
            };
            out = datetimes(data, *unit, zone.as_ref())
                .map_err(|e| format!("column {label:?}: {e}"))?;
        }
        Values::Timedelta { data, unit } => out = timedeltas(data, *unit)?,
        Values::Category {
            codes, categories, ..
        } => {
            let names = format_values(label, categories)?;
            for i in 0..n {
                let code = codes.int_at(i).unwrap_or(-1);
                let text = usize::try_from(code).ok().and_then(|c| names.get(c));
                out.push(text.cloned().unwrap_or_default());
            }
        }
    }
    Ok(out)
}

fn num(data: &Num, i: usize, out: &mut String) {
    match data {
        Num::F64(v) => match v.get(i) {
            Some(x) if x.is_nan() => {}
            Some(&x) => float(x, out),
            None => {}
        },
        Num::F32(v) => match v.get(i) {
            Some(x) if x.is_nan() => {}
            Some(&x) => float32(x, out),
            None => {}
        },
        other => {
            if let Some(v) = other.int_at(i) {
                let _ = write!(out, "{v}");
            }
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse; inputs are bounded by i64 ticks / 86400.
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The time zone of a tz-aware column: what its UTC offset is at each instant.
enum Zone {
    /// A fixed offset in seconds (`UTC`, `+05:30`).
    Fixed(i32),
    /// An IANA zone, from the database bundled with jiff.
    Tz(jiff::tz::TimeZone),
}

impl Zone {
    /// The zone of a column's time zone name (as the frame reader gives it: `UTC`, an IANA
    /// name, or a fixed offset `+05:30`).
    fn named(name: &str) -> Res<Zone> {
        if name == "UTC" {
            return Ok(Zone::Fixed(0));
        }
        if let Some(seconds) = fixed_offset(name) {
            return Ok(Zone::Fixed(seconds));
        }
        jiff::tz::TimeZone::get(name).map(Zone::Tz).map_err(|_| {
            format!(
                "time zone {name:?} is not in the IANA time zone database bundled with \
                 pklinspect, so its local times cannot be printed (--to parquet keeps them)"
            )
        })
    }

    /// The offset from UTC, in seconds, at `seconds` (and `nanos`) since the epoch.
    fn offset_at(&self, seconds: i64, nanos: i32) -> Res<i32> {
        match self {
            Zone::Fixed(offset) => Ok(*offset),
            Zone::Tz(tz) => {
                let at = jiff::Timestamp::new(seconds, nanos).map_err(|_| {
                    format!(
                        "{seconds} s since 1970 is outside the years the time zone database covers"
                    )
                })?;
                Ok(tz.to_offset(at).seconds())
            }
        }
    }
}

/// `+05:30` / `-05:00`: the seconds of a fixed offset.
fn fixed_offset(name: &str) -> Option<i32> {
    let (sign, rest) = match name.as_bytes().first()? {
        b'+' => (1, name.get(1..)?),
        b'-' => (-1, name.get(1..)?),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let all_digits = |t: &str| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// `+05:30`: an offset as pandas prints it after a local time.
fn push_offset(seconds: i32, out: &mut String) {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    let _ = write!(out, "{sign}{:02}:{:02}", minutes / 60, minutes % 60);
    if !seconds.unsigned_abs().is_multiple_of(60) {
        let _ = write!(out, ":{:02}", seconds.unsigned_abs() % 60);
    }
}

/// Datetimes as pandas prints them: ISO dates when every value is midnight, else seconds
/// with the fraction digits the finest value needs; with a time zone, the local time and
/// its offset (`2021-03-14 03:00:00-04:00`).
fn datetimes(data: &[i64], unit: Unit, zone: Option<&Zone>) -> Res<Vec<String>> {
    let per_second = unit.per_second();
    let per_day = per_second
        .checked_mul(86_400)
        .ok_or("datetime unit overflows")?;
    let present = || data.iter().copied().filter(|&v| v != NAT);
    let dates_only = zone.is_none() && present().all(|v| v.rem_euclid(per_day) == 0);
    // Fraction digits: ns 9, us 6, ms 3, as pandas' get_resolution finds them.
    let frac_digits = present()
        .map(|v| {
            let ns = i128::from(v.rem_euclid(per_second)) * 1_000_000_000 / i128::from(per_second);
            match ns {
                0 => 0,
                n if n % 1_000_000 == 0 => 3,
                n if n % 1_000 == 0 => 6,
                _ => 9,
            }
        })
        .max()
        .unwrap_or(0);
    let mut out = Vec::with_capacity(data.len());
    for &v in data {
        if v == NAT {
            out.push(String::new());
            continue;
        }
        // The local time: the instant moved by the zone's offset then.
        let offset = match zone {
            None => None,
            Some(zone) => {
                let nanos =
                    i128::from(v.rem_euclid(per_second)) * 1_000_000_000 / i128::from(per_second);
                Some(zone.offset_at(v.div_euclid(per_second), nanos as i32)?)
            }
        };
        let v = match offset {
            None => v,
            Some(o) => i64::from(o)
                .checked_mul(per_second)
                .and_then(|shift| v.checked_add(shift))
                .ok_or("a local time past the range of 64-bit datetimes")?,
        };
        let (days, rem) = (v.div_euclid(per_day), v.rem_euclid(per_day));
        let (y, m, d) = civil(days);
        let mut s = String::new();
        let _ = write!(s, "{y:04}-{m:02}-{d:02}");
        if !dates_only {
            let secs = rem / per_second;
            let _ = write!(
                s,
                " {:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
            let ns = i128::from(rem % per_second) * 1_000_000_000 / i128::from(per_second);
            match frac_digits {
                3 => {
                    let _ = write!(s, ".{:03}", ns / 1_000_000);
                }
                6 => {
                    let _ = write!(s, ".{:06}", ns / 1_000);
                }
                9 => {
                    let _ = write!(s, ".{ns:09}");
                }
                _ => {}
            }
            if let Some(offset) = offset {
                push_offset(offset, &mut s);
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// How a timedelta column prints (pandas 3's `get_format_timedelta64`): whole days only,
/// whole seconds, microseconds (6 fraction digits for every value) or nanoseconds (9).
#[derive(Clone, Copy, PartialEq, Eq)]
enum TdFormat {
    Days,
    Seconds,
    Micros,
    Nanos,
}

/// Timedeltas as pandas 3 prints them: `Timedelta._repr_base` with one format for the
/// column; days are floored, so a negative value prints `-1 days +23:59:59`.
fn timedeltas(data: &[i64], unit: Unit) -> Res<Vec<String>> {
    let per_second = i128::from(unit.per_second());
    let to_ns = 1_000_000_000 / per_second;
    let day = 86_400 * 1_000_000_000i128;
    let present = || data.iter().filter(|&&v| v != NAT).map(|&v| i128::from(v));
    let format = if present().all(|v| (v * to_ns).rem_euclid(day) == 0) {
        TdFormat::Days
    } else if present().all(|v| v.rem_euclid(per_second) == 0) {
        TdFormat::Seconds
    } else if unit == Unit::Ns && present().any(|v| v.rem_euclid(1000) != 0) {
        TdFormat::Nanos
    } else {
        TdFormat::Micros
    };
    let mut out = Vec::with_capacity(data.len());
    for &v in data {
        if v == NAT {
            out.push(String::new());
            continue;
        }
        let total = i128::from(v) * to_ns;
        let (days, rem) = (total.div_euclid(day), total.rem_euclid(day));
        let mut text = format!("{days} days");
        if format != TdFormat::Days {
            let (h, m, s) = (
                rem / 3_600_000_000_000,
                rem / 60_000_000_000 % 60,
                rem / 1_000_000_000 % 60,
            );
            text.push_str(if total < 0 { " +" } else { " " });
            let _ = write!(text, "{h:02}:{m:02}:{s:02}");
            let frac = rem % 1_000_000_000;
            match format {
                TdFormat::Micros => {
                    let _ = write!(text, ".{:06}", frac / 1000);
                }
                TdFormat::Nanos => {
                    let _ = write!(text, ".{frac:09}");
                }
                _ => {}
            }
        }
        out.push(text);
    }
    Ok(out)
}

/// A column's formatted values packed in one buffer: a `String` per value would cost
/// more than the text (a million rows of eight columns is eight million allocations).
struct Cells {
    text: String,
    ends: Vec<usize>,
}

impl Cells {
    fn with_capacity(n: usize) -> Cells {
        Cells {
            text: String::new(),
            ends: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, value: &str) {
        self.text.push_str(value);
        self.ends.push(self.text.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }
}

impl From<Vec<String>> for Cells {
    fn from(values: Vec<String>) -> Cells {
        let mut cells = Cells::with_capacity(values.len());
        for v in values {
            cells.push(&v);
        }
        cells
    }
}

/// The index's header names and formatted values, one list per level.
fn index_columns(index: &FrameIndex, rows: usize) -> Res<Vec<(String, Cells)>> {
    match index {
        FrameIndex::Range {
            start, step, name, ..
        } => {
            let mut values = Cells::with_capacity(rows);
            let mut v = i128::from(*start);
            for _ in 0..rows {
                values.push(&v.to_string());
                v = v.saturating_add(i128::from(*step));
            }
            Ok(vec![(name.label_text(), values)])
        }
        FrameIndex::Levels(levels) => levels
            .iter()
            .map(|(name, values)| {
                let label = name.label_text();
                let cells = format_values(&format!("index {label}"), values)?;
                Ok((label, Cells::from(cells)))
            })
            .collect(),
    }
}

/// Writes `frame` as `to_csv()` does.
pub(crate) fn write_csv(frame: &Frame, out: &mut dyn Write) -> Res<()> {
    let index = index_columns(&frame.index, frame.rows)?;
    let mut columns = Vec::with_capacity(frame.columns.len());
    for (label, values) in &frame.columns {
        let text = label.label_text();
        columns.push(Cells::from(format_values(&text, values)?));
    }
    let mut line = String::new();
    let header: Vec<String> = index
        .iter()
        .map(|(name, _)| name.clone())
        .chain(frame.columns.iter().map(|(l, _)| l.label_text()))
        .collect();
    row(
        &header.iter().map(String::as_str).collect::<Vec<_>>(),
        &mut line,
    );
    let io = |e: std::io::Error| format!("cannot write the CSV: {e}");
    out.write_all(line.as_bytes()).map_err(io)?;
    let mut fields: Vec<&str> = Vec::with_capacity(header.len());
    for r in 0..frame.rows {
        fields.clear();
        fields.extend(index.iter().map(|(_, values)| values.get(r)));
        fields.extend(columns.iter().map(|values| values.get(r)));
        line.clear();
        row(&fields, &mut line);
        out.write_all(line.as_bytes()).map_err(io)?;
    }
    Ok(())
}

/// One CSV line: a lone empty field is written `""`, as the csv module does.
fn row(fields: &[&str], line: &mut String) {
    if let [only] = fields {
        if only.is_empty() {
            line.push_str("\"\"\n");
            return;
        }
    }
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        field(f, line);
    }
    line.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(values: &[f32]) -> Vec<String> {
        values
            .iter()
            .map(|&x| {
                let mut s = String::new();
                float32(x, &mut s);
                s
            })
            .collect()
    }

    #[test]
    fn float32_prints_as_numpy_2() {
        // str(np.float32(x)) under numpy 2.4, as pandas 3's to_csv writes them.
        assert_eq!(
            f32s(&[
                0.1,
                2.5,
                100.0,
                999_999.5,
                1e6,
                1e10,
                123_456_789.0,
                1e-4,
                1.5e-4,
                9e-5,
                -1e7,
                0.0
            ]),
            [
                "0.1",
                "2.5",
                "100.0",
                "999999.5",
                "1e+06",
                "1e+10",
                "1.2345679e+08",
                "1e-04",
                "0.00015",
                "9e-05",
                "-1e+07",
                "0.0"
            ]
        );
    }

    #[test]
    fn timedeltas_print_as_pandas_3() {
        let s = 1_000_000_000i64;
        let got = timedeltas(&[s * 3 / 2, -s, NAT, 86_400 * s, 0], Unit::Ns).unwrap();
        assert_eq!(
            got,
            [
                "0 days 00:00:01.500000",
                "-1 days +23:59:59.000000",
                "",
                "1 days 00:00:00.000000",
                "0 days 00:00:00.000000"
            ]
        );
        assert_eq!(
            timedeltas(&[86_400, -86_400], Unit::S).unwrap(),
            ["1 days", "-1 days"]
        );
        assert_eq!(
            timedeltas(&[3_600, -1], Unit::S).unwrap(),
            ["0 days 01:00:00", "-1 days +23:59:59"]
        );
        assert_eq!(
            timedeltas(&[1, 2_000], Unit::Ns).unwrap()[0],
            "0 days 00:00:00.000000001"
        );
        assert!(timedeltas(&[i64::MAX, i64::MIN + 1], Unit::S).is_ok());
    }

    #[test]
    fn datetimes_print_dates_only_when_all_are_midnight() {
        let day = 86_400i64;
        assert_eq!(
            datetimes(&[0, day, NAT], Unit::S, None).unwrap(),
            ["1970-01-01", "1970-01-02", ""]
        );
        assert_eq!(
            datetimes(&[-1, 951_782_400 * 1000 + 5], Unit::Ms, None).unwrap(),
            ["1969-12-31 23:59:59.999", "2000-02-29 00:00:00.005"]
        );
        assert_eq!(
            datetimes(&[0], Unit::Ns, Some(&Zone::Fixed(0))).unwrap(),
            ["1970-01-01 00:00:00+00:00"]
        );
        assert!(datetimes(&[i64::MAX, i64::MIN + 1], Unit::S, None).is_ok());
    }

    #[test]
    fn zoned_datetimes_print_local_time_and_offset() {
        let ny = Zone::named("America/New_York").unwrap();
        // 2021-03-14 06:30Z and 07:00Z: either side of the spring change.
        let (a, b) = (1_615_703_400i64, 1_615_705_200i64);
        assert_eq!(
            datetimes(&[a, b, NAT], Unit::S, Some(&ny)).unwrap(),
            ["2021-03-14 01:30:00-05:00", "2021-03-14 03:00:00-04:00", ""]
        );
        let fixed = Zone::named("+05:30").unwrap();
        assert_eq!(
            datetimes(&[a * 1000 + 250], Unit::Ms, Some(&fixed)).unwrap(),
            ["2021-03-14 12:00:00.250+05:30"]
        );
        assert!(matches!(Zone::named("-03:00"), Ok(Zone::Fixed(-10_800))));
        assert!(Zone::named("Mars/Olympus_Mons")
            .err()
            .is_some_and(|e| e.contains("Mars/Olympus_Mons")));
        assert!(Zone::named("+24:00").is_err());
        // Past what the database covers, or past i64 once shifted: errors, not panics.
        assert!(datetimes(&[i64::MAX, i64::MIN + 1], Unit::S, Some(&ny)).is_err());
        assert!(datetimes(&[i64::MAX], Unit::Ns, Some(&fixed)).is_err());
    }
}

//! Small pieces of terminal output for the client commands: UTC times, tables, JSON values in a
//! line.

use serde_json::Value;

/// A server timestamp (`2026-03-01T12:00:00.123456Z`) as a date and time in UTC to the second:
/// `2026-03-01 12:00:00 UTC`. Anything else is shown as it is.
pub fn utc(value: &Value) -> String {
    match value.as_str() {
        Some(t) if t.len() >= 19 && t.as_bytes()[10] == b'T' && t.ends_with('Z') => {
            format!("{} {} UTC", &t[..10], &t[11..19])
        }
        Some(t) => t.to_owned(),
        None if value.is_null() => "-".to_owned(),
        None => value.to_string(),
    }
}

/// A string field of a JSON object, or `""`.
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

/// A JSON value on one line; a missing one is shown as `(absent)`.
pub fn inline(value: Option<&Value>) -> String {
    match value {
        Some(v) => v.to_string(),
        None => "(absent)".to_owned(),
    }
}

/// Columns padded to the widest cell, two spaces apart; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_shown_in_utc_to_the_second() {
        assert_eq!(
            utc(&json!("2026-03-01T12:34:56.123456Z")),
            "2026-03-01 12:34:56 UTC"
        );
        assert_eq!(utc(&Value::Null), "-");
    }

    #[test]
    fn tables_line_up() {
        let t = table(
            &["ID", "NAME"],
            &[vec!["admin".into(), "Administrator".into()]],
        );
        assert_eq!(t, "ID     NAME\nadmin  Administrator\n");
    }
}

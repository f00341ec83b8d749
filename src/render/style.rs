//! The ANSI styles shared by the text outputs (`explain`'s and `lint`'s), so a severity
//! looks the same in both; and [`shown`], which every file-chosen string passes through on
//! its way to a person's terminal or a CI log.

use std::borrow::Cow;

use anstyle::{AnsiColor, Style};

use crate::rules::Severity;

/// Emphasis: file names, headings.
pub const BOLD: Style = Style::new().bold();
/// De-emphasis: object paths, details.
pub const DIM: Style = Style::new().dimmed();

/// A severity's style: bold red for errors, yellow for warnings, cyan for the rest.
pub fn severity_style(severity: Severity) -> Style {
    let colour = match severity {
        Severity::Error => AnsiColor::Red,
        Severity::Warning => AnsiColor::Yellow,
        _ => AnsiColor::Cyan,
    };
    Style::new().bold().fg_color(Some(colour.into()))
}

/// Whether a character acts on a terminal or a line-based reader instead of being shown:
/// C0 and C1 controls and DEL (line breaks, `\r`, the ESC that starts ANSI and OSC
/// sequences), the Unicode line and paragraph separators, and the invisible format
/// characters that reorder or hide text (bidi embeddings, overrides and isolates, marks,
/// zero-width characters, the byte order mark).
pub fn acts(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A file-chosen string as a person should see it: each character that [`acts`] written
/// as a Python escape (`\n`, `\r`, `\t`, `\x1b`, `\u202e`), everything else unchanged. So a
/// name cannot start a line of its own (a fake verdict, or a `::error::` workflow command
/// in a CI log), move the cursor, retitle the terminal or reverse the text after it.
pub fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().saturating_add(8));
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if acts(c) && (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if acts(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`shown`], for a string that starts a line: a leading `::` (after any spaces) is written
/// `\x3a:`, because GitHub's runner takes every log line that starts so (leading spaces
/// trimmed) for a workflow command (`::error::`, `::add-mask::`, `::stop-commands::`), and
/// a file, module or column may be named `::error::x`.
pub fn shown_at_line_start(s: &str) -> Cow<'_, str> {
    let text = shown(s);
    let body = text.trim_start();
    if !body.starts_with("::") {
        return text;
    }
    let indent = text.len().saturating_sub(body.len());
    let lead = text.get(..indent).unwrap_or_default();
    Cow::Owned(format!("{lead}\\x3a{}", body.get(1..).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_what_acts_and_keeps_the_rest() {
        assert_eq!(shown("layer.weight é 名"), "layer.weight é 名");
        assert_eq!(
            shown("a\nb\rc\td\x1b]0;t\x07e\u{202e}f\u{85}g\u{2028}"),
            "a\\nb\\rc\\td\\x1b]0;t\\x07e\\u202ef\\x85g\\u2028"
        );
    }

    #[test]
    fn a_line_never_starts_with_a_workflow_command() {
        assert_eq!(shown_at_line_start("::error::x"), "\\x3a:error::x");
        assert_eq!(shown_at_line_start("  ::a"), "  \\x3a:a");
        assert_eq!(shown_at_line_start("a::b"), "a::b");
        assert_eq!(shown_at_line_start(":a"), ":a");
    }
}

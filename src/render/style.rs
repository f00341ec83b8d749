//! The ANSI styles shared by the text outputs (`explain`'s and `lint`'s), so a severity
//! looks the same in both.

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

//! `explain` as text: the verdict first, then imports by category with their reasons and
//! paths, arrays, findings, and what to do to make the file portable.
//!
//! Styles are written as ANSI escapes; the binary's output stream removes them when the
//! output is not a terminal or `NO_COLOR` is set. Every string the file chose (names,
//! paths, values, messages that quote them, the file name) goes through
//! [`shown`](crate::render::style::shown): a control character, escape sequence or bidi
//! override in a name is written as an escape, so a name cannot forge a line, move the
//! cursor or reorder what follows it.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::classify::{Category, Verdict};
use crate::inspect::shape_text;
use crate::render::preview::Preview;
use crate::render::style::{severity_style, shown, shown_at_line_start, BOLD, DIM};
use crate::report::{ArrayReport, Report};

fn verdict_style(verdict: Verdict) -> Style {
    let colour = match verdict {
        Verdict::Portable => AnsiColor::Green,
        Verdict::NeedsLibraries => AnsiColor::Yellow,
        Verdict::NonPortable => AnsiColor::Magenta,
        Verdict::Unvetted | Verdict::Dangerous => AnsiColor::Red,
    };
    Style::new().bold().fg_color(Some(colour.into()))
}

fn category_style(category: Category) -> Style {
    let colour = match category {
        Category::Plain | Category::Array => AnsiColor::Green,
        Category::Library | Category::Unknown => AnsiColor::Yellow,
        Category::RuntimeHandle | Category::UserDefined => AnsiColor::Magenta,
        Category::CodeExec => AnsiColor::Red,
    };
    Style::new().fg_color(Some(colour.into()))
}

/// `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

/// What each verdict means, in one line.
fn verdict_meaning(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Portable => "only Python and numpy/torch array data: loads anywhere",
        Verdict::NeedsLibraries => {
            "loads where the libraries it names are installed (in compatible versions)"
        }
        Verdict::NonPortable => {
            "needs code from the script that wrote it, or a live runtime: will not load elsewhere"
        }
        Verdict::Unvetted => {
            "calls code pklinspect has not vetted when loaded: treat it as unsafe until vetted"
        }
        Verdict::Dangerous => "runs code when loaded: do not load it",
    }
}

/// For a torch file that torch.load's default (`weights_only=True`, torch 2.6+) refuses,
/// although nothing in it is below `needs-libraries`: the headline says so.
fn torch_default_caveat(report: &Report) -> &'static str {
    let torch_file = matches!(report.container.as_str(), "torch-zip" | "torch-legacy");
    let refused = report.loaders.iter().any(|l| {
        l.loader == "torch.load(weights_only=True)" && l.loads != crate::loaders::Loads::Yes
    });
    // torch writes files it cannot read back (legacy float8 or uint16 storages): both
    // modes fail, so "loads anywhere" needs the stronger caveat.
    let none_loads = !report.loaders.is_empty()
        && report
            .loaders
            .iter()
            .all(|l| l.loads == crate::loaders::Loads::No);
    if report.verdict > Verdict::NeedsLibraries {
        ""
    } else if torch_file && none_loads {
        " (but torch.load fails on it with either weights_only: see Loaders)"
    } else if torch_file && refused {
        " (but torch.load's default, weights_only=True, refuses it: see Loaders)"
    } else {
        ""
    }
}

/// What the part of a stream read before it fails holds, for verdicts below `unvetted`.
fn partial_meaning(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Portable => "holds only Python and array data",
        Verdict::NeedsLibraries => "names the libraries listed below",
        Verdict::NonPortable => "needs code from a script or a live runtime (below)",
        Verdict::Unvetted | Verdict::Dangerous => "runs code (below)",
    }
}

const CATEGORY_ORDER: [Category; 7] = [
    Category::CodeExec,
    Category::UserDefined,
    Category::RuntimeHandle,
    Category::Unknown,
    Category::Library,
    Category::Array,
    Category::Plain,
];

fn paths_text(paths: &[String], uses: u64) -> String {
    if paths.is_empty() {
        return "not reachable from the root object".to_string();
    }
    const SHOWN: usize = 4;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .map(|p| shown(p).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    let more = uses.saturating_sub(SHOWN.min(paths.len()) as u64);
    if more > 0 {
        text.push_str(&format!(" and {} more", thousands(more)));
    }
    text
}

fn array_line(out: &mut impl Write, a: &ArrayReport, width: usize) -> io::Result<()> {
    let size = match a.nbytes {
        Some(n) => format!("{} bytes", thousands(n)),
        None => "objects".to_string(),
    };
    let order = if a.fortran_order {
        ", Fortran order"
    } else {
        ""
    };
    // The dtype a loader hands back; the stored one (after the offset) when loading swaps
    // the bytes.
    let loaded = a.info.loaded_dtype();
    let mut line = format!(
        "  {:width$}  {:<12} {:<10} {size}{order}",
        shown_at_line_start(&a.path),
        shape_text(&a.shape),
        loaded.str()
    );
    if let Some(member) = &a.member {
        line.push_str(&format!(" in {}", shown(member)));
    }
    if let Some(offset) = a.offset {
        line.push_str(&format!(" at offset {offset}"));
    }
    if loaded != a.info.dtype {
        line.push_str(&format!(", stored {}", a.dtype.str()));
    }
    writeln!(out, "{line}")?;
    if let Some(reason) = &a.unavailable {
        writeln!(
            out,
            "  {:width$}  {DIM}not extractable: {}{DIM:#}",
            "",
            shown(reason)
        )?;
    }
    Ok(())
}

/// Writes the text explanation of `report`.
pub fn write_report(out: &mut impl Write, report: &Report) -> io::Result<()> {
    write_explain(out, report, None)
}

/// [`write_report`] with a preview of the object tree (a `Contents` section after the
/// summary line).
pub fn write_explain(
    out: &mut impl Write,
    report: &Report,
    preview: Option<&Preview>,
) -> io::Result<()> {
    write_summary(out, report)?;
    write_loaders(out, report)?;
    if let Some(preview) = preview {
        write_preview(out, preview)?;
    }
    write_details(out, report)
}

/// One line per loader (`docs/loaders.md`): ✓ loads (with what it needs), or ✗ what it
/// refuses and the fix.
fn write_loaders(out: &mut impl Write, report: &Report) -> io::Result<()> {
    use crate::loaders::Loads;
    if report.loaders.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{BOLD}Loaders{BOLD:#}")?;
    for l in &report.loaders {
        let refused: Vec<&str> = l
            .refusals
            .iter()
            .filter(|r| r.kind != "stop")
            .map(|r| r.global.as_str())
            .collect();
        let text = match (l.loads, refused.len()) {
            (Loads::No, _) | (Loads::OnlyWith, 0) | (Loads::Yes, _) => l.summary.clone(),
            (Loads::OnlyWith, n) => {
                let shown = refused.get(..n.min(3)).unwrap_or_default().join(", ");
                let more = n.saturating_sub(3);
                let more = if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                };
                format!("refuses {shown}{more}")
            }
        };
        // A loader that loads a file which runs code (or calls unvetted code) does so.
        let runs_code = report.verdict >= Verdict::Unvetted;
        let (mark, style) = match (l.loads, refused.is_empty()) {
            (Loads::No, _) | (Loads::OnlyWith, false) => ("✗", verdict_style(Verdict::Dangerous)),
            _ if runs_code => ("⚠", verdict_style(Verdict::Dangerous)),
            _ => ("✓", verdict_style(Verdict::Portable)),
        };
        write!(
            out,
            "  {style}{mark}{style:#} {}: {}",
            l.loader,
            shown(&text)
        )?;
        match &l.fix {
            Some(fix) => writeln!(out, " — fix: {}", shown(fix))?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}

/// The unit a length counts for a type.
fn length_noun(kind: &str, len: u64) -> &'static str {
    let one = len == 1;
    match kind {
        "dict" if one => "key",
        "dict" => "keys",
        "str" if one => "char",
        "str" => "chars",
        "bytes" | "bytearray" if one => "byte",
        "bytes" | "bytearray" => "bytes",
        _ if one => "item",
        _ => "items",
    }
}

/// The `Contents` section: one line per object, indented by depth, labelled by the step
/// from its parent (the root by its full path).
fn write_preview(out: &mut impl Write, preview: &Preview) -> io::Result<()> {
    if preview.lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{BOLD}Contents{BOLD:#}")?;
    // The open containers from the root to here: path, and children not listed (written
    // as `… N more` after the last child that is).
    let mut open: Vec<(&str, u64)> = Vec::new();
    for line in &preview.lines {
        close_to(out, &mut open, line.depth)?;
        let label = match open.last() {
            Some((parent, _)) => line.path.strip_prefix(parent).unwrap_or(&line.path),
            None => &line.path,
        };
        let indent = "  ".repeat(line.depth.saturating_add(1));
        let mut text = format!(
            "{indent}{}  {DIM}{}{DIM:#}",
            shown_at_line_start(label),
            shown(&line.kind)
        );
        if let Some(len) = line.len {
            text.push_str(&format!(
                ", {} {}",
                thousands(len),
                length_noun(&line.kind, len)
            ));
        }
        if !line.value.is_empty() {
            text.push_str(&format!(": {}", shown(&line.value)));
        }
        writeln!(out, "{text}")?;
        open.push((&line.path, line.more));
    }
    close_to(out, &mut open, 0)?;
    if preview.truncated {
        writeln!(
            out,
            "  … (more with --depth, or the whole tree with `extract --to json`)"
        )?;
    }
    Ok(())
}

/// Closes the open containers at `depth` and below, writing their `… N more` lines.
fn close_to(out: &mut impl Write, open: &mut Vec<(&str, u64)>, depth: usize) -> io::Result<()> {
    while open.len() > depth {
        let Some((_, more)) = open.pop() else { break };
        if more > 0 {
            let indent = "  ".repeat(open.len().saturating_add(2));
            writeln!(out, "{indent}… {} more", thousands(more))?;
        }
    }
    Ok(())
}

fn write_summary(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let v = verdict_style(report.verdict);
    match &report.stopped {
        // Code that ran before the failure is what matters: the verdict says it.
        Some(e) if report.verdict < Verdict::Unvetted => writeln!(
            out,
            "{BOLD}{}{BOLD:#}: {v}{}{v:#} as far as it reads — does not load: the loader stops \
             at offset {} ({}); what comes before {}",
            shown_at_line_start(&report.file),
            report.verdict.as_str(),
            e.offset(),
            shown(e.message()),
            partial_meaning(report.verdict)
        )?,
        _ => writeln!(
            out,
            "{BOLD}{}{BOLD:#}: {v}{}{v:#} — {}{}",
            shown_at_line_start(&report.file),
            report.verdict.as_str(),
            verdict_meaning(report.verdict),
            torch_default_caveat(report)
        )?,
    }
    let opcodes: u64 = report.pickles.iter().map(|p| p.opcode_count).sum();
    let mut protocols: Vec<u8> = report.pickles.iter().map(|p| p.protocol).collect();
    protocols.sort_unstable();
    protocols.dedup();
    let container = match &report.compression {
        Some(c) => format!("{} ({c}-compressed)", report.container),
        None => report.container.clone(),
    };
    let mut facts = vec![container, format!("{} bytes", thousands(report.size))];
    if !report.pickles.is_empty() {
        facts.push(plural(report.pickles.len(), "pickle", "pickles"));
        facts.push(format!(
            "protocol {}",
            protocols
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        facts.push(plural(opcodes as usize, "opcode", "opcodes"));
    }
    let mut members: Vec<&str> = report
        .pickles
        .iter()
        .filter_map(|p| p.member.as_deref())
        .collect();
    members.dedup();
    if !members.is_empty() {
        facts.push(format!("pickle in {}", shown(&members.join(", "))));
    }
    writeln!(out, "  {}", facts.join(", "))
}

fn write_details(out: &mut impl Write, report: &Report) -> io::Result<()> {
    // Imports grouped by category, worst first; the same global in several pickles once.
    // A set, not a scan of the list: a file can name a hundred thousand distinct globals.
    let mut imports: Vec<&crate::report::ImportReport> = Vec::new();
    let mut listed = std::collections::HashSet::new();
    for pickle in &report.pickles {
        for import in &pickle.imports {
            if listed.insert((import.module.as_str(), import.name.as_str())) {
                imports.push(import);
            }
        }
    }
    if !imports.is_empty() {
        writeln!(out, "\n{BOLD}Imports{BOLD:#}")?;
        for category in CATEGORY_ORDER {
            let group: Vec<_> = imports.iter().filter(|i| i.category == category).collect();
            if group.is_empty() {
                continue;
            }
            let style = category_style(category);
            writeln!(out, "  {style}{}{style:#}", category.as_str())?;
            for import in group {
                writeln!(
                    out,
                    "    {BOLD}{}.{}{BOLD:#}  {DIM}offset {}{DIM:#}",
                    shown_at_line_start(&import.module),
                    shown(&import.name),
                    import.offset
                )?;
                writeln!(out, "      {}", shown(&import_reason(report, import)))?;
                // What would run, for a reviewer: the call with its literal arguments.
                if let (Some(call), Category::CodeExec) = (&import.call, import.category) {
                    writeln!(out, "      called as {}", shown(call))?;
                }
                writeln!(
                    out,
                    "      used at {}",
                    paths_text(&import.paths, import.uses)
                )?;
            }
        }
    }

    write_frames(out, report)?;
    let arrays: Vec<&ArrayReport> = report
        .arrays
        .iter()
        .chain(report.pickles.iter().flat_map(|p| p.arrays.iter()))
        .filter(|a| !in_frame(report, &a.path))
        .collect();
    if !arrays.is_empty() {
        writeln!(out, "\n{BOLD}Arrays{BOLD:#}")?;
        let width = arrays
            .iter()
            .map(|a| a.path.chars().count())
            .max()
            .unwrap_or(0)
            .min(48);
        const SHOWN: usize = 50;
        for a in arrays.iter().take(SHOWN) {
            array_line(out, a, width)?;
        }
        if arrays.len() > SHOWN {
            writeln!(
                out,
                "  … and {} more (see --format json)",
                arrays.len() - SHOWN
            )?;
        }
    }

    if !report.findings.is_empty() {
        writeln!(out, "\n{BOLD}Findings{BOLD:#}")?;
        for f in &report.findings {
            let s = severity_style(f.severity);
            let mut place = Vec::new();
            if let Some(member) = &f.member {
                place.push(shown(member).into_owned());
            }
            if let Some(offset) = f.offset {
                place.push(format!("offset {offset}"));
            }
            if let Some(path) = &f.path {
                place.push(shown(path).into_owned());
            }
            writeln!(
                out,
                "  {s}{}[{}]{s:#} {}{}",
                f.severity,
                f.rule.id(),
                shown(&f.message),
                if place.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", place.join(", "))
                }
            )?;
        }
    }

    write_writer(out, report)?;
    write_portability(out, report)
}

/// The table's reason for an import; for a library whose version the file records (or
/// whose generation its names give), what is known instead of "a compatible version".
fn import_reason<'r>(
    report: &Report,
    import: &'r crate::report::ImportReport,
) -> std::borrow::Cow<'r, str> {
    const VAGUE: &str = ", in a version compatible with the one that wrote the file";
    let Some(head) = import.reason.strip_suffix(VAGUE) else {
        return import.reason.as_str().into();
    };
    const SEE: &str = "see \"Written by / will fail where\"";
    if let Some(v) = report.writer.recorded_for_module(&import.module) {
        let at = v.paths.first().map(String::as_str).unwrap_or("$");
        return format!(
            "needs {} {} installed, the version that wrote the file (at {at}); {SEE}",
            v.package, v.version
        )
        .into();
    }
    let top = import.module.split('.').next().unwrap_or("");
    if let Some(hit) = report.writer.generation(top) {
        if !hit.fact.requires.is_empty() {
            let written_by = hit.fact.written_by;
            let short = written_by.split(" (").next().unwrap_or(written_by);
            return format!("{head}; its names were written by {short}: {SEE}").into();
        }
    }
    import.reason.as_str().into()
}

/// "Written by / will fail where": recorded versions, the generations and removals the
/// names give, and the minimum Python.
fn write_writer(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let w = &report.writer;
    if w.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{BOLD}Written by / will fail where{BOLD:#}")?;
    if let (Some(text), Some(t)) = (w.torch_zip_text(), &w.torch_zip) {
        writeln!(
            out,
            "  a torch.save zip archive: {text} (offset {}); torch.save writes version 3, \
             which torch 2.15 reads (versions 1 to 10); torch.load takes a missing byteorder \
             record as little-endian",
            t.offset
        )?;
    }
    if let (Some(text), Some(t)) = (w.torch_legacy_text(), &w.torch_legacy) {
        writeln!(
            out,
            "  written in {text} (pickle at offset {}): torch < 1.6, or a later torch.save \
             with _use_new_zipfile_serialization=False; torch.load still reads it",
            t.offset
        )?;
    }
    for v in &w.versions {
        let more = v.uses.saturating_sub(1);
        let at = match (v.paths.first(), more) {
            (Some(p), 0) => p.clone(),
            (Some(p), n) => format!("{p} and {} more", thousands(n)),
            (None, _) => format!("offset {}", v.offset),
        };
        writeln!(
            out,
            "  written by {} {} (at {}); {}",
            shown(&v.package),
            shown(&v.version),
            shown(&at),
            shown(v.other_version)
        )?;
    }
    for hit in &w.facts {
        let f = hit.fact;
        let names = shown(&hit.globals.join(", ")).into_owned();
        let place = match &hit.path {
            Some(path) => format!("offset {}, {}", hit.offset, shown(path)),
            None => format!("offset {}", hit.offset),
        };
        match f.kind {
            crate::classify::facts_table::FactKind::Writer => writeln!(
                out,
                "  names {names} ({place}): written by {}; {}",
                f.written_by, f.fails
            )?,
            crate::classify::facts_table::FactKind::Removal => writeln!(
                out,
                "  {} ({place}): {}",
                shown_at_line_start(&names),
                f.fails
            )?,
        }
        if !f.remedy.is_empty() {
            writeln!(out, "    {DIM}→ {}{DIM:#}", f.remedy)?;
        }
    }
    if let Some(p) = &w.min_python {
        writeln!(
            out,
            "  needs Python >= {}.{} ({})",
            p.version.0, p.version.1, p.because
        )?;
    }
    Ok(())
}

/// Whether an array belongs to a DataFrame summarised under Frames (its internal
/// `_mgr…` path says nothing a reader needs).
fn in_frame(report: &Report, path: &str) -> bool {
    report.frames.iter().any(|f| {
        f.error.is_none()
            && path
                .strip_prefix(f.path.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']))
    })
}

/// pandas DataFrames and Series as tables: shape, index, columns and dtypes.
fn write_frames(out: &mut impl Write, report: &Report) -> io::Result<()> {
    if report.frames.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{BOLD}Frames{BOLD:#}")?;
    const SHOWN: usize = 40;
    for f in &report.frames {
        if let Some(error) = &f.error {
            writeln!(
                out,
                "  {BOLD}{}{BOLD:#}  {}: {}",
                shown(&f.path),
                shown(&f.kind),
                shown(error)
            )?;
            continue;
        }
        writeln!(
            out,
            "  {BOLD}{}{BOLD:#}  {} of {} × {}, index {}",
            shown(&f.path),
            shown(&f.kind),
            plural(f.rows as usize, "row", "rows"),
            plural(f.columns.len(), "column", "columns"),
            shown(&f.index)
        )?;
        for (name, dtype) in f.columns.iter().take(SHOWN) {
            writeln!(
                out,
                "    {}  {DIM}{}{DIM:#}",
                shown_at_line_start(name),
                shown(dtype)
            )?;
        }
        if f.columns.len() > SHOWN {
            writeln!(
                out,
                "    … and {} more (see --format json)",
                f.columns.len() - SHOWN
            )?;
        }
    }
    if let Some(f) = report.frames.iter().find(|f| f.error.is_none()) {
        let path = match f.path.as_str() {
            "$" => String::new(),
            p => format!(" --path {}", shell_word(p)),
        };
        writeln!(
            out,
            "  {DIM}as a table: pklinspect extract {} --to parquet -o frame.parquet{path} (or --to csv){DIM:#}",
            shell_word(&report.file)
        )?;
    }
    Ok(())
}

fn write_portability(out: &mut impl Write, report: &Report) -> io::Result<()> {
    if report.stopped.is_some() && report.verdict < Verdict::Unvetted {
        writeln!(out, "\n{BOLD}What to do{BOLD:#}")?;
        writeln!(
            out,
            "  The file is damaged or was cut short: no loader reads it whole. Get a complete copy of it (re-download, or save it again where it was written)."
        )?;
        return Ok(());
    }
    let has_arrays = report
        .arrays
        .iter()
        .chain(report.pickles.iter().flat_map(|p| p.arrays.iter()))
        .any(|a| a.unavailable.is_none());
    match report.verdict {
        Verdict::Portable => {
            writeln!(out, "\n{BOLD}To read it without pickle{BOLD:#}")?;
            if has_arrays {
                writeln!(
                    out,
                    "  {}    (numpy.load reads it with allow_pickle=False)",
                    extract_command(report, "npz")
                )?;
            }
            let what = if has_arrays {
                "plain values as JSON, arrays as .npy files beside it"
            } else {
                "the values as JSON"
            };
            let command = extract_command(report, "json");
            let command = if has_arrays {
                format!("{command} --arrays npy")
            } else {
                command
            };
            return writeln!(out, "  {command}    ({what})");
        }
        Verdict::Dangerous => {
            writeln!(out, "\n{BOLD}What to do{BOLD:#}")?;
            writeln!(
                out,
                "  Do not load this file with pickle, joblib or torch.load: loading runs the code above."
            )?;
            if has_arrays {
                writeln!(
                    out,
                    "  Its arrays can be taken out without loading it:\n    {}",
                    extract_command(report, "npz")
                )?;
            }
            return Ok(());
        }
        Verdict::Unvetted => {
            writeln!(out, "\n{BOLD}What to do{BOLD:#}")?;
            writeln!(
                out,
                "  Do not load this file until the calls above are vetted: check what each one does with the arguments shown, then allow it in pklinspect.toml (`pklinspect rules unvetted-call`)."
            )?;
            return Ok(());
        }
        _ => {}
    }
    writeln!(out, "\n{BOLD}To make this portable{BOLD:#}")?;
    if report.portable_hints.is_empty() {
        writeln!(
            out,
            "  Save plain values (numbers, strings, lists, dicts) and numpy arrays instead of the objects listed above."
        )?;
        if has_arrays {
            writeln!(
                out,
                "  Its arrays come out without those libraries or that code:\n    {}",
                extract_command(report, "npz")
            )?;
        }
        return Ok(());
    }
    for hint in &report.portable_hints {
        let takes = match hint.recipe {
            Some(_) => "its constructor takes",
            None => "its state is",
        };
        writeln!(
            out,
            "  {} is a {BOLD}{}{BOLD:#} ({}); {takes}:",
            shown(&hint.path),
            shown(&hint.class),
            hint.category.as_str()
        )?;
        if let Some(recipe) = &hint.recipe {
            writeln!(out, "    ({})", shown(recipe))?;
        }
        if !hint.parameters.is_empty() {
            let params: Vec<String> = hint
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            writeln!(out, "    {}", shown_at_line_start(&params.join(", ")))?;
        }
        for (name, path, shape, dtype) in &hint.arrays {
            writeln!(
                out,
                "    {} → {} {} {}",
                shown_at_line_start(name),
                shown(path),
                shape_text(shape),
                shown(dtype)
            )?;
        }
    }
    writeln!(
        out,
        "  Get them out without the library, then save those instead of the object:"
    )?;
    writeln!(
        out,
        "    pklinspect extract {} --to npy -o arrays/    (the arrays, as numpy.save writes them)",
        shell_word(&report.file)
    )?;
    writeln!(
        out,
        "    pklinspect extract {} --to json -o state.json --arrays npy    (parameters and arrays)",
        shell_word(&report.file)
    )?;
    writeln!(
        out,
        "  Or have the object re-created from them by code you can read:\n    pklinspect extract {} --to python -o rebuild/    (rebuild.py: load() calls the constructors)",
        shell_word(&report.file)
    )
}

/// `pklinspect extract FILE --to npz -o STEM.npz` (or `--to json … --arrays npy`), with
/// the output named after the input.
fn extract_command(report: &Report, to: &str) -> String {
    let (input, stem) = if report.file == "<stdin>" {
        ("-".to_string(), "out".to_string())
    } else {
        let path = std::path::Path::new(&report.file);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "out".to_string());
        (shell_word(&report.file), stem)
    };
    format!(
        "pklinspect extract {input} --to {to} -o {}",
        shell_word(&format!("{stem}.{to}"))
    )
}

/// A file name as a shell word (quoted when it has anything but safe characters; as a
/// `$'…'` word with escapes when it has characters that [`shown`] escapes, so the command
/// is one line and still names the file; `./` before a leading `-`).
fn shell_word(name: &str) -> String {
    // A name that starts with `-` would be read as an option (`--force`).
    if name.starts_with('-') {
        return shell_word(&format!("./{name}"));
    }
    let safe = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/+=:@,".contains(c));
    if safe && !name.is_empty() {
        name.to_string()
    } else if name.chars().any(crate::render::style::acts) {
        let quoted = name.replace('\\', "\\\\").replace('\'', "\\'");
        format!("$'{}'", shown(&quoted))
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn a_suggested_file_name_is_one_shell_word_that_names_the_file() {
        assert_eq!(shell_word("model.pkl"), "model.pkl");
        assert_eq!(shell_word("it's.pkl"), r"'it'\''s.pkl'");
        assert_eq!(shell_word("--force"), "./--force");
        assert_eq!(shell_word("a\nb'\\.pkl"), r"$'a\nb\'\\.pkl'");
    }
}

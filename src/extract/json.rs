//! JSON extraction (being written).
use super::*;
pub(crate) fn extract_json(
    _source: &str,
    _bytes: &[u8],
    _options: &ExtractOptions,
    _file: Option<&Path>,
    _arrays_as_files: bool,
) -> Result<Extracted> {
    Err(Error::new(
        ErrorKind::Unsupported,
        0,
        "json extraction is being written",
    ))
}

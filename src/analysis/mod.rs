//! Analyses of a read stream: object paths, arrays, imports and their categories, findings.

pub mod object_paths;
pub mod path;

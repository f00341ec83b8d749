//! Renderers: reports as text for people and JSON for programs.

pub mod json;
pub mod preview;
pub mod style;
pub mod text;

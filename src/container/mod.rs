//! Containers (SPEC §3). Being written; see the helper report.

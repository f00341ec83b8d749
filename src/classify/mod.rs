//! Classification of imported globals (SPEC §5). Being written; see the helper's report.

//! Deny entries of a policy (`deny = ["torch.load", "pandas.**"]`): a pattern compiled once
//! and matched against globals as written in a stream, Python 2 spellings normalised.

use super::{normalise, normalise_module, Category, KnownGlobals};

/// A deny entry, ready to match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenyEntry {
    /// As written.
    pub pattern: String,
    /// Why it is denied (shown in the `denied-import` finding), if the policy says.
    pub reason: Option<String>,
    module: String,
    kind: DenyKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DenyKind {
    /// `module.name` (also `module.Outer.Inner`): the qualified name.
    Exact(String),
    /// `module.*`: any attribute of exactly this module.
    Star,
    /// `module.**`: this module and its submodules.
    Tree,
}

impl DenyEntry {
    /// Compiles a pattern (`module.name`, `module.*`, `module.**`, Python 2 spellings
    /// normalised) with the policy's reason for it.
    pub fn new(pattern: &str, reason: Option<String>) -> Result<DenyEntry, String> {
        // The classifier's own pattern check (and Python 2 spellings), on a scratch table.
        KnownGlobals::builtin().add(pattern, Category::CodeExec, "deny")?;
        let (module, name) = pattern
            .rsplit_once('.')
            .ok_or_else(|| format!("pattern `{pattern}` names no module"))?;
        let (module, kind) = match name {
            "*" => (normalise_module(module).to_string(), DenyKind::Star),
            "**" => (normalise_module(module).to_string(), DenyKind::Tree),
            _ => {
                let (m, n) = normalise(module, name);
                (m.to_string(), DenyKind::Exact(format!("{m}.{n}")))
            }
        };
        Ok(DenyEntry {
            pattern: pattern.to_string(),
            reason,
            module,
            kind,
        })
    }

    /// Whether the global `module.name`, as written in a stream, is denied.
    pub fn matches(&self, module: &str, name: &str) -> bool {
        let (module, name) = normalise(module, name);
        match &self.kind {
            DenyKind::Exact(qualified) => *qualified == format!("{module}.{name}"),
            DenyKind::Star => module == self.module,
            DenyKind::Tree => {
                module == self.module
                    || (module.starts_with(&self.module)
                        && module.as_bytes().get(self.module.len()) == Some(&b'.'))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_patterns_match_like_the_classifier() {
        let entry = |p: &str| DenyEntry::new(p, None).unwrap();
        let exact = entry("acme.models.Outer.Inner");
        assert!(exact.matches("acme.models", "Outer.Inner"));
        assert!(!exact.matches("acme.models", "Outer"));
        let star = entry("torch.nn.*");
        assert!(star.matches("torch.nn", "Module"));
        assert!(!star.matches("torch.nn.modules.linear", "Linear"));
        let tree = entry("torch.nn.**");
        assert!(tree.matches("torch.nn", "Module"));
        assert!(tree.matches("torch.nn.modules.linear", "Linear"));
        assert!(!tree.matches("torch.nnx", "Module"));
        // Python 2 spellings are normalised on both sides.
        assert!(entry("builtins.eval").matches("__builtin__", "eval"));
        assert!(entry("__builtin__.*").matches("builtins", "eval"));
    }
}

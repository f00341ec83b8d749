//! Our opcode table against CPython's `pickletools.opcodes`, column by column.

mod common;

use pklinspect::OPCODES;

const DUMP_OPCODES: &str = r#"
import pickletools
for o in pickletools.opcodes:
    print("\t".join([
        o.name, str(ord(o.code)), str(o.proto),
        o.arg.name if o.arg else "-",
        ",".join(s.name for s in o.stack_before),
        ",".join(s.name for s in o.stack_after),
        o.doc.split("\n", 1)[0],
    ]))
"#;

#[test]
fn opcode_table_matches_cpython_pickletools() {
    let Some(python) = common::python3() else {
        return;
    };
    let output = common::run_python(python, DUMP_OPCODES, &[]);
    let theirs = String::from_utf8(output.stdout).unwrap();
    let ours: Vec<String> = OPCODES
        .iter()
        .map(|o| {
            let names = |kinds: &[pklinspect::StackKind]| {
                kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
            };
            [
                o.name.to_string(),
                o.code.to_string(),
                o.proto.to_string(),
                o.arg.name().unwrap_or("-").to_string(),
                names(o.stack_before),
                names(o.stack_after),
                o.doc.to_string(),
            ]
            .join("\t")
        })
        .collect();
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(ours.len(), theirs.len(), "number of opcodes");
    for (ours, theirs) in ours.iter().zip(&theirs) {
        assert_eq!(ours, theirs);
    }
}

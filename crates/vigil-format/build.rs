//! Turns `data/record_types.txt` and `data/fields.txt` into Rust tables (text only, no codegen
//! dependencies). One table serves the parser, the writers and `--help`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=data/record_types.txt");
    println!("cargo:rerun-if-changed=data/fields.txt");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let mut code = String::new();
    gen_record_types(&mut code);
    gen_fields(&mut code);
    std::fs::write(Path::new(&out).join("tables.rs"), code).expect("write tables.rs");
}

fn data_lines(file: &str) -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| (i + 1, l.split_whitespace().map(str::to_string).collect()))
        .collect()
}

fn const_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

fn gen_record_types(code: &mut String) {
    let rows = data_lines("data/record_types.txt");
    let mut seen_num = std::collections::HashSet::new();
    let mut seen_name = std::collections::HashSet::new();
    code.push_str("/// Every record type vigil knows, sorted by number.\npub static RECORD_TYPES: &[RecordTypeDef] = &[\n");
    let mut prev = 0u32;
    for (line, cols) in &rows {
        assert!(
            cols.len() == 3,
            "data/record_types.txt:{line}: want 3 columns"
        );
        let num: u32 = cols[0]
            .parse()
            .unwrap_or_else(|_| panic!("data/record_types.txt:{line}: bad number"));
        assert!(
            num > prev,
            "data/record_types.txt:{line}: numbers must increase"
        );
        prev = num;
        assert!(
            seen_num.insert(num) && seen_name.insert(cols[1].clone()),
            "data/record_types.txt:{line}: duplicate"
        );
        let flags: Vec<&str> = if cols[2] == "-" {
            vec![]
        } else {
            cols[2].split(',').collect()
        };
        for f in &flags {
            assert!(
                ["many", "aux", "vigil"].contains(f),
                "data/record_types.txt:{line}: unknown flag {f}"
            );
        }
        let _ = writeln!(
            code,
            "    RecordTypeDef {{ number: {num}, name: {:?}, many: {}, aux: {}, vigil: {} }},",
            cols[1],
            flags.contains(&"many"),
            flags.contains(&"aux"),
            flags.contains(&"vigil")
        );
    }
    code.push_str("];\n\n/// Record type constants.\npub mod rt {\n    use super::RecordType;\n");
    for (_, cols) in &rows {
        let _ = writeln!(
            code,
            "    pub const {}: RecordType = RecordType({});",
            const_name(&cols[1]),
            cols[0]
        );
    }
    code.push_str(
        "}\n\nfn record_type_index(number: u32) -> Option<usize> {\n    match number {\n",
    );
    for (i, (_, cols)) in rows.iter().enumerate() {
        let _ = writeln!(code, "        {} => Some({i}),", cols[0]);
    }
    code.push_str("        _ => None,\n    }\n}\n\n");
    let names: Vec<(String, String)> = rows
        .iter()
        .map(|(_, c)| (c[1].clone(), c[0].clone()))
        .collect();
    gen_lookup(code, "record_type_by_name_exact", "u32", &names);
}

fn gen_fields(code: &mut String) {
    let rows = data_lines("data/fields.txt");
    let encs = [
        ("dec", "Dec"),
        ("sdec", "SDec"),
        ("hex", "Hex"),
        ("cap", "Cap"),
        ("oct", "Oct"),
        ("dev", "Dev"),
        ("str", "Str"),
        ("hexbytes", "HexBytes"),
        ("tok", "Tok"),
        ("msg", "Msg"),
    ];
    let interps = [
        ("-", "None"),
        ("uid", "Uid"),
        ("gid", "Gid"),
        ("arch", "Arch"),
        ("syscall", "Syscall"),
        ("saddr", "Saddr"),
        ("uring_op", "UringOp"),
    ];
    let mut seen = std::collections::HashSet::new();
    code.push_str("/// Every field vigil knows, in table order ([`FieldId`] indexes it).\npub static FIELDS: &[FieldDef] = &[\n");
    for (line, cols) in &rows {
        assert!(cols.len() == 3, "data/fields.txt:{line}: want 3 columns");
        assert!(
            seen.insert(cols[0].clone()),
            "data/fields.txt:{line}: duplicate field"
        );
        let enc = encs
            .iter()
            .find(|(k, _)| *k == cols[1])
            .unwrap_or_else(|| panic!("data/fields.txt:{line}: unknown encoding {}", cols[1]))
            .1;
        let interp = interps
            .iter()
            .find(|(k, _)| *k == cols[2])
            .unwrap_or_else(|| panic!("data/fields.txt:{line}: unknown interpretation {}", cols[2]))
            .1;
        // The uppercase name used for the interpreted value in ENRICHED text.
        let upper = cols[0].to_ascii_uppercase();
        let _ = writeln!(
            code,
            "    FieldDef {{ name: {:?}, sep_name_eq: {:?}, json_key: {:?}, upper: {upper:?}, encoding: Encoding::{enc}, interp: Interp::{interp} }},",
            cols[0],
            format!(" {}=", cols[0]),
            format!("\"{}\":", cols[0])
        );
    }
    code.push_str("];\n\n/// Field constants.\npub mod f {\n    use super::FieldId;\n");
    for (i, (_, cols)) in rows.iter().enumerate() {
        let _ = writeln!(
            code,
            "    pub const {}: FieldId = FieldId({i});",
            const_name(&cols[0])
        );
    }
    code.push_str("}\n\n");
    let names: Vec<(String, String)> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (c[0].clone(), i.to_string()))
        .collect();
    gen_lookup(code, "field_index", "u16", &names);
}

/// `fn NAME(name: &[u8]) -> Option<TY>`: a jump on (length, first byte), then the few names
/// that share them. A flat match on byte strings compares them one after the other.
fn gen_lookup(code: &mut String, fname: &str, ty: &str, names: &[(String, String)]) {
    let mut groups: std::collections::BTreeMap<(usize, u8), Vec<&(String, String)>> =
        std::collections::BTreeMap::new();
    for n in names {
        groups
            .entry((n.0.len(), n.0.as_bytes()[0]))
            .or_default()
            .push(n);
    }
    let _ = writeln!(code, "fn {fname}(name: &[u8]) -> Option<{ty}> {{\n    let &first = name.first()?;\n    match (name.len(), first) {{");
    for ((len, first), items) in &groups {
        let _ = writeln!(code, "        ({len}, {first}) => match name {{");
        for (n, v) in items {
            let _ = writeln!(code, "            b{n:?} => Some({v}),");
        }
        code.push_str("            _ => None,\n        },\n");
    }
    code.push_str("        _ => None,\n    }\n}\n");
}

//! Turns the parsed ABI header into Rust (crates/vigil-abi/src/generated.rs) and into the C
//! anchor header that puts every ABI type into the object's BTF.

use std::fmt::Write as _;

use super::parse::{Define, Enum, FieldType, Item, Prim, Struct};

pub const HEADER_REL: &str = "crates/vigil-bpf/bpf/include/vigil_abi.h";

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub fn rust_type_name(c_name: &str) -> String {
    camel(c_name.strip_prefix("vigil_").unwrap_or(c_name))
}

/// Common `PREFIX_` of an enum's entries, cut at an underscore.
fn entry_prefix(e: &Enum) -> String {
    let names: Vec<&str> = e.entries.iter().map(|x| x.name.as_str()).collect();
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut prefix = (*first).to_string();
    for n in &names[1..] {
        while !n.starts_with(&prefix) {
            prefix.pop();
        }
    }
    if names.len() == 1 {
        // VIGIL_X_ONLY: keep two words as the prefix.
        let parts: Vec<&str> = first.splitn(3, '_').collect();
        return if parts.len() == 3 {
            format!("{}_{}_", parts[0], parts[1])
        } else {
            String::new()
        };
    }
    match prefix.rfind('_') {
        Some(i) => prefix[..=i].to_string(),
        None => String::new(),
    }
}

fn doc(out: &mut String, lines: &[String], indent: &str) {
    for l in lines {
        let _ = writeln!(
            out,
            "{indent}/// {}",
            l.replace('`', "'").replace('[', "\\[").replace(']', "\\]")
        );
    }
}

/// Field name as a Rust identifier (keywords become raw identifiers).
fn rid(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
        "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
        "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

fn field_rust_type(t: &FieldType) -> String {
    match t {
        FieldType::Prim(p) => p.rust().to_string(),
        FieldType::Array(p, dim) => {
            if dim.starts_with("VIGIL_") {
                format!("[{}; {dim} as usize]", p.rust())
            } else {
                format!("[{}; {dim}]", p.rust())
            }
        }
        FieldType::Struct(s) => rust_type_name(s),
    }
}

fn reader(p: Prim) -> &'static str {
    match p {
        Prim::U8 => "rd::u8",
        Prim::U16 => "rd::u16",
        Prim::U32 => "rd::u32",
        Prim::U64 => "rd::u64",
        Prim::S8 => "rd::i8",
        Prim::S16 => "rd::i16",
        Prim::S32 => "rd::i32",
        Prim::S64 => "rd::i64",
    }
}

fn emit_define(out: &mut String, d: &Define) {
    doc(out, &d.doc, "");
    let ty = if u32::try_from(d.value).is_ok() {
        "u32"
    } else {
        "u64"
    };
    let _ = writeln!(
        out,
        "pub const {}: {ty} = {};\n",
        d.name,
        d.text.trim_end_matches(['u', 'U', 'l', 'L'])
    );
}

fn emit_enum(out: &mut String, e: &Enum) {
    let rname = rust_type_name(&e.name);
    let prefix = entry_prefix(e);
    let variants: Vec<(String, &super::parse::Entry)> = e
        .entries
        .iter()
        .map(|x| (camel(x.name.strip_prefix(&prefix).unwrap_or(&x.name)), x))
        .collect();
    doc(out, &e.doc, "");
    let _ = writeln!(
        out,
        "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]"
    );
    let _ = writeln!(out, "#[repr(u32)]\npub enum {rname} {{");
    for (v, x) in &variants {
        doc(out, &x.doc, "    ");
        let _ = writeln!(out, "    {v} = {},", x.value);
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "impl {rname} {{");
    let _ = writeln!(out, "    /// Every value, in header order.");
    let _ = writeln!(out, "    pub const ALL: &'static [{rname}] = &[");
    for (v, _) in &variants {
        let _ = writeln!(out, "        {rname}::{v},");
    }
    let _ = writeln!(out, "    ];\n");
    let _ = writeln!(out, "    /// The C name of the value.");
    let _ = writeln!(
        out,
        "    pub const fn c_name(self) -> &'static str {{\n        match self {{"
    );
    for (v, x) in &variants {
        let _ = writeln!(out, "            {rname}::{v} => \"{}\",", x.name);
    }
    let _ = writeln!(out, "        }}\n    }}\n}}\n");
    let _ = writeln!(out, "impl TryFrom<u32> for {rname} {{");
    let _ = writeln!(out, "    type Error = UnknownValue;\n");
    let _ = writeln!(
        out,
        "    fn try_from(v: u32) -> Result<Self, UnknownValue> {{\n        match v {{"
    );
    for (v, x) in &variants {
        let _ = writeln!(out, "            {} => Ok({rname}::{v}),", x.value);
    }
    let _ = writeln!(
        out,
        "            _ => Err(UnknownValue {{ what: \"{}\", value: u64::from(v) }}),\n        }}\n    }}\n}}\n",
        e.name
    );
}

fn emit_struct(out: &mut String, s: &Struct) {
    let rname = rust_type_name(&s.name);
    doc(out, &s.doc, "");
    // std implements Default for arrays of up to 32 elements only.
    let derive_default = s.fields.iter().all(|f| f.len <= 32);
    let derives = if derive_default {
        "Clone, Copy, Debug, Default, PartialEq, Eq"
    } else {
        "Clone, Copy, Debug, PartialEq, Eq"
    };
    let _ = writeln!(
        out,
        "#[derive({derives})]\n#[repr(C)]\npub struct {rname} {{"
    );
    for f in &s.fields {
        doc(out, &f.doc, "    ");
        let _ = writeln!(out, "    pub {}: {},", rid(&f.name), field_rust_type(&f.ty));
    }
    let _ = writeln!(out, "}}\n");

    if !derive_default {
        let _ = writeln!(
            out,
            "impl Default for {rname} {{\n    fn default() -> Self {{\n        Self {{"
        );
        for f in &s.fields {
            let v = match &f.ty {
                FieldType::Prim(_) => "0".to_string(),
                FieldType::Array(_, dim) if dim.starts_with("VIGIL_") => {
                    format!("[0; {dim} as usize]")
                }
                FieldType::Array(_, dim) => format!("[0; {dim}]"),
                FieldType::Struct(n) => format!("{}::default()", rust_type_name(n)),
            };
            let _ = writeln!(out, "            {}: {v},", rid(&f.name));
        }
        let _ = writeln!(out, "        }}\n    }}\n}}\n");
    }

    let _ = writeln!(out, "impl {rname} {{");
    let _ = writeln!(
        out,
        "    /// Size in bytes, as in C.\n    pub const SIZE: usize = {};\n",
        s.size
    );
    let _ = writeln!(out, "    /// Decodes from the first `SIZE` bytes of `b` (native endian); `None` when `b` is shorter.");
    let _ = writeln!(out, "    pub fn read(b: &[u8]) -> Option<Self> {{\n        let b = b.get(..Self::SIZE)?;\n        Some(Self {{");
    for f in &s.fields {
        let v = match &f.ty {
            FieldType::Prim(p) => format!("{}(b, {})", reader(*p), f.offset),
            FieldType::Array(p, _) => format!("rd::array(b, {}, {})", f.offset, reader(*p)),
            FieldType::Struct(n) => format!("{}::read(b.get({}..)?)?", rust_type_name(n), f.offset),
        };
        let _ = writeln!(out, "            {}: {v},", rid(&f.name));
    }
    let _ = writeln!(out, "        }})\n    }}\n");
    let _ = writeln!(
        out,
        "    /// Appends the C representation (`SIZE` bytes, native endian)."
    );
    let _ = writeln!(out, "    pub fn write(&self, out: &mut Vec<u8>) {{");
    for f in &s.fields {
        match &f.ty {
            FieldType::Prim(_) => {
                let _ = writeln!(
                    out,
                    "        out.extend_from_slice(&self.{}.to_ne_bytes());",
                    rid(&f.name)
                );
            }
            FieldType::Array(Prim::U8, _) => {
                let _ = writeln!(
                    out,
                    "        out.extend_from_slice(&self.{});",
                    rid(&f.name)
                );
            }
            FieldType::Array(..) => {
                let _ = writeln!(
                    out,
                    "        for v in &self.{} {{\n            out.extend_from_slice(&v.to_ne_bytes());\n        }}",
                    rid(&f.name)
                );
            }
            FieldType::Struct(_) => {
                let _ = writeln!(out, "        self.{}.write(out);", rid(&f.name));
            }
        }
    }
    let _ = writeln!(out, "    }}\n}}\n");

    let _ = writeln!(out, "const _: () = {{");
    let _ = writeln!(
        out,
        "    assert!(core::mem::size_of::<{rname}>() == {});",
        s.size
    );
    let _ = writeln!(
        out,
        "    assert!(core::mem::align_of::<{rname}>() == {});",
        s.align
    );
    for f in &s.fields {
        let _ = writeln!(
            out,
            "    assert!(core::mem::offset_of!({rname}, {}) == {});",
            rid(&f.name),
            f.offset
        );
    }
    let _ = writeln!(out, "}};\n");
}

fn emit_layouts(out: &mut String, items: &[Item]) {
    let _ = writeln!(
        out,
        "/// Layout of every ABI struct as Rust lays it out (checked against BTF by a test)."
    );
    let _ = writeln!(out, "pub static STRUCT_LAYOUTS: &[StructLayout] = &[");
    for it in items {
        if let Item::Struct(s) = it {
            let r = rust_type_name(&s.name);
            let _ = writeln!(out, "    StructLayout {{\n        c_name: \"{}\",\n        size: core::mem::size_of::<{r}>(),\n        fields: &[", s.name);
            for f in &s.fields {
                let _ = writeln!(
                    out,
                    "            FieldLayout {{ name: \"{}\", offset: core::mem::offset_of!({r}, {}), size: core::mem::size_of::<{}>() }},",
                    f.name,
                    rid(&f.name),
                    field_rust_type(&f.ty)
                );
            }
            let _ = writeln!(out, "        ],\n    }},");
        }
    }
    let _ = writeln!(out, "];\n");
    let _ = writeln!(out, "/// Every ABI enum with its C entries and values.");
    let _ = writeln!(out, "pub static ENUM_LAYOUTS: &[EnumLayout] = &[");
    for it in items {
        if let Item::Enum(e) = it {
            let _ = writeln!(
                out,
                "    EnumLayout {{\n        c_name: \"{}\",\n        values: &[",
                e.name
            );
            for x in &e.entries {
                let _ = writeln!(out, "            (\"{}\", {}),", x.name, x.value);
            }
            let _ = writeln!(out, "        ],\n    }},");
        }
    }
    let _ = writeln!(out, "];");
}

/// The Rust mirror (before rustfmt).
pub fn rust(items: &[Item]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// @generated by `cargo xtask abi` from {HEADER_REL}; do not edit.\n"
    );
    let _ = writeln!(
        out,
        "use crate::{{rd, EnumLayout, FieldLayout, StructLayout, UnknownValue}};\n"
    );
    for it in items {
        match it {
            Item::Define(d) => emit_define(&mut out, d),
            Item::Enum(e) => emit_enum(&mut out, e),
            Item::Struct(s) => emit_struct(&mut out, s),
        }
    }
    emit_layouts(&mut out, items);
    out
}

/// C header that references every ABI type from one global, so clang emits their BTF.
/// Members are values, not pointers: clang emits only a forward declaration for a struct
/// reached through a pointer alone.
pub fn anchor(items: &[Item]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only) */"
    );
    let _ = writeln!(
        out,
        "/* @generated by `cargo xtask abi` from vigil_abi.h; do not edit. */"
    );
    let _ = writeln!(
        out,
        "/* Puts every ABI type into the object's BTF for the layout test. */"
    );
    let _ = writeln!(
        out,
        "#ifndef VIGIL_ABI_ANCHOR_H\n#define VIGIL_ABI_ANCHOR_H\n"
    );
    let _ = writeln!(out, "struct vigil_abi_anchor {{");
    for it in items {
        match it {
            Item::Struct(s) => {
                let _ = writeln!(out, "\tstruct {0} {0};", s.name);
            }
            Item::Enum(e) => {
                let _ = writeln!(out, "\tenum {0} {0};", e.name);
            }
            Item::Define(_) => {}
        }
    }
    let _ = writeln!(out, "}};\n");
    let _ = writeln!(
        out,
        "const volatile struct vigil_abi_anchor vigil_abi_anchor = {{}};\n"
    );
    let _ = writeln!(out, "#endif");
    out
}

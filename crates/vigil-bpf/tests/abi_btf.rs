//! The Rust ABI mirror (vigil-abi, generated) against the object's BTF: every struct's size,
//! field names, offsets and sizes, and every enum's values (tetragon's alignchecker idea).
//! Unprivileged: reads the embedded object only.

use vigil_abi::{ENUM_LAYOUTS, STRUCT_LAYOUTS, VIGIL_ABI_VERSION};
use vigil_bpf::btf::Btf;
use vigil_bpf::object::{abi_version, btf_section, check_abi, OBJECT};

fn btf() -> Btf {
    Btf::parse(&btf_section(OBJECT).expect(".BTF")).expect("parse BTF")
}

#[test]
fn every_struct_matches_btf() {
    let btf = btf();
    assert!(!STRUCT_LAYOUTS.is_empty());
    for s in STRUCT_LAYOUTS {
        let (size, members) = btf
            .find_struct(s.c_name)
            .unwrap_or_else(|| panic!("struct {} not in the object's BTF", s.c_name));
        assert_eq!(size as usize, s.size, "struct {}: size", s.c_name);
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        let rust: Vec<&str> = s.fields.iter().map(|f| f.name).collect();
        assert_eq!(names, rust, "struct {}: fields", s.c_name);
        for (m, f) in members.iter().zip(s.fields) {
            assert_eq!(m.bitfield_size, 0, "{}.{} is a bitfield", s.c_name, f.name);
            assert_eq!(m.bit_offset % 8, 0, "{}.{}", s.c_name, f.name);
            assert_eq!(
                (m.bit_offset / 8) as usize,
                f.offset,
                "{}.{}: offset",
                s.c_name,
                f.name
            );
            let msize = btf
                .size_of(m.type_id)
                .unwrap_or_else(|| panic!("{}.{}: no size", s.c_name, f.name));
            assert_eq!(msize as usize, f.size, "{}.{}: size", s.c_name, f.name);
        }
    }
}

#[test]
fn every_enum_matches_btf() {
    let btf = btf();
    for e in ENUM_LAYOUTS {
        let values = btf
            .find_enum(e.c_name)
            .unwrap_or_else(|| panic!("enum {} not in the object's BTF", e.c_name));
        let got: Vec<(&str, i64)> = values.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        assert_eq!(got, e.values.to_vec(), "enum {}", e.c_name);
    }
}

#[test]
fn object_carries_our_abi_version() {
    assert_eq!(abi_version(OBJECT).expect("version"), VIGIL_ABI_VERSION);
    check_abi(OBJECT).expect("accepted");
}

#[test]
fn object_with_another_abi_version_is_refused() {
    // Patch the version in a copy of the object: the loader must refuse it.
    let mut obj = OBJECT.to_vec();
    let v = VIGIL_ABI_VERSION.to_ne_bytes();
    let pos = locate_version(&obj).expect("version bytes");
    assert_eq!(obj[pos..pos + 4], v);
    obj[pos..pos + 4].copy_from_slice(&(VIGIL_ABI_VERSION + 1).to_ne_bytes());
    let err = check_abi(&obj).expect_err("refused");
    assert!(err.to_string().contains("ABI version"), "{err}");
}

/// File offset of the `vigil_abi_version` value (via the object crate, as the loader does).
fn locate_version(obj: &[u8]) -> Option<usize> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(obj).ok()?;
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok("vigil_abi_version"))?;
    let sec = file.section_by_index(sym.section_index()?).ok()?;
    let (off, _) = sec.file_range()?;
    usize::try_from(off + sym.address()).ok()
}

#[test]
fn garbage_object_is_an_error() {
    assert!(abi_version(b"not an elf").is_err());
    assert!(btf_section(&[0x7f, b'E', b'L', b'F']).is_err());
}

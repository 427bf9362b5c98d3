//! Builds the BPF object: with clang when it is installed, otherwise from the committed
//! prebuilt object, which must have been built from exactly the C inputs in `bpf/`
//! (`cargo xtask bpf` refreshes it). A fresh clone thus builds with cargo alone.
//! `VIGIL_BPF_PREBUILT=1` forces the prebuilt object; `CLANG` names the compiler.

#[path = "build_support.rs"]
#[allow(dead_code)]
mod build_support;

use std::env;
use std::fs;
use std::path::PathBuf;

use build_support::{clang_version, compile, hex, inputs_hash, sha256, Record};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let bpf_dir = manifest.join("bpf");
    let out = out_dir.join("vigil.bpf.o");
    for p in ["bpf", "prebuilt", "build_support.rs"] {
        println!("cargo:rerun-if-changed={p}");
    }
    for v in ["VIGIL_BPF_PREBUILT", "CLANG"] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    let hash = inputs_hash(&bpf_dir)
        .unwrap_or_else(|e| panic!("{}: cannot read BPF sources: {e}", bpf_dir.display()));
    let record_path = manifest.join(build_support::PREBUILT_RECORD);
    let record = Record::parse(&fs::read_to_string(&record_path).unwrap_or_default());
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let force_prebuilt = env::var("VIGIL_BPF_PREBUILT").is_ok_and(|v| v == "1");

    if !force_prebuilt && clang_version(&clang).is_some() {
        if let Err(e) = compile(&clang, &bpf_dir, &out) {
            panic!("{e}");
        }
        if record.inputs_sha256 != hash {
            println!(
                "cargo:warning={}: committed BPF object is stale (C inputs changed); \
                 run `cargo xtask bpf` and commit crates/vigil-bpf/prebuilt/",
                record_path.display()
            );
        }
        println!("cargo:rustc-env=VIGIL_BPF_OBJECT_SOURCE=clang");
        return;
    }

    let obj_path = manifest.join(build_support::PREBUILT_OBJECT);
    assert!(
        record.inputs_sha256 == hash,
        "{}: the prebuilt BPF object was built from other C inputs (recorded {}, now {hash}); \
         install clang (scripts/deps.sh) or run `cargo xtask bpf` where clang exists",
        record_path.display(),
        if record.inputs_sha256.is_empty() {
            "nothing"
        } else {
            &record.inputs_sha256
        },
    );
    let obj = fs::read(&obj_path)
        .unwrap_or_else(|e| panic!("{}: cannot read prebuilt object: {e}", obj_path.display()));
    let obj_hash = hex(&sha256(&obj));
    assert!(
        obj_hash == record.object_sha256,
        "{}: object hash {obj_hash} differs from the recorded {}; run `cargo xtask bpf`",
        obj_path.display(),
        record.object_sha256
    );
    fs::write(&out, obj).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("cargo:rustc-env=VIGIL_BPF_OBJECT_SOURCE=prebuilt");
}

//! `cargo xtask bpf`: rebuild crates/vigil-bpf/prebuilt/ from the C sources with clang.
//! `--check` (CI): fail when the committed object is stale, i.e. its recorded input hash
//! differs from the sources, or a rebuild with the same clang gives other bytes.

#[path = "../../crates/vigil-bpf/build_support.rs"]
#[allow(dead_code)]
mod build_support;

use std::fs;

use anyhow::{bail, Context};
use build_support::{clang_version, compile, hex, inputs_hash, sha256, Record};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cargo xtask bpf [--check]"),
    };
    let crate_dir = crate::workspace_root().join("crates/vigil-bpf");
    let bpf_dir = crate_dir.join("bpf");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let version = clang_version(&clang)
        .with_context(|| format!("{clang} not found: install clang (scripts/deps.sh)"))?;
    let hash = inputs_hash(&bpf_dir).with_context(|| format!("{}", bpf_dir.display()))?;
    let tmp = std::env::temp_dir().join(format!("vigil-xtask-bpf-{}.o", std::process::id()));
    compile(&clang, &bpf_dir, &tmp).map_err(anyhow::Error::msg)?;
    let obj = fs::read(&tmp).with_context(|| format!("{}", tmp.display()))?;
    let _ = fs::remove_file(&tmp);
    let obj_hash = hex(&sha256(&obj));
    let obj_path = crate_dir.join(build_support::PREBUILT_OBJECT);
    let rec_path = crate_dir.join(build_support::PREBUILT_RECORD);

    if check {
        let rec = Record::parse(
            &fs::read_to_string(&rec_path).with_context(|| format!("{}", rec_path.display()))?,
        );
        let committed = fs::read(&obj_path).with_context(|| format!("{}", obj_path.display()))?;
        if rec.inputs_sha256 != hash {
            bail!(
                "{}: stale: the C sources changed since the object was committed \
                 (recorded {}, now {hash}); run `cargo xtask bpf` and commit prebuilt/",
                rec_path.display(),
                rec.inputs_sha256
            );
        }
        if hex(&sha256(&committed)) != rec.object_sha256 {
            bail!("{}: does not match its recorded hash", obj_path.display());
        }
        if rec.clang == version && rec.object_sha256 != obj_hash {
            bail!(
                "{}: a rebuild with the same compiler ({version}) gives another object \
                 ({obj_hash}); run `cargo xtask bpf` and commit prebuilt/",
                obj_path.display()
            );
        }
        if rec.clang != version {
            println!(
                "note: committed object built by {}; byte comparison skipped",
                rec.clang
            );
        }
        println!("bpf object up to date ({hash})");
        return Ok(());
    }

    fs::create_dir_all(obj_path.parent().unwrap_or(&crate_dir))?;
    fs::write(&obj_path, &obj).with_context(|| format!("{}", obj_path.display()))?;
    let rec = Record {
        inputs_sha256: hash,
        object_sha256: obj_hash,
        clang: version,
    };
    fs::write(&rec_path, rec.render()).with_context(|| format!("{}", rec_path.display()))?;
    println!("wrote {} ({} bytes)", obj_path.display(), obj.len());
    Ok(())
}

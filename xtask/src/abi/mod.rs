//! `cargo xtask abi [--check]`: generates crates/vigil-abi/src/generated.rs and
//! crates/vigil-bpf/bpf/include/vigil_abi_anchor.h from `vigil_abi.h` (text only: a parser
//! for the header's C subset, no bindgen). `--check` fails when the committed files differ.

mod emit;
mod parse;

use std::fs;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

const RUST_OUT: &str = "crates/vigil-abi/src/generated.rs";
const ANCHOR_OUT: &str = "crates/vigil-bpf/bpf/include/vigil_abi_anchor.h";

fn rustfmt(src: &str) -> anyhow::Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run rustfmt")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(src.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("rustfmt failed on the generated code");
    }
    Ok(String::from_utf8(out.stdout)?)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cargo xtask abi [--check]"),
    };
    let root = crate::workspace_root();
    let header = root.join(emit::HEADER_REL);
    let src = fs::read_to_string(&header).with_context(|| format!("{}", header.display()))?;
    let items = parse::parse(&src, emit::HEADER_REL)?;
    let outputs = [
        (RUST_OUT, rustfmt(&emit::rust(&items))?),
        (ANCHOR_OUT, emit::anchor(&items)),
    ];
    let mut stale = Vec::new();
    for (rel, text) in &outputs {
        let path = root.join(rel);
        let old = fs::read_to_string(&path).unwrap_or_default();
        if old == *text {
            continue;
        }
        if check {
            stale.push(*rel);
        } else {
            fs::write(&path, text).with_context(|| format!("{}", path.display()))?;
            println!("wrote {rel}");
        }
    }
    if !stale.is_empty() {
        bail!(
            "{} out of date with {}; run `cargo xtask abi` and commit",
            stale.join(", "),
            emit::HEADER_REL
        );
    }
    Ok(())
}

//! Golden files: trace -> events -> RAW, ENRICHED, JSON and enriched JSON.
//! Regenerate with `VIGIL_BLESS=1 cargo test -p vigil-format --test golden` and review the diff.

mod common;

use vigil_format::json::JsonWriter;
use vigil_format::{TextMode, TextWriter};

fn check(name: &str, got: &[u8]) {
    let path = common::crate_dir().join("tests/golden").join(name);
    if std::env::var_os("VIGIL_BLESS").is_some() {
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with VIGIL_BLESS=1 to create)", path.display()));
    if want != got {
        let w = String::from_utf8_lossy(&want);
        let g = String::from_utf8_lossy(got);
        for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
            assert_eq!(
                a,
                b,
                "{}: first difference at line {}",
                path.display(),
                i + 1
            );
        }
        panic!(
            "{}: differs in length (want {} bytes, got {}); VIGIL_BLESS=1 regenerates",
            path.display(),
            want.len(),
            got.len()
        );
    }
}

#[test]
fn traces_render_as_golden_files() {
    for name in common::TRACES {
        let events = common::build_all(&common::load_trace(name), 100);
        assert!(!events.is_empty(), "{name}: empty trace");
        for (mode, ext) in [(TextMode::Raw, "raw"), (TextMode::Enriched, "enriched")] {
            let mut w = TextWriter::new(mode, common::fixed_resolver());
            let mut out = Vec::new();
            for ev in &events {
                w.write_event(ev, &mut out);
            }
            check(&format!("{name}.{ext}.log"), &out);
            let mut j = JsonWriter::new(mode, common::fixed_resolver());
            let mut out = Vec::new();
            for ev in &events {
                j.write_event(ev, &mut out);
            }
            check(&format!("{name}.{ext}.json"), &out);
        }
    }
}

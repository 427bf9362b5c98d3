//! Any bytes as a replay trace: no panic; each event parsed builds records that write, and
//! the trace line written back parses to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_format::trace::{parse_line, write_event, TraceReader};
use vigil_format::{build_event, Identity, NoResolver, TextMode, TextWriter};

fuzz_target!(|data: &[u8]| {
    let mut w = TextWriter::new(TextMode::Enriched, NoResolver);
    let mut out = Vec::new();
    for raw in TraceReader::new(data, "fuzz").filter_map(Result::ok) {
        let ev = build_event(&raw, Identity::from_ns(raw.ts_ns, 1), &raw.keys);
        w.write_event(&ev, &mut out);
        let mut line = Vec::new();
        write_event(&raw, &mut line);
        let back = parse_line(&line).expect("own line parses").expect("an event");
        assert_eq!(back, raw);
    }
});

//! Loads the object and prints the tail of the verifier log when loading fails
//! (`cargo run -p vigil-bpf --example verifier_log -- [raw|btf] [LINES]`; `VIGIL_LOG=1`:
//! the loader's debug log, CO-RE relocations included).
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        if std::env::var_os("VIGIL_LOG").is_some() {
            eprintln!("{} {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

fn main() {
    let _ = log::set_logger(&Stderr);
    log::set_max_level(log::LevelFilter::Debug);
    let args: Vec<String> = std::env::args().collect();
    let hook = if args.get(1).map(String::as_str) == Some("btf") {
        vigil_bpf::Hook::TpBtf
    } else {
        vigil_bpf::Hook::RawTp
    };
    let lines: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    match vigil_bpf::Loader::load(&vigil_bpf::LoadOptions {
        hook,
        ..vigil_bpf::LoadOptions::default()
    }) {
        Ok(_) => println!("loaded"),
        Err(e) => {
            let text = format!("{e}");
            let all: Vec<&str> = text.lines().collect();
            for l in &all[all.len().saturating_sub(lines)..] {
                println!("{l}");
            }
        }
    }
}

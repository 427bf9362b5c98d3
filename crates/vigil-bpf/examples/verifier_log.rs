//! Loads the object and prints the tail of the verifier log when loading fails
//! (`cargo run -p vigil-bpf --example verifier_log -- [raw|btf] [LINES]`).
fn main() {
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

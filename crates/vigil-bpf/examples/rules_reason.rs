//! Dev probe: for each rules file given, what BPF leaves to user space.
fn main() {
    for path in std::env::args().skip(1) {
        let text = if std::path::Path::new(&path)
            .extension()
            .is_some_and(|e| e == "gz")
        {
            continue;
        } else {
            std::fs::read_to_string(&path).unwrap_or_default()
        };
        let file = match vigil_rules::parse_str(&text, &path) {
            Ok(f) => f,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        match vigil_rules::compile::compile(&[file.rules]) {
            Ok(set) => {
                let all = vigil_bpf::rules::all_undecided_reason(&set);
                let some = vigil_bpf::rules::undecided_syscalls(&set);
                println!(
                    "{path}: all undecided: {}; some: {}",
                    all.unwrap_or_else(|| "no".into()),
                    some.map_or_else(
                        || "no".into(),
                        |(why, m)| format!(
                            "{why}: {:?}",
                            m[0].iter()
                                .filter_map(|nr| vigil_rules::tables::syscall_name(0xc000_003e, nr))
                                .collect::<Vec<_>>()
                        )
                    )
                );
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}

//! Configuration: the embedded default, the shipped example and errors that name the place.

use std::path::{Path, PathBuf};

use vigil::config::{
    Config, ConfigError, DiskAction, Flush, LogFormat, NameFormat, Overrides, Space,
};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn invalid(text: &str) -> (usize, usize, String) {
    match Config::parse(text, "test.toml") {
        Err(ConfigError::Invalid {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(file, "test.toml");
            (line, column, message)
        }
        other => panic!("expected a parse error for {text:?}, got {other:?}"),
    }
}

#[test]
fn embedded_default_equals_builtin_defaults() {
    let parsed = Config::parse(vigil::config::DEFAULT_TOML, "default.toml")
        .unwrap_or_else(|e| panic!("embedded default.toml does not parse: {e}"));
    assert_eq!(
        parsed,
        Config::default(),
        "default.toml and Default drifted apart"
    );
    assert_eq!(Config::embedded(), parsed);
}

#[test]
fn contrib_example_parses() {
    let path = repo_file("contrib/vigil.toml");
    let cfg = Config::load(Some(&path), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.log.format, LogFormat::Enriched);
    assert_eq!(cfg.log.flush, Flush::IncrementalAsync);
    assert_eq!(cfg.disk.space_left, Space::Percent(10));
    assert_eq!(cfg.disk.admin_space_left, Space::Mib(50));
    assert_eq!(cfg.node.name_format, NameFormat::Hostname);
    assert_eq!(
        cfg.daemon.rules.as_deref(),
        Some(Path::new("/etc/vigil/audit.rules"))
    );
}

#[test]
fn kernel_audit_relay_is_opt_in() {
    let d = Config::default();
    assert!(!d.kernel_audit.relay && !d.kernel_audit.enable);
    let ex = Config::load(
        Some(&repo_file("contrib/vigil.toml")),
        &Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!ex.kernel_audit.relay && !ex.kernel_audit.enable);
    let on = Config::parse(
        "[kernel_audit]
relay = true
enable = true
",
        "t.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(on.kernel_audit.relay && on.kernel_audit.enable);
    let (line, col, msg) = invalid(
        "[kernel_audit]
relay = true
enabled = true
",
    );
    assert_eq!((line, col), (3, 1), "{msg}");
    assert!(msg.contains("enabled"), "{msg}");
    let (line, _, msg) = invalid(
        "[kernel_audit]
relay = \"yes\"
",
    );
    assert_eq!(line, 2, "{msg}");
}

#[test]
fn overrides_replace_file_values() {
    let ov = Overrides {
        rules: Some("/r".into()),
        log: Some("/l/audit.log".into()),
        socket: Some("/s.sock".into()),
    };
    let cfg = Config::load(None, &ov).unwrap();
    assert_eq!(cfg.daemon.rules.as_deref(), Some(Path::new("/r")));
    assert_eq!(cfg.log.file, Path::new("/l/audit.log"));
    assert_eq!(cfg.daemon.socket, Path::new("/s.sock"));
}

#[test]
fn unknown_key_names_line_and_column() {
    let (line, col, msg) = invalid("[log]\nformat = \"raw\"\n  flsh = \"none\"\n");
    assert_eq!((line, col), (3, 3), "{msg}");
    assert!(msg.contains("flsh"), "{msg}");
    assert!(
        msg.contains("flush"),
        "message should list the valid keys: {msg}"
    );
}

#[test]
fn unknown_section_is_refused() {
    let (line, _, msg) = invalid("[log]\nfreq = 3\n\n[logs]\nfreq = 3\n");
    assert_eq!(line, 4, "{msg}");
    assert!(msg.contains("logs"), "{msg}");
}

#[test]
fn bad_keyword_lists_the_choices() {
    let (line, col, msg) = invalid("[log]\nformat = \"xml\"\n");
    assert_eq!((line, col), (2, 10), "{msg}");
    assert!(msg.contains("`raw`, `enriched`, `json`"), "{msg}");
}

#[test]
fn halt_is_refused_with_the_reason() {
    let (line, _, msg) = invalid("[disk]\ndisk_full_action = \"halt\"\n");
    assert_eq!(line, 2);
    assert!(msg.contains("never halts"), "{msg}");
}

#[test]
fn wrong_type_is_reported() {
    let (line, _, msg) = invalid("[queue]\nq_depth = \"big\"\n");
    assert_eq!(line, 2, "{msg}");
}

#[test]
fn semantic_errors_point_at_the_key() {
    let (line, col, msg) = invalid("[queue]\n\n q_depth = 0\n");
    assert_eq!((line, col), (3, 2), "{msg}");
    assert!(msg.contains("queue.q_depth"), "{msg}");

    let (line, _, msg) = invalid("[disk]\nspace_left = 10\nadmin_space_left = 20\n");
    assert_eq!(line, 3, "{msg}");

    let (line, _, msg) = invalid("[node]\nname_format = \"user\"\n");
    assert_eq!(line, 2, "{msg}");

    let (line, _, msg) = invalid("[log]\nfile = \"relative.log\"\n");
    assert_eq!(line, 2, "{msg}");

    let (_, _, msg) = invalid("[disk]\ndisk_error_action = \"rotate\"\n");
    assert!(msg.contains("cannot fix a write error"), "{msg}");
}

#[test]
fn percent_and_mib_thresholds() {
    let cfg = Config::parse(
        "[disk]\nspace_left = \"25%\"\nadmin_space_left = \"5%\"\nspace_left_action = \"stop\"\n",
        "t",
    )
    .unwrap();
    assert_eq!(cfg.disk.space_left, Space::Percent(25));
    assert_eq!(cfg.disk.space_left_action, DiskAction::Stop);
    let (_, _, msg) = invalid("[disk]\nspace_left = \"120%\"\n");
    assert!(msg.contains("percentage"), "{msg}");
    let (_, _, msg) = invalid("[disk]\nspace_left = -3\n");
    assert!(msg.contains("negative"), "{msg}");
}

#[test]
fn node_names() {
    let cfg = Config::parse("[node]\nname_format = \"user\"\nname = \"web-1\"\n", "t").unwrap();
    assert_eq!(cfg.node_name().as_deref(), Some("web-1"));
    let cfg = Config::parse("[node]\nname_format = \"hostname\"\n", "t").unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(cfg.node_name().as_deref(), Some(host.trim()));
    assert_eq!(Config::default().node_name(), None);
    let (_, _, msg) = invalid("[node]\nname_format = \"user\"\nname = \"a b\"\n");
    assert!(msg.contains("node.name"), "{msg}");
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = Config::load(
        Some(Path::new("/nonexistent/vigil.toml")),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/vigil.toml: "),
        "{err}"
    );
}

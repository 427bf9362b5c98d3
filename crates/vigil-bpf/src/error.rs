//! Errors of the loader and reader.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("BPF object: {0}")]
    Object(String),
    #[error("BPF object was built for ABI version {found}, this loader speaks {expected}; rebuild (cargo xtask bpf)")]
    AbiMismatch { found: u32, expected: u32 },
    #[error("BTF {at}: {msg}")]
    Btf { at: usize, msg: String },
    #[error("loading the BPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("BPF program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("BPF map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("BPF map {0} missing from the object")]
    MissingMap(&'static str),
    #[error("filter: {0}")]
    Filter(String),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

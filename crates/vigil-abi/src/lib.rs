//! #[repr(C)] structs shared with vigil's BPF programs (generated from bpf/include).

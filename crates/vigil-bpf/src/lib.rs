//! vigil's BPF programs, their loader and the ring-buffer reader.

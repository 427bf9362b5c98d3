//! The benchmark floor: a `sys_exit` program that returns at once, attached alone.

use aya::programs::{BtfTracePoint, RawTracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::error::{Error, Result};
use crate::loader::Hook;
use crate::object;

/// A bare hook, attached while this value lives.
pub struct BareHook {
    _ebpf: Ebpf,
}

impl BareHook {
    pub fn attach(hook: Hook) -> Result<BareHook> {
        object::check_abi(object::OBJECT)?;
        let btf = Btf::from_sys_fs().ok();
        let mut ebpf = EbpfLoader::new()
            .btf(btf.as_ref())
            .map_max_entries("vigil_events", 4096)
            // The object's task-list cache is a TASK_STORAGE map.
            .allow_unsupported_maps()
            .load(object::OBJECT)?;
        let perr = |source| Error::Program {
            name: "vigil_bench_bare",
            source,
        };
        match hook {
            Hook::RawTp => {
                let p: &mut RawTracePoint = ebpf
                    .program_mut("vigil_bench_bare")
                    .ok_or(Error::Object("no program vigil_bench_bare".into()))?
                    .try_into()
                    .map_err(perr)?;
                p.load().map_err(perr)?;
                p.attach("sys_exit").map_err(perr)?;
            }
            Hook::TpBtf => {
                let btf = btf
                    .as_ref()
                    .ok_or(Error::Object("tp_btf needs kernel BTF".into()))?;
                let p: &mut BtfTracePoint = ebpf
                    .program_mut("vigil_bench_bare_btf")
                    .ok_or(Error::Object("no program vigil_bench_bare_btf".into()))?
                    .try_into()
                    .map_err(perr)?;
                p.load("sys_exit", btf).map_err(perr)?;
                p.attach().map_err(perr)?;
            }
        }
        Ok(BareHook { _ebpf: ebpf })
    }
}

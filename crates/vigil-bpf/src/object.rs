//! The compiled BPF object embedded in the crate, and what the loader checks before using
//! it: the ABI version it was built for and its BTF.

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

use crate::error::{Error, Result};

/// The object built by build.rs (clang or the committed prebuilt one).
pub static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vigil.bpf.o"));

/// Where the embedded object came from: "clang" or "prebuilt".
pub const OBJECT_SOURCE: &str = env!("VIGIL_BPF_OBJECT_SOURCE");

/// Value of the `vigil_abi_version` symbol in the object's `.rodata`.
pub fn abi_version(obj: &[u8]) -> Result<u32> {
    let file = object::File::parse(obj).map_err(|e| Error::Object(e.to_string()))?;
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok("vigil_abi_version"))
        .ok_or_else(|| Error::Object("no vigil_abi_version symbol".into()))?;
    let idx = sym
        .section_index()
        .ok_or_else(|| Error::Object("vigil_abi_version has no section".into()))?;
    let section = file
        .section_by_index(idx)
        .map_err(|e| Error::Object(e.to_string()))?;
    let data = section.data().map_err(|e| Error::Object(e.to_string()))?;
    let off = usize::try_from(sym.address().saturating_sub(section.address()))
        .map_err(|_| Error::Object("vigil_abi_version offset".into()))?;
    let bytes = data
        .get(off..off + 4)
        .ok_or_else(|| Error::Object("vigil_abi_version outside its section".into()))?;
    Ok(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Fails unless `obj` was built for the ABI this crate was generated from.
pub fn check_abi(obj: &[u8]) -> Result<()> {
    let found = abi_version(obj)?;
    if found == vigil_abi::VIGIL_ABI_VERSION {
        Ok(())
    } else {
        Err(Error::AbiMismatch {
            found,
            expected: vigil_abi::VIGIL_ABI_VERSION,
        })
    }
}

/// The raw `.BTF` section of the object.
pub fn btf_section(obj: &[u8]) -> Result<Vec<u8>> {
    let file = object::File::parse(obj).map_err(|e| Error::Object(e.to_string()))?;
    let section = file
        .section_by_name(".BTF")
        .ok_or_else(|| Error::Object("no .BTF section (compiled without -g?)".into()))?;
    section
        .data()
        .map(<[u8]>::to_vec)
        .map_err(|e| Error::Object(e.to_string()))
}

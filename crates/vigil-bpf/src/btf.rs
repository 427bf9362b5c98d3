//! A small reader of the BTF type format (enough for structs, enums and the types their
//! members use), so that tests can compare the Rust ABI mirror with what clang laid out.
//! Format: include/uapi/linux/btf.h; every length is checked, nothing panics on bad input.

use crate::error::{Error, Result};

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub type_id: u32,
    pub bit_offset: u32,
    pub bitfield_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Int {
        size: u32,
    },
    Ptr,
    Array {
        elem: u32,
        nelems: u32,
    },
    Struct {
        name: String,
        size: u32,
        members: Vec<Member>,
        union: bool,
    },
    Enum {
        name: String,
        size: u32,
        values: Vec<(String, i64)>,
    },
    /// typedef/volatile/const/restrict/type tag: refers to another type.
    Alias {
        name: String,
        target: u32,
    },
    Float {
        size: u32,
    },
    /// Kinds that have no size of their own here (fwd, func, var, datasec, ...).
    Other,
}

#[derive(Debug, Clone)]
pub struct Btf {
    /// Index = type id - 1 (id 0 is void).
    types: Vec<Type>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Result<u32> {
        let s = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| Error::Btf {
                at: self.pos,
                msg: "truncated type section".into(),
            })?;
        self.pos += 4;
        Ok(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
    }
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| Error::Btf {
            at,
            msg: "truncated header".into(),
        })
}

impl Btf {
    /// Parses a `.BTF` section (native endian).
    pub fn parse(b: &[u8]) -> Result<Btf> {
        let magic = b.get(0..2).map(|s| u16::from_ne_bytes([s[0], s[1]]));
        if magic != Some(MAGIC) {
            return Err(Error::Btf {
                at: 0,
                msg: format!("bad magic {magic:?}"),
            });
        }
        let hdr_len = u32_at(b, 4)? as usize;
        let type_off = u32_at(b, 8)? as usize;
        let type_len = u32_at(b, 12)? as usize;
        let str_off = u32_at(b, 16)? as usize;
        let str_len = u32_at(b, 20)? as usize;
        let types_at = hdr_len.checked_add(type_off).ok_or(Error::Btf {
            at: 8,
            msg: "overflow".into(),
        })?;
        let strs_at = hdr_len.checked_add(str_off).ok_or(Error::Btf {
            at: 16,
            msg: "overflow".into(),
        })?;
        let tsec = b
            .get(types_at..types_at.saturating_add(type_len))
            .ok_or(Error::Btf {
                at: types_at,
                msg: "type section out of bounds".into(),
            })?;
        let ssec = b
            .get(strs_at..strs_at.saturating_add(str_len))
            .ok_or(Error::Btf {
                at: strs_at,
                msg: "string section out of bounds".into(),
            })?;
        let name = |off: u32| -> Result<String> {
            let s = ssec.get(off as usize..).ok_or(Error::Btf {
                at: strs_at + off as usize,
                msg: "name offset out of bounds".into(),
            })?;
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            Ok(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        let mut c = Cursor { b: tsec, pos: 0 };
        let mut types = Vec::new();
        while c.pos < tsec.len() {
            let name_off = c.u32()?;
            let info = c.u32()?;
            let size_or_type = c.u32()?;
            let vlen = info & 0xffff;
            let kind = (info >> 24) & 0x1f;
            let kflag = info >> 31 == 1;
            let t = match kind {
                KIND_INT => {
                    c.u32()?;
                    Type::Int { size: size_or_type }
                }
                KIND_PTR => Type::Ptr,
                KIND_ARRAY => {
                    let elem = c.u32()?;
                    c.u32()?;
                    let nelems = c.u32()?;
                    Type::Array { elem, nelems }
                }
                KIND_STRUCT | KIND_UNION => {
                    let mut members = Vec::new();
                    for _ in 0..vlen {
                        let mname = name(c.u32()?)?;
                        let type_id = c.u32()?;
                        let off = c.u32()?;
                        let (bit_offset, bitfield_size) = if kflag {
                            (off & 0x00ff_ffff, off >> 24)
                        } else {
                            (off, 0)
                        };
                        members.push(Member {
                            name: mname,
                            type_id,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    Type::Struct {
                        name: name(name_off)?,
                        size: size_or_type,
                        members,
                        union: kind == KIND_UNION,
                    }
                }
                KIND_ENUM => {
                    let mut values = Vec::new();
                    for _ in 0..vlen {
                        let n = name(c.u32()?)?;
                        let v = c.u32()?;
                        let v = if kflag {
                            i64::from(v as i32)
                        } else {
                            i64::from(v)
                        };
                        values.push((n, v));
                    }
                    Type::Enum {
                        name: name(name_off)?,
                        size: size_or_type,
                        values,
                    }
                }
                KIND_ENUM64 => {
                    let mut values = Vec::new();
                    for _ in 0..vlen {
                        let n = name(c.u32()?)?;
                        let lo = u64::from(c.u32()?);
                        let hi = u64::from(c.u32()?);
                        values.push((n, ((hi << 32) | lo) as i64));
                    }
                    Type::Enum {
                        name: name(name_off)?,
                        size: size_or_type,
                        values,
                    }
                }
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    Type::Alias {
                        name: name(name_off)?,
                        target: size_or_type,
                    }
                }
                KIND_FLOAT => Type::Float { size: size_or_type },
                KIND_FWD | KIND_FUNC => Type::Other,
                KIND_FUNC_PROTO => {
                    for _ in 0..vlen {
                        c.u32()?;
                        c.u32()?;
                    }
                    Type::Other
                }
                KIND_VAR | KIND_DECL_TAG => {
                    c.u32()?;
                    Type::Other
                }
                KIND_DATASEC => {
                    for _ in 0..vlen {
                        c.u32()?;
                        c.u32()?;
                        c.u32()?;
                    }
                    Type::Other
                }
                k => {
                    return Err(Error::Btf {
                        at: types_at + c.pos,
                        msg: format!("unknown BTF kind {k}"),
                    })
                }
            };
            types.push(t);
        }
        Ok(Btf { types })
    }

    pub fn get(&self, id: u32) -> Option<&Type> {
        self.types.get((id as usize).checked_sub(1)?)
    }

    /// Follows typedefs and qualifiers.
    pub fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            match self.get(id)? {
                Type::Alias { target, .. } => id = *target,
                t => return Some(t),
            }
        }
        None
    }

    /// Size in bytes of type `id`, when it has one.
    pub fn size_of(&self, id: u32) -> Option<u64> {
        match self.resolve(id)? {
            Type::Int { size } | Type::Float { size } | Type::Enum { size, .. } => {
                Some(u64::from(*size))
            }
            Type::Struct { size, .. } => Some(u64::from(*size)),
            Type::Ptr => Some(8),
            Type::Array { elem, nelems } => Some(self.size_of(*elem)? * u64::from(*nelems)),
            Type::Alias { .. } | Type::Other => None,
        }
    }

    /// The struct named `name` (size, members).
    pub fn find_struct(&self, name: &str) -> Option<(u32, &[Member])> {
        self.types.iter().find_map(|t| match t {
            Type::Struct {
                name: n,
                size,
                members,
                union: false,
            } if n == name => Some((*size, members.as_slice())),
            _ => None,
        })
    }

    /// The enum named `name` with its values.
    pub fn find_enum(&self, name: &str) -> Option<&[(String, i64)]> {
        self.types.iter().find_map(|t| match t {
            Type::Enum {
                name: n, values, ..
            } if n == name => Some(values.as_slice()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Btf::parse(&[]).is_err());
        assert!(Btf::parse(&[0x9f, 0xeb, 1, 0]).is_err());
        let mut hdr = vec![0x9f, 0xeb, 1, 0];
        for v in [24u32, 0, 100, 100, 10] {
            hdr.extend_from_slice(&v.to_ne_bytes());
        }
        assert!(Btf::parse(&hdr).is_err());
        // Truncate a real section at every length: errors only.
        let real = crate::object::btf_section(crate::object::OBJECT).unwrap();
        for cut in (0..real.len()).step_by(97) {
            let _ = Btf::parse(&real[..cut]);
        }
        assert!(Btf::parse(&real).is_ok());
    }
}

//! Reads the C subset `vigil_abi.h` is written in (see the rules at the top of that file)
//! and computes the C layout of every struct, refusing implicit padding.

use std::collections::HashMap;

use anyhow::{bail, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
}

impl Prim {
    fn from_c(name: &str) -> Option<Prim> {
        Some(match name {
            "__u8" => Prim::U8,
            "__u16" => Prim::U16,
            "__u32" => Prim::U32,
            "__u64" => Prim::U64,
            "__s8" => Prim::S8,
            "__s16" => Prim::S16,
            "__s32" => Prim::S32,
            "__s64" => Prim::S64,
            _ => return None,
        })
    }

    pub fn size(self) -> u64 {
        match self {
            Prim::U8 | Prim::S8 => 1,
            Prim::U16 | Prim::S16 => 2,
            Prim::U32 | Prim::S32 => 4,
            Prim::U64 | Prim::S64 => 8,
        }
    }

    pub fn rust(self) -> &'static str {
        match self {
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::S8 => "i8",
            Prim::S16 => "i16",
            Prim::S32 => "i32",
            Prim::S64 => "i64",
        }
    }
}

#[derive(Debug, Clone)]
pub enum FieldType {
    Prim(Prim),
    /// Element type, dimension as written (literal or constant name).
    Array(Prim, String),
    /// Another struct of the header, by C name.
    Struct(String),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub doc: Vec<String>,
    pub offset: u64,
    /// Element count (1 unless an array).
    pub len: u64,
}

#[derive(Debug, Clone)]
pub struct Struct {
    pub name: String,
    pub doc: Vec<String>,
    pub fields: Vec<Field>,
    pub size: u64,
    pub align: u64,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub value: i64,
    pub doc: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Enum {
    pub name: String,
    pub doc: Vec<String>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub struct Define {
    pub name: String,
    pub value: u64,
    pub text: String,
    pub doc: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Define(Define),
    Enum(Enum),
    Struct(Struct),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(String),
    Punct(char),
    /// A comment; `trailing` when it follows code on the same line (dropped).
    Comment {
        text: Vec<String>,
        trailing: bool,
    },
    /// A whole preprocessor line, without the '#'.
    Directive(String),
}

struct Lexed {
    tok: Tok,
    line: usize,
    col: usize,
}

fn lex(src: &str, file: &str) -> Result<Vec<Lexed>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let mut last_code_line = 0usize;
    let mut at_line_start = true;
    while i < chars.len() {
        let c = chars[i];
        let (start_line, start_col) = (line, col);
        let advance = |n: usize, i: &mut usize, line: &mut usize, col: &mut usize| {
            for _ in 0..n {
                if chars.get(*i) == Some(&'\n') {
                    *line += 1;
                    *col = 1;
                } else {
                    *col += 1;
                }
                *i += 1;
            }
        };
        if c == '\n' {
            at_line_start = true;
            advance(1, &mut i, &mut line, &mut col);
            continue;
        }
        if c.is_whitespace() {
            advance(1, &mut i, &mut line, &mut col);
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = i + 2;
            let mut j = start;
            while j + 1 < chars.len() && !(chars[j] == '*' && chars[j + 1] == '/') {
                j += 1;
            }
            if j + 1 >= chars.len() {
                bail!("{file}:{start_line}:{start_col}: unterminated comment");
            }
            let body: String = chars[start..j].iter().collect();
            let text = body
                .lines()
                .map(|l| l.trim().trim_start_matches('*').trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            let trailing = last_code_line == start_line;
            advance(j + 2 - i, &mut i, &mut line, &mut col);
            out.push(Lexed {
                tok: Tok::Comment { text, trailing },
                line: start_line,
                col: start_col,
            });
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            let mut j = i;
            while j < chars.len() && chars[j] != '\n' {
                j += 1;
            }
            let body: String = chars[i + 2..j].iter().collect();
            let trailing = last_code_line == start_line;
            advance(j - i, &mut i, &mut line, &mut col);
            let text = vec![body.trim().to_string()];
            out.push(Lexed {
                tok: Tok::Comment { text, trailing },
                line: start_line,
                col: start_col,
            });
            continue;
        }
        if c == '#' && at_line_start {
            let mut j = i;
            while j < chars.len() && chars[j] != '\n' {
                j += 1;
            }
            let body: String = chars[i + 1..j].iter().collect();
            advance(j - i, &mut i, &mut line, &mut col);
            out.push(Lexed {
                tok: Tok::Directive(body.trim().to_string()),
                line: start_line,
                col: start_col,
            });
            continue;
        }
        at_line_start = false;
        last_code_line = start_line;
        if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let s: String = chars[i..j].iter().collect();
            advance(j - i, &mut i, &mut line, &mut col);
            out.push(Lexed {
                tok: Tok::Ident(s),
                line: start_line,
                col: start_col,
            });
        } else if c.is_ascii_digit() || c == '-' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_alphanumeric() {
                j += 1;
            }
            let s: String = chars[i..j].iter().collect();
            advance(j - i, &mut i, &mut line, &mut col);
            out.push(Lexed {
                tok: Tok::Num(s),
                line: start_line,
                col: start_col,
            });
        } else if "{}[];,=".contains(c) {
            advance(1, &mut i, &mut line, &mut col);
            out.push(Lexed {
                tok: Tok::Punct(c),
                line: start_line,
                col: start_col,
            });
        } else {
            bail!("{file}:{start_line}:{start_col}: unexpected character {c:?} (outside the ABI C subset)");
        }
    }
    Ok(out)
}

/// Parses an integer literal: decimal or 0x hex, optional U/L suffixes, optional '-'.
fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else {
        t.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

struct Parser<'a> {
    toks: Vec<Lexed>,
    pos: usize,
    file: &'a str,
    defines: HashMap<String, u64>,
    structs: HashMap<String, (u64, u64)>,
}

impl Parser<'_> {
    fn err<T>(&self, msg: impl std::fmt::Display) -> Result<T> {
        let (line, col) = self
            .toks
            .get(self.pos.min(self.toks.len().saturating_sub(1)))
            .map_or((0, 0), |t| (t.line, t.col));
        bail!("{}:{line}:{col}: {msg}", self.file)
    }

    /// Next non-comment token.
    fn next(&mut self) -> Option<Tok> {
        while let Some(t) = self.toks.get(self.pos) {
            self.pos += 1;
            if !matches!(t.tok, Tok::Comment { .. }) {
                return Some(t.tok.clone());
            }
        }
        None
    }

    fn expect_punct(&mut self, c: char) -> Result<()> {
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            other => self.err(format!("expected '{c}', found {other:?}")),
        }
    }

    fn ident(&mut self) -> Result<String> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            other => self.err(format!("expected a name, found {other:?}")),
        }
    }

    fn directive(&mut self, body: &str) -> Result<Option<Item>> {
        let doc = self.doc_before_current();
        let mut words = body.split_whitespace();
        if words.next() != Some("define") {
            return Ok(None);
        }
        let Some(name) = words.next() else {
            return self.err("#define without a name");
        };
        let rest: Vec<&str> = words.collect();
        if rest.is_empty() {
            return Ok(None); // include guard
        }
        let text = rest.join(" ");
        let Some(v) = parse_int(&text).and_then(|v| u64::try_from(v).ok()) else {
            return self.err(format!(
                "#define {name}: value {text:?} is not a non-negative integer literal"
            ));
        };
        if !name.starts_with("VIGIL_") {
            return self.err(format!("#define {name}: ABI names start with VIGIL_"));
        }
        self.defines.insert(name.to_string(), v);
        Ok(Some(Item::Define(Define {
            name: name.to_string(),
            value: v,
            text,
            doc,
        })))
    }

    fn parse_enum(&mut self, doc: Vec<String>) -> Result<Item> {
        let name = self.ident()?;
        self.expect_punct('{')?;
        let mut entries = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Punct('}')) => break,
                Some(Tok::Ident(e)) => {
                    let edoc = self.doc_before_current();
                    if self.next() != Some(Tok::Punct('=')) {
                        return self.err(format!(
                            "{e}: every enum entry needs an explicit literal value (stable numbers)"
                        ));
                    }
                    let value = match self.next() {
                        Some(Tok::Num(n)) => match parse_int(&n).and_then(|v| i64::try_from(v).ok()) {
                            Some(v) => v,
                            None => return self.err(format!("{e}: bad value {n:?}")),
                        },
                        other => return self.err(format!("{e}: every enum entry needs an explicit literal value, found {other:?}")),
                    };
                    if entries.iter().any(|x: &Entry| x.value == value) {
                        return self.err(format!("{e}: value {value} used twice in enum {name}"));
                    }
                    entries.push(Entry {
                        name: e,
                        value,
                        doc: edoc,
                    });
                    match self.next() {
                        Some(Tok::Punct(',')) => {}
                        Some(Tok::Punct('}')) => break,
                        other => return self.err(format!("expected ',' or '}}', found {other:?}")),
                    }
                }
                other => return self.err(format!("in enum {name}: unexpected {other:?}")),
            }
        }
        self.expect_punct(';')?;
        Ok(Item::Enum(Enum { name, doc, entries }))
    }

    /// Comments (not trailing ones) between the previous code token and the current one.
    fn doc_before_current(&self) -> Vec<String> {
        let mut doc = Vec::new();
        let mut j = self.pos.saturating_sub(1);
        while j > 0 {
            j -= 1;
            match &self.toks[j].tok {
                Tok::Comment {
                    text,
                    trailing: false,
                } => {
                    let mut t = text.clone();
                    t.extend(doc);
                    doc = t;
                }
                Tok::Comment { .. } => {}
                _ => break,
            }
        }
        doc
    }

    fn parse_struct(&mut self, doc: Vec<String>) -> Result<Item> {
        let name = self.ident()?;
        self.expect_punct('{')?;
        let mut fields: Vec<Field> = Vec::new();
        let (mut offset, mut align) = (0u64, 1u64);
        loop {
            let ty = match self.next() {
                Some(Tok::Punct('}')) => break,
                Some(Tok::Ident(t)) => t,
                other => return self.err(format!("in struct {name}: unexpected {other:?}")),
            };
            let fdoc = self.doc_before_current();
            let (fty, fsize, falign) = if ty == "struct" {
                let sname = self.ident()?;
                let Some(&(s, a)) = self.structs.get(&sname) else {
                    return self.err(format!("struct {sname} is not defined above {name}"));
                };
                (FieldType::Struct(sname), s, a)
            } else if let Some(p) = Prim::from_c(&ty) {
                (FieldType::Prim(p), p.size(), p.size())
            } else {
                return self.err(format!("type {ty:?} is outside the ABI subset (use __u8..__u64, __s8..__s64 or struct vigil_*)"));
            };
            let fname = self.ident()?;
            let (fty, fsize, flen) = match self.next() {
                Some(Tok::Punct(';')) => (fty, fsize, 1),
                Some(Tok::Punct('[')) => {
                    let FieldType::Prim(p) = fty else {
                        return self.err(format!("{fname}: arrays of structs are not supported"));
                    };
                    let (dim_text, dim) = match self.next() {
                        Some(Tok::Num(n)) => {
                            match parse_int(&n).and_then(|v| u64::try_from(v).ok()) {
                                Some(v) => (n, v),
                                None => return self.err(format!("{fname}: bad dimension {n:?}")),
                            }
                        }
                        Some(Tok::Ident(c)) => match self.defines.get(&c) {
                            Some(&v) => (c, v),
                            None => {
                                return self
                                    .err(format!("{fname}: dimension {c} is not a #define above"))
                            }
                        },
                        other => return self.err(format!("{fname}: bad dimension {other:?}")),
                    };
                    self.expect_punct(']')?;
                    self.expect_punct(';')?;
                    (FieldType::Array(p, dim_text), p.size() * dim, dim)
                }
                other => return self.err(format!("{fname}: expected ';' or '[', found {other:?}")),
            };
            if offset % falign != 0 {
                return self.err(format!(
                    "struct {name}: implicit padding before {fname} (offset {offset}, alignment {falign}); add an explicit padN field"
                ));
            }
            if fields.iter().any(|f| f.name == fname) {
                return self.err(format!("struct {name}: field {fname} twice"));
            }
            fields.push(Field {
                name: fname,
                ty: fty,
                doc: fdoc,
                offset,
                len: flen,
            });
            offset += fsize;
            align = align.max(falign);
        }
        self.expect_punct(';')?;
        if offset % align != 0 {
            return self.err(format!(
                "struct {name}: implicit tail padding (size {offset}, alignment {align}); add an explicit padN field"
            ));
        }
        if fields.is_empty() {
            return self.err(format!("struct {name} has no fields"));
        }
        self.structs.insert(name.clone(), (offset, align));
        Ok(Item::Struct(Struct {
            name,
            doc,
            fields,
            size: offset,
            align,
        }))
    }
}

/// Parses the header text; `file` names it in errors.
pub fn parse(src: &str, file: &str) -> Result<Vec<Item>> {
    let toks = lex(src, file)?;
    let mut p = Parser {
        toks,
        pos: 0,
        file,
        defines: HashMap::new(),
        structs: HashMap::new(),
    };
    let mut items = Vec::new();
    while let Some(t) = p.next() {
        match t {
            Tok::Directive(body) => {
                if let Some(item) = p.directive(&body)? {
                    items.push(item);
                }
            }
            Tok::Ident(k) if k == "enum" => {
                let doc = p.doc_before_current();
                items.push(p.parse_enum(doc)?);
            }
            Tok::Ident(k) if k == "struct" => {
                let doc = p.doc_before_current();
                items.push(p.parse_struct(doc)?);
            }
            other => return p.err(format!("unexpected {other:?} at top level")),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subset_and_layout() {
        let src = "#ifndef G\n#define G\n/* Limit. */\n#define VIGIL_N 4\n\
                   /* Kinds. */\nenum vigil_k {\n\t/* First. */\n\tVIGIL_K_A = 1,\n\tVIGIL_K_B = 0x10,\n};\n\
                   struct vigil_a { __u32 x; __u32 y; };\n\
                   /* B. */\nstruct vigil_b {\n\t/* Header. */\n\tstruct vigil_a a;\n\t__u8 s[VIGIL_N];\n\t__u32 z;\n\t__u64 w;\n};\n#endif\n";
        let items = parse(src, "t.h").unwrap();
        assert_eq!(items.len(), 4);
        let Item::Define(d) = &items[0] else { panic!() };
        assert_eq!(
            (d.name.as_str(), d.value, d.doc.clone()),
            ("VIGIL_N", 4, vec!["Limit.".to_string()])
        );
        let Item::Enum(e) = &items[1] else { panic!() };
        assert_eq!(e.entries[1].value, 16);
        assert_eq!(e.entries[0].doc, vec!["First.".to_string()]);
        let Item::Struct(b) = &items[3] else { panic!() };
        assert_eq!(b.size, 24);
        assert_eq!(
            b.fields.iter().map(|f| f.offset).collect::<Vec<_>>(),
            vec![0, 8, 12, 16]
        );
        assert_eq!(b.fields[0].doc, vec!["Header.".to_string()]);
        assert_eq!(b.doc, vec!["B.".to_string()]);
    }

    #[test]
    fn refuses_padding_and_missing_values() {
        let e = parse("struct vigil_a { __u8 a; __u32 b; };", "t.h")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.h:1:") && e.contains("implicit padding before b"),
            "{e}"
        );
        let e = parse("struct vigil_a { __u64 a; __u32 b; };", "t.h")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tail padding"), "{e}");
        let e = parse("enum vigil_k { VIGIL_K_A, };", "t.h")
            .unwrap_err()
            .to_string();
        assert!(e.contains("explicit literal value"), "{e}");
        let e = parse("struct vigil_a { int a; };", "t.h")
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the ABI subset"), "{e}");
        let e = parse("#define VIGIL_X (1 << 3)\n", "t.h")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a non-negative integer literal"), "{e}");
    }
}

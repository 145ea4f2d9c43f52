//! Every identifier in generated code comes from a [`Namer`]: model names are reduced to
//! `[A-Za-z0-9_]`, prefixed by the kind of value (`s_` state, `p_` parameter, `d_` derived, `u_`
//! series), checked against the target language's keywords and made unique. No other user text
//! reaches generated code, except comments, which go through [`comment`].

use std::collections::HashSet;

/// Rust keywords (strict, reserved and weak) and names the kernel skeleton uses.
pub const RUST_RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "crate",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "async",
    "await",
    "dyn",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "union",
    "raw",
    "safe",
    "macro_rules",
    "t",
    "l",
    "p",
    "u",
    "y",
    "dy",
    "out",
    "a",
    "n",
    "f64",
    "f32",
    "std",
    "core",
];

/// CUDA C/C++ keywords and built-ins that generated CUDA code must not shadow.
pub const CUDA_RESERVED: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "bool",
    "true",
    "false",
    "class",
    "namespace",
    "template",
    "typename",
    "this",
    "new",
    "delete",
    "operator",
    "private",
    "protected",
    "public",
    "virtual",
    "friend",
    "mutable",
    "explicit",
    "asm",
    "try",
    "catch",
    "throw",
    "__global__",
    "__device__",
    "__host__",
    "__shared__",
    "__constant__",
    "threadIdx",
    "blockIdx",
    "blockDim",
    "gridDim",
    "warpSize",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "pow",
    "fabs",
    "fmax",
    "fmin",
];

/// Hands out unique, valid identifiers.
#[derive(Debug)]
pub struct Namer {
    reserved: HashSet<&'static str>,
    taken: HashSet<String>,
}

impl Namer {
    /// A namer avoiding `reserved` words.
    pub fn new(reserved: &'static [&'static str]) -> Self {
        Namer {
            reserved: reserved.iter().copied().collect(),
            taken: HashSet::new(),
        }
    }

    /// A fresh identifier for model name `name` with kind prefix `prefix` (e.g. `s_`).
    pub fn name(&mut self, prefix: &str, name: &str) -> String {
        let mut base = String::with_capacity(prefix.len() + name.len());
        base.push_str(&sanitize(prefix));
        for c in name.chars() {
            match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => base.push(c),
                '/' => base.push_str("__"),
                '[' => base.push('_'),
                ']' => {}
                _ => base.push('_'),
            }
        }
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert(0, '_');
        }
        let mut candidate = base.clone();
        let mut n = 2;
        while self.reserved.contains(candidate.as_str()) || self.taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The generated identifier of every model value, named once per model by a [`Namer`] with a
/// backend's reserved words (both emitters print expressions through it).
pub(crate) struct Names {
    pub states: Vec<String>,
    pub params: Vec<String>,
    pub derived: Vec<String>,
    pub series: Vec<String>,
    pub delays: Vec<String>,
    pub couplings: Vec<String>,
}

impl Names {
    pub fn new(model: &rateforge_ir::ValidModel, reserved: &'static [&'static str]) -> Self {
        let m = model.model();
        let mut namer = Namer::new(reserved);
        Names {
            states: m
                .states
                .values()
                .map(|s| namer.name("s_", &s.name))
                .collect(),
            params: m
                .params
                .values()
                .map(|p| namer.name("p_", &p.name))
                .collect(),
            derived: m
                .derived
                .values()
                .map(|d| namer.name("d_", &d.name))
                .collect(),
            series: m
                .series
                .values()
                .map(|s| namer.name("u_", &s.name))
                .collect(),
            delays: m
                .delays
                .values()
                .map(|d| namer.name("q_", m.var_name(d.source)))
                .collect(),
            couplings: m
                .couplings
                .values()
                .map(|c| namer.name("c_", &c.name))
                .collect(),
        }
    }
}

/// A Rust string literal whose value is `text`: quotes, backslashes and control characters
/// escaped (Rust's own `Debug` of `str`), so no text can end the literal.
pub fn rust_str(text: &str) -> String {
    format!("{text:?}")
}

/// Text safe to put in a `//` comment: printable ASCII without line breaks or `*/`.
pub fn comment(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    cleaned.replace("*/", "*?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_safe_and_unique() {
        let mut n = Namer::new(RUST_RESERVED);
        assert_eq!(n.name("s_", "pc/rpo_e_in/v"), "s_pc__rpo_e_in__v");
        assert_eq!(n.name("s_", "a/b[3]"), "s_a__b_3");
        assert_eq!(n.name("s_", "pc/rpo_e_in/v"), "s_pc__rpo_e_in__v_2");
        assert_eq!(n.name("p_", "x->y/weight#2"), "p_x__y__weight_2");
        assert_eq!(n.name("", "fn"), "fn_2");
        let evil = n.name("d_", "x\"); std::process::exit(1); //");
        assert!(
            evil.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{evil}"
        );
        assert_eq!(comment("a\nb */ c"), "a?b *? c");
        assert_eq!(rust_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}

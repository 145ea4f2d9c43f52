//! The equation parser: `grammar/equation.pest` read into [`crate::ast`] trees.
//!
//! Each builder function below is headed by the grammar rule it consumes. Spans are mapped back
//! into the model file through an [`Origin`]: when the text of the equation appears verbatim in
//! the file (plain or quoted YAML scalars without escapes), every node points at its own
//! characters; otherwise every node points at the whole value.

use crate::ast::{Ast, AstKind, EqKind, Equation, IndexSpec, Name};
use pest::Parser;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use rateforge_ir::{BinOp, Diagnostic, FileId, Span, UnOp};
use std::sync::LazyLock;

#[cfg(test)]
mod tests;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/equation.pest"]
struct EquationParser;

/// Where the text being parsed sits in its file.
#[derive(Clone, Copy, Debug)]
pub struct Origin {
    file: FileId,
    /// Byte offset of the text's first character in the file, when the text is verbatim.
    base: Option<usize>,
    /// The span to use when the text is not verbatim in the file.
    whole: Span,
}

impl Origin {
    /// Text that appears verbatim in `file` starting at byte `base`.
    pub fn exact(file: FileId, base: usize) -> Self {
        Origin {
            file,
            base: Some(base),
            whole: Span::UNDEFINED,
        }
    }

    /// Text that does not appear verbatim (escapes, folded lines): every span is `whole`.
    pub fn whole(whole: Span) -> Self {
        Origin {
            file: whole.file,
            base: None,
            whole,
        }
    }

    /// Maps a byte range of the parsed text to a file span.
    pub fn span(&self, start: usize, end: usize) -> Span {
        match self.base {
            Some(base) => Span::new(self.file, base + start..base + end),
            None => self.whole,
        }
    }
}

/// An edit fragment: `remove: "+ u"`, `append: "+ I"`, `prepend: "I +"`.
#[derive(Clone, Debug)]
pub struct Fragment {
    /// The operator in front of the expression.
    pub lead: Option<BinOp>,
    /// The expression.
    pub expr: Ast,
    /// The operator after the expression.
    pub trail: Option<BinOp>,
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg) | Op::prefix(Rule::pos))
        .op(Op::infix(Rule::pow, Assoc::Right))
});

/// The deepest nesting of parentheses and brackets an equation may have. The parser and the
/// passes after it recurse once per level; real models stay far below this.
pub const MAX_NESTING: usize = 256;

fn run<'a>(rule: Rule, text: &'a str, origin: &Origin) -> Result<Pairs<'a, Rule>, Diagnostic> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(Diagnostic::error(format!(
                "expression nested too deeply (more than {MAX_NESTING} levels)"
            ))
            .with_primary(origin.span(i, i + 1), "too deep")
            .with_help(
                "split the expression into algebraic variables, e.g. `a = ...` then use `a`",
            ));
        }
    }
    pest::set_error_detail(true);
    EquationParser::parse(rule, text)
        .map_err(|e| syntax_error(&e, text, origin, rule == Rule::equation))
}

/// The longest equation or expression text accepted, in bytes.
pub const MAX_LENGTH: usize = 1 << 19;

/// Stack reserved per byte of text while it is parsed: pest's parser and its Pratt parser
/// recurse once per level of nesting (a ternary chain, a chain of unary signs or powers), and
/// the text's length bounds the nesting.
const STACK_PER_BYTE: usize = 4096;

/// Parses `text` on a stack deep enough for any nesting it can have: `parse` runs on a stack of
/// [`STACK_PER_BYTE`] per byte of text (reserved, and touched only as deep as the text nests).
fn on_parse_stack<T>(
    text: &str,
    origin: &Origin,
    parse: impl FnOnce() -> Result<T, Diagnostic>,
) -> Result<T, Diagnostic> {
    if text.len() > MAX_LENGTH {
        return Err(Diagnostic::error(format!(
            "equation too long ({} bytes; at most {MAX_LENGTH})",
            text.len()
        ))
        .with_primary(origin.span(0, text.len()), "this text")
        .with_help("split it into algebraic variables, e.g. `a = ...` then use `a`"));
    }
    rateforge_ir::deep::with_stack(text.len().saturating_mul(STACK_PER_BYTE), parse)
}

/// Parses one equation.
pub fn parse_equation(text: &str, origin: &Origin) -> Result<Equation, Diagnostic> {
    on_parse_stack(text, origin, || {
        let mut pairs = run(Rule::equation, text, origin)?;
        let eq = pairs.next().expect("equation rule");
        build_equation(eq, origin)
    })
}

/// Parses one expression.
pub fn parse_expression(text: &str, origin: &Origin) -> Result<Ast, Diagnostic> {
    on_parse_stack(text, origin, || {
        let mut pairs = run(Rule::expression_only, text, origin)?;
        let top = pairs.next().expect("expression_only rule");
        let expr = top.into_inner().next().expect("expression");
        build_expression(expr, origin)
    })
}

/// Parses an edit fragment.
pub fn parse_fragment(text: &str, origin: &Origin) -> Result<Fragment, Diagnostic> {
    on_parse_stack(text, origin, || parse_fragment_here(text, origin))
}

fn parse_fragment_here(text: &str, origin: &Origin) -> Result<Fragment, Diagnostic> {
    let mut pairs = run(Rule::fragment, text, origin)?;
    let top = pairs.next().expect("fragment rule");
    let (mut lead, mut trail, mut expr) = (None, None, None);
    for p in top.into_inner() {
        match p.as_rule() {
            // fragment_lead = { add | sub | pow | mul | div }
            Rule::fragment_lead => {
                lead = Some(binop(p.into_inner().next().expect("operator").as_rule()))
            }
            // fragment_trail = { add | sub | pow | mul | div }
            Rule::fragment_trail => {
                trail = Some(binop(p.into_inner().next().expect("operator").as_rule()))
            }
            Rule::expression => expr = Some(build_expression(p, origin)?),
            _ => {}
        }
    }
    Ok(Fragment {
        lead,
        expr: expr.expect("fragment expression"),
        trail,
    })
}

fn span_of(p: &Pair<'_, Rule>, origin: &Origin) -> Span {
    let s = p.as_span();
    origin.span(s.start(), s.end())
}

// equation = { SOI ~ lhs ~ assign ~ expression ~ EOI }
fn build_equation(eq: Pair<'_, Rule>, origin: &Origin) -> Result<Equation, Diagnostic> {
    let span = span_of(&eq, origin);
    let mut kind = EqKind::Algebraic;
    let mut target = None;
    let mut compound_assign = None;
    let mut rhs = None;
    for p in eq.into_inner() {
        match p.as_rule() {
            // derivative_lhs = { "d" ~ "/" ~ "dt" ~ !ident_char ~ "*" ~ target }
            // prime_lhs = { target ~ "'" }
            Rule::derivative_lhs | Rule::prime_lhs => {
                kind = EqKind::Differential;
                target = Some(build_target(
                    p.into_inner().next().expect("target"),
                    origin,
                )?);
            }
            // value_lhs = { target }
            Rule::value_lhs => {
                target = Some(build_target(
                    p.into_inner().next().expect("target"),
                    origin,
                )?)
            }
            // assign = { "+=" | "-=" | "*=" | "/=" | "=" }
            Rule::assign if p.as_str() != "=" => compound_assign = Some(span_of(&p, origin)),
            Rule::expression => rhs = Some(build_expression(p, origin)?),
            _ => {}
        }
    }
    let (target, target_index) = target.expect("lhs");
    Ok(Equation {
        kind,
        target,
        target_index,
        compound_assign,
        rhs: rhs.expect("rhs"),
        span,
    })
}

// target = { ident ~ index? }
fn build_target(
    p: Pair<'_, Rule>,
    origin: &Origin,
) -> Result<(Name, Option<IndexSpec>), Diagnostic> {
    let mut inner = p.into_inner();
    let ident = inner.next().expect("ident");
    let name = Name {
        text: ident.as_str().to_string(),
        span: span_of(&ident, origin),
    };
    let index = inner.next().map(|i| build_index(i, origin)).transpose()?;
    Ok((name, index))
}

// expression = { disjunction ~ (question ~ expression ~ ":" ~ expression)? }
fn build_expression(p: Pair<'_, Rule>, origin: &Origin) -> Result<Ast, Diagnostic> {
    let mut inner = p.into_inner();
    let cond = build_logic(inner.next().expect("disjunction"), origin)?;
    // question = { "?" }
    if inner.next().is_none() {
        return Ok(cond);
    }
    let then = build_expression(inner.next().expect("then branch"), origin)?;
    let otherwise = build_expression(inner.next().expect("else branch"), origin)?;
    let span = cond.span.join(otherwise.span);
    Ok(Ast::new(
        AstKind::Cond(Box::new(cond), Box::new(then), Box::new(otherwise)),
        span,
    ))
}

// disjunction = { conjunction ~ (or ~ conjunction)* }
// conjunction = { comparison ~ (and ~ comparison)* }
fn build_logic(p: Pair<'_, Rule>, origin: &Origin) -> Result<Ast, Diagnostic> {
    if p.as_rule() == Rule::comparison {
        return build_comparison(p, origin);
    }
    let mut inner = p.into_inner();
    let mut acc = build_logic(inner.next().expect("operand"), origin)?;
    while let Some(op) = inner.next() {
        let rhs = build_logic(inner.next().expect("operand"), origin)?;
        let span = acc.span.join(rhs.span);
        // or = { "||" | ".or." }, and = { "&&" | ".and." }
        let op = if op.as_rule() == Rule::or {
            BinOp::Or
        } else {
            BinOp::And
        };
        acc = Ast::new(AstKind::Binary(op, Box::new(acc), Box::new(rhs)), span);
    }
    Ok(acc)
}

// comparison = { arith ~ (cmp_op ~ arith)* }
fn build_comparison(p: Pair<'_, Rule>, origin: &Origin) -> Result<Ast, Diagnostic> {
    let mut inner = p.into_inner();
    let first = build_arith(inner.next().expect("arith"), origin)?;
    let Some(op) = inner.next() else {
        return Ok(first);
    };
    let second = build_arith(inner.next().expect("arith"), origin)?;
    if let Some(extra) = inner.next() {
        return Err(Diagnostic::error("comparisons cannot be chained")
            .with_primary(span_of(&extra, origin), "second comparison")
            .with_help(
                "write each comparison separately and combine them, e.g. `(a < b)*(b < c)`",
            ));
    }
    let span = first.span.join(second.span);
    Ok(Ast::new(
        AstKind::Binary(binop(op.as_rule()), Box::new(first), Box::new(second)),
        span,
    ))
}

// arith = { operand ~ (infix ~ operand)* }, precedence from PRATT
fn build_arith(p: Pair<'_, Rule>, origin: &Origin) -> Result<Ast, Diagnostic> {
    PRATT
        .map_primary(|primary| build_primary(primary, origin))
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let span = span_of(&op, origin).join(rhs.span);
            Ok(match op.as_rule() {
                // neg = { "-" }
                Rule::neg => Ast::new(AstKind::Unary(UnOp::Neg, Box::new(rhs)), span),
                // pos = { "+" }
                _ => {
                    let mut rhs = rhs;
                    rhs.span = span;
                    rhs
                }
            })
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let span = lhs.span.join(rhs.span);
            Ok(Ast::new(
                AstKind::Binary(binop(op.as_rule()), Box::new(lhs), Box::new(rhs)),
                span,
            ))
        })
        .parse(p.into_inner())
}

fn binop(rule: Rule) -> BinOp {
    match rule {
        Rule::add => BinOp::Add,
        Rule::sub => BinOp::Sub,
        Rule::mul => BinOp::Mul,
        Rule::div => BinOp::Div,
        Rule::pow => BinOp::Pow,
        Rule::lt => BinOp::Lt,
        Rule::le => BinOp::Le,
        Rule::gt => BinOp::Gt,
        Rule::ge => BinOp::Ge,
        Rule::eq => BinOp::Eq,
        Rule::ne => BinOp::Ne,
        other => unreachable!("not an operator rule: {other:?}"),
    }
}

// primary = _{ number | call | indexed | ident | "(" ~ expression ~ ")" }
fn build_primary(p: Pair<'_, Rule>, origin: &Origin) -> Result<Ast, Diagnostic> {
    let span = span_of(&p, origin);
    match p.as_rule() {
        // number = @{ ... }
        Rule::number => {
            // C's float suffix `1.0f` is the same number.
            let text = p.as_str().strip_suffix('f').unwrap_or(p.as_str());
            let value: f64 = text.parse().map_err(|_| {
                Diagnostic::error(format!("`{}` is not a valid number", p.as_str()))
                    .with_primary(span, "here")
                    .with_help("numbers look like `1`, `1.`, `.5` or `3.25e-3`")
            })?;
            if !value.is_finite() {
                return Err(
                    Diagnostic::error(format!("number `{}` is too large", p.as_str()))
                        .with_primary(span, "does not fit in a 64-bit float")
                        .with_help("the largest finite value is about 1.8e308"),
                );
            }
            Ok(Ast::new(AstKind::Num(value), span))
        }
        // imaginary = @{ ... ~ ^"j" }
        Rule::imaginary => {
            let text = &p.as_str()[..p.as_str().len() - 1];
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() => Ok(Ast::new(AstKind::Imag(value), span)),
                _ => Err(
                    Diagnostic::error(format!("number `{}` is too large", p.as_str()))
                        .with_primary(span, "does not fit in a 64-bit float")
                        .with_help("the largest finite value is about 1.8e308"),
                ),
            }
        }
        // ident = @{ ... }
        Rule::ident => Ok(Ast::new(AstKind::Name(p.as_str().to_string()), span)),
        // call = { ident ~ "(" ~ (expression ~ ("," ~ expression)*)? ~ ")" }
        Rule::call => {
            let mut inner = p.into_inner();
            let ident = inner.next().expect("ident");
            let name = Name {
                text: ident.as_str().to_string(),
                span: span_of(&ident, origin),
            };
            let args = inner
                .map(|a| build_expression(a, origin))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Ast::new(AstKind::Call(name, args), span))
        }
        // indexed = { ident ~ index }
        Rule::indexed => {
            let mut inner = p.into_inner();
            let ident = inner.next().expect("ident");
            let name = Name {
                text: ident.as_str().to_string(),
                span: span_of(&ident, origin),
            };
            let index = build_index(inner.next().expect("index"), origin)?;
            Ok(Ast::new(AstKind::Index(name, index), span))
        }
        // "(" ~ expression ~ ")"
        Rule::expression => build_expression(p, origin),
        other => unreachable!("unexpected primary {other:?}"),
    }
}

// index = { "[" ~ (slice | integer) ~ "]" }
fn build_index(p: Pair<'_, Rule>, origin: &Origin) -> Result<IndexSpec, Diagnostic> {
    let inner = p.into_inner().next().expect("index content");
    let int = |q: Pair<'_, Rule>| -> Result<i64, Diagnostic> {
        q.as_str().parse::<i64>().map_err(|_| {
            Diagnostic::error(format!("index `{}` is out of range", q.as_str()))
                .with_primary(span_of(&q, origin), "here")
                .with_help("indices are small integers, e.g. `a[2]`")
        })
    };
    match inner.as_rule() {
        // integer = @{ "-"? ~ ASCII_DIGIT+ }
        Rule::integer => Ok(IndexSpec::Single(int(inner)?)),
        // slice = { slice_start? ~ ":" ~ slice_end? }
        Rule::slice => {
            let (mut start, mut end) = (None, None);
            for b in inner.into_inner() {
                let v = int(b.clone().into_inner().next().expect("integer"))?;
                match b.as_rule() {
                    Rule::slice_start => start = Some(v),
                    _ => end = Some(v),
                }
            }
            Ok(IndexSpec::Slice(start, end))
        }
        other => unreachable!("unexpected index {other:?}"),
    }
}

/// Describes a grammar rule the parser expected, for error messages.
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::number
        | Rule::imaginary
        | Rule::ident
        | Rule::call
        | Rule::indexed
        | Rule::expression
        | Rule::expression_only
        | Rule::disjunction
        | Rule::conjunction
        | Rule::comparison
        | Rule::dotted_word
        | Rule::arith
        | Rule::operand
        | Rule::primary
        | Rule::prefix
        | Rule::neg
        | Rule::pos => "expression",
        Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::pow
        | Rule::infix
        | Rule::fragment_lead
        | Rule::fragment_trail
        | Rule::and
        | Rule::or => "operator",
        Rule::question => "operator",
        Rule::lt | Rule::le | Rule::gt | Rule::ge | Rule::eq | Rule::ne | Rule::cmp_op => {
            "comparison"
        }
        Rule::assign => "`=`",
        Rule::lhs | Rule::derivative_lhs | Rule::prime_lhs | Rule::value_lhs | Rule::target => {
            "variable name"
        }
        Rule::index | Rule::slice | Rule::slice_start | Rule::slice_end | Rule::integer => {
            "integer index"
        }
        Rule::EOI => "end of text",
        // An equation starts with the variable it defines.
        Rule::equation => "variable name",
        Rule::fragment | Rule::WHITESPACE | Rule::ident_char => "expression",
    }
}

/// Converts a pest error into a diagnostic: `expected X, found Y`, pointing at the position.
fn syntax_error(
    err: &pest::error::Error<Rule>,
    text: &str,
    origin: &Origin,
    equation: bool,
) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let attempts = err.parse_attempts();
    let pos = pos.min(text.len());
    let mut expected: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !expected.contains(&s) {
            expected.push(s);
        }
    };
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for r in positives {
            push(describe(*r).to_string());
        }
    }
    if let Some(a) = attempts.as_ref().filter(|a| a.max_position == pos) {
        // Only closing punctuation is worth naming: `(` and `[` could follow any name.
        for t in a.expected_tokens() {
            let token = t.to_string();
            if matches!(token.as_str(), ")" | "}" | "," | "]" | "'" | "=" | ":") {
                push(format!("`{token}`"));
            }
        }
    }
    // `[` may follow any name; mention indexing only when nothing else fits.
    if expected.len() > 1 {
        expected.retain(|e| e != "integer index");
    }
    // Operators are spelled out once; "expression" first reads best.
    expected.sort_by_key(|e| match e.as_str() {
        "expression" => 0,
        "variable name" => 1,
        "operator" => 2,
        "comparison" => 3,
        _ => 4,
    });
    let expected = match expected.len() {
        0 => "valid syntax".to_string(),
        1 => a_or_an(&expected[0]),
        _ => {
            let last = expected.pop().unwrap_or_default();
            format!(
                "{} or {}",
                expected
                    .iter()
                    .map(|e| a_or_an(e))
                    .collect::<Vec<_>>()
                    .join(", "),
                a_or_an(&last)
            )
        }
    };
    let rest = &text[pos..];
    let (found, len) = match rest.chars().next() {
        None => ("end of text".to_string(), 0),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
            let tok: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            (format!("`{tok}`"), tok.len())
        }
        Some(c) => (format!("`{c}`"), c.len_utf8()),
    };
    let span = origin.span(pos, pos + len.max(if pos < text.len() { 1 } else { 0 }));
    let mut d = Diagnostic::error(format!("expected {expected}, found {found}"))
        .with_primary(span, format!("expected {expected}"));
    let help = syntax_help(text, pos, equation).unwrap_or_else(|| {
        if expected.starts_with("an expression") {
            "an operand belongs here: a number, a name, a function call or an expression in parentheses".to_string()
        } else if expected.contains("operator") {
            "join operands with an operator such as `+`, `-`, `*`, `/` or `^`".to_string()
                } else if equation {
            "equations look like `d/dt * x = -x/tau`, `x' = ...` or `y = 2*x`".to_string()
        } else {
            "expressions look like `a*(v - v0)/tau` or `exp(-x^2)`".to_string()
        }
    });
    d = d.with_help(help);
    d
}

fn a_or_an(what: &str) -> String {
    if what.starts_with('`') || what.starts_with("end") {
        what.to_string()
    } else if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {what}")
    } else {
        format!("a {what}")
    }
}

/// A hint for common mistakes at the failure position.
fn syntax_help(text: &str, pos: usize, equation: bool) -> Option<String> {
    let rest = &text[pos..];
    let opens = text.matches('(').count();
    let closes = text.matches(')').count();
    if equation && !text.contains('=') {
        return Some("an equation needs `=`, e.g. `d/dt * x = -x/tau` or `y = 2*x`".into());
    }
    if opens > closes && rest.trim().is_empty() {
        return Some(format!("{} unclosed `(`", opens - closes));
    }
    if closes > opens && rest.starts_with(')') {
        return Some("this `)` has no matching `(`".into());
    }

    if rest.starts_with('=') && !rest.starts_with("==") {
        return Some("an equation has exactly one `=`; use `==` to compare".into());
    }
    let before = &text[..pos];
    // Inside brackets: a name, an expression or a fraction where an integer constant belongs.
    if before.matches('[').count() > before.matches(']').count()
        && rest.starts_with(|c: char| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '(' | '.' | '+' | '-' | '*' | '/')
        })
    {
        return Some(
            "an index is an integer constant, e.g. `a[0]`, `a[-1]` or a slice `a[1:3]`; indexing by a variable is not supported".into(),
        );
    }
    None
}

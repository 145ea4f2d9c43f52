//! The syntax tree of equations, and the PyRates template edits (`replace`, `remove`, `append`,
//! `prepend`) applied on it.
//!
//! Edits work on the tree, never on text, so a replacement never matches inside a longer name and
//! never changes operator precedence. To give the same result as PyRates' token-aware text
//! replacement wherever that is well defined, sums and products are compared as *chains*:
//! `a - b + c` is the chain `[+a, -b, +c]`, `x*2.0*r*v` is `[*x, *2.0, *r, *v]`. A pattern chain
//! such as `2.0*r*v` matches any run of neighbouring items with the same operators whose first
//! item is not divided or subtracted (`x/2.0*r*v` does not contain `2.0*r*v` mathematically, so it
//! does not match). A replacement that is a chain of the same kind is spliced into the chain.

use rateforge_ir::{BinOp, Span, UnOp, deep};

/// An expression node with the span of its source text.
///
/// Trees are as deep as the input (a sum of 10^5 terms is 10^5 levels deep), so cloning and
/// dropping go through [`rateforge_ir::deep`] at every level, like every pass over them.
#[derive(Debug)]
pub struct Ast {
    /// What it is.
    pub kind: AstKind,
    /// Where it was written.
    pub span: Span,
}

/// Expression node kinds.
#[derive(Clone, Debug)]
pub enum AstKind {
    /// A number literal.
    Num(f64),
    /// An imaginary literal `2.5j`: the number times the imaginary unit.
    Imag(f64),
    /// A name: a variable, `t` or a constant.
    Name(String),
    /// `name[index]`.
    Index(Name, IndexSpec),
    /// `name(args...)`.
    Call(Name, Vec<Ast>),
    /// `-x`.
    Unary(UnOp, Box<Ast>),
    /// `a op b`.
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// `cond ? a : b`: `a` where `cond` is nonzero, else `b`.
    Cond(Box<Ast>, Box<Ast>, Box<Ast>),
}

/// A name with its own span.
#[derive(Clone, Debug)]
pub struct Name {
    /// The identifier.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

/// A constant index: one element or a slice (0-based, end exclusive, negative from the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexSpec {
    /// `a[i]`.
    Single(i64),
    /// `a[start:end]`.
    Slice(Option<i64>, Option<i64>),
}

/// Whether an equation defines a derivative or a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EqKind {
    /// `d/dt * x = ...` or `x' = ...`.
    Differential,
    /// `x = ...`.
    Algebraic,
}

/// One parsed equation.
#[derive(Clone, Debug)]
pub struct Equation {
    /// Differential or algebraic.
    pub kind: EqKind,
    /// The defined variable.
    pub target: Name,
    /// An element index on the left-hand side, if any.
    pub target_index: Option<IndexSpec>,
    /// The span of a compound assignment operator (`+=` ...), which PyRates treats as `=`.
    pub compound_assign: Option<Span>,
    /// The right-hand side.
    pub rhs: Ast,
    /// The whole equation.
    pub span: Span,
}

impl Clone for Ast {
    fn clone(&self) -> Self {
        deep(|| Ast {
            kind: self.kind.clone(),
            span: self.span,
        })
    }
}

impl Drop for Ast {
    fn drop(&mut self) {
        if let AstKind::Unary(..) | AstKind::Binary(..) | AstKind::Cond(..) | AstKind::Call(..) =
            self.kind
        {
            let kind = std::mem::replace(&mut self.kind, AstKind::Num(0.0));
            deep(move || drop(kind));
        }
    }
}

impl Ast {
    /// A node with a span.
    pub fn new(kind: AstKind, span: Span) -> Self {
        Ast { kind, span }
    }

    /// The node's kind, taken out of it.
    pub fn into_kind(mut self) -> AstKind {
        std::mem::replace(&mut self.kind, AstKind::Num(0.0))
    }

    /// Structural equality, ignoring spans.
    pub fn same(&self, other: &Ast) -> bool {
        deep(|| self.same_node(other))
    }

    fn same_node(&self, other: &Ast) -> bool {
        match (&self.kind, &other.kind) {
            (AstKind::Num(a), AstKind::Num(b)) | (AstKind::Imag(a), AstKind::Imag(b)) => a == b,
            (AstKind::Name(a), AstKind::Name(b)) => a == b,
            (AstKind::Index(a, i), AstKind::Index(b, j)) => a.text == b.text && i == j,
            (AstKind::Call(f, a), AstKind::Call(g, b)) => {
                f.text == g.text && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (AstKind::Unary(o, a), AstKind::Unary(p, b)) => o == p && a.same(b),
            (AstKind::Binary(o, a, b), AstKind::Binary(p, c, d)) => {
                o == p && a.same(c) && b.same(d)
            }
            (AstKind::Cond(a, b, c), AstKind::Cond(d, e, f)) => a.same(d) && b.same(e) && c.same(f),
            _ => false,
        }
    }

    /// Calls `visit` on every node, parents before children.
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Ast)) {
        deep(|| self.walk_node(visit));
    }

    fn walk_node<'a>(&'a self, visit: &mut impl FnMut(&'a Ast)) {
        visit(self);
        match &self.kind {
            AstKind::Num(_) | AstKind::Imag(_) | AstKind::Name(_) | AstKind::Index(..) => {}
            AstKind::Call(_, args) => args.iter().for_each(|a| a.walk(visit)),
            AstKind::Unary(_, a) => a.walk(visit),
            AstKind::Binary(_, a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            AstKind::Cond(c, a, b) => {
                c.walk(visit);
                a.walk(visit);
                b.walk(visit);
            }
        }
    }

    /// Every name this expression reads (variables and constants, not function names), with
    /// spans, in source order.
    pub fn names(&self) -> Vec<(&str, Span)> {
        let mut out = Vec::new();
        self.walk(&mut |n| match &n.kind {
            AstKind::Name(name) => out.push((name.as_str(), n.span)),
            AstKind::Index(name, _) => out.push((name.text.as_str(), name.span)),
            _ => {}
        });
        out
    }
}

/// Which kind of chain a binary operator forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Additive,
    Multiplicative,
}

fn class_of(op: BinOp) -> Option<Class> {
    match op {
        BinOp::Add | BinOp::Sub => Some(Class::Additive),
        BinOp::Mul | BinOp::Div => Some(Class::Multiplicative),
        _ => None,
    }
}

fn positive(class: Class) -> BinOp {
    match class {
        Class::Additive => BinOp::Add,
        Class::Multiplicative => BinOp::Mul,
    }
}

/// A chain item: the operator that joins it to what precedes (the head gets the positive one).
type Item = (BinOp, Ast);

fn chain_class(ast: &Ast) -> Option<Class> {
    match &ast.kind {
        AstKind::Binary(op, ..) => class_of(*op),
        _ => None,
    }
}

/// The items of the chain at `ast`, walking down its left spine without recursion.
fn flatten(ast: Ast, class: Class, out: &mut Vec<Item>) {
    let mut right = Vec::new();
    let mut node = ast;
    loop {
        let span = node.span;
        match node.into_kind() {
            AstKind::Binary(op, l, r) if class_of(op) == Some(class) => {
                right.push((op, *r));
                node = *l;
            }
            kind => {
                out.push((positive(class), Ast { kind, span }));
                break;
            }
        }
    }
    out.extend(right.into_iter().rev());
}

fn chain_of(ast: &Ast, class: Class) -> Vec<Item> {
    let mut out = Vec::new();
    flatten(ast.clone(), class, &mut out);
    out
}

/// Rebuilds a left-associative tree from chain items; `None` if there are none.
fn rebuild(items: Vec<Item>, class: Class) -> Option<Ast> {
    let mut iter = items.into_iter();
    let (head_op, head) = iter.next()?;
    let mut acc = if head_op == positive(class) {
        head
    } else if head_op == BinOp::Sub {
        let span = head.span;
        Ast::new(AstKind::Unary(UnOp::Neg, Box::new(head)), span)
    } else {
        let span = head.span;
        let one = Ast::new(AstKind::Num(1.0), span);
        Ast::new(
            AstKind::Binary(BinOp::Div, Box::new(one), Box::new(head)),
            span,
        )
    };
    for (op, term) in iter {
        let span = acc.span.join(term.span);
        acc = Ast::new(AstKind::Binary(op, Box::new(acc), Box::new(term)), span);
    }
    Some(acc)
}

/// A pattern for replacement or removal.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The operator in front of the pattern (`remove: "+ u"`), if any.
    pub lead: Option<BinOp>,
    /// The pattern expression.
    pub expr: Ast,
}

impl Pattern {
    /// The pattern as chain items of `class`, with the lead operator on the first item.
    fn items(&self, class: Class) -> Vec<Item> {
        let mut items = chain_of(&self.expr, class);
        if let Some(lead) = self.lead {
            items[0].0 = lead;
        }
        items
    }

    /// The chain class the pattern must be matched in, if it is a chain or has a lead operator.
    fn class(&self) -> Option<Class> {
        self.lead
            .and_then(class_of)
            .or_else(|| chain_class(&self.expr))
    }
}

/// Finds non-overlapping windows of `items` matching `pat` (left to right). The first pattern
/// item matches an item with the same operator, or — when the pattern has no explicit lead — any
/// item joined by the positive operator (or the head).
fn find_windows(items: &[Item], pat: &[Item], explicit_lead: bool, class: Class) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + pat.len() <= items.len() {
        let lead_ok = if explicit_lead {
            items[i].0 == pat[0].0 || (i == 0 && pat[0].0 == positive(class))
        } else {
            items[i].0 == positive(class) || i == 0
        };
        let rest_ok = pat
            .iter()
            .enumerate()
            .skip(1)
            .all(|(j, (op, t))| items[i + j].0 == *op && items[i + j].1.same(t));
        if lead_ok && rest_ok && items[i].1.same(&pat[0].1) {
            found.push(i);
            i += pat.len();
        } else {
            i += 1;
        }
    }
    found
}

/// Replaces every occurrence of `pattern` in `ast` by `replacement` (or removes it when
/// `replacement` is `None`), top-down, never re-scanning inserted text. Returns the new tree and
/// the number of occurrences; `None` as tree means everything was removed.
pub fn rewrite(
    ast: Ast,
    pattern: &Pattern,
    replacement: Option<&Ast>,
    count: &mut usize,
) -> Option<Ast> {
    deep(|| rewrite_node(ast, pattern, replacement, count))
}

fn rewrite_node(
    ast: Ast,
    pattern: &Pattern,
    replacement: Option<&Ast>,
    count: &mut usize,
) -> Option<Ast> {
    // Whole-node match of a non-chain pattern without lead operator.
    if pattern.lead.is_none() && pattern.class().is_none() && ast.same(&pattern.expr) {
        *count += 1;
        return replacement.cloned();
    }
    // Chain-level matching.
    if let Some(class) = chain_class(&ast) {
        let span = ast.span;
        let items = chain_of(&ast, class);
        let mut out: Vec<Item> = Vec::with_capacity(items.len());
        let windows = match pattern.class() {
            Some(pc) if pc == class => {
                find_windows(&items, &pattern.items(class), pattern.lead.is_some(), class)
            }
            // A single-term pattern with a lead operator also matches inside chains of its class.
            _ => Vec::new(),
        };
        let plen = if windows.is_empty() {
            0
        } else {
            pattern.items(class).len()
        };
        let mut i = 0;
        while i < items.len() {
            if windows.contains(&i) {
                *count += 1;
                if let Some(rep) = replacement {
                    let lead = items[i].0;
                    if chain_class(rep) == Some(class) {
                        let mut rep_items = chain_of(rep, class);
                        if lead != positive(class) {
                            // `a - (b + c)`: a lead minus applies to the whole replacement.
                            out.push((lead, rep.clone()));
                        } else {
                            rep_items[0].0 = lead;
                            out.extend(rep_items);
                        }
                    } else {
                        out.push((lead, rep.clone()));
                    }
                }
                i += plen;
            } else {
                let (op, term) = items[i].clone();
                if let Some(t) = rewrite_children(term, pattern, replacement, count) {
                    out.push((op, t));
                }
                i += 1;
            }
        }
        return rebuild(out, class).map(|mut a| {
            if a.span.is_defined() && span.is_defined() && a.span.file == span.file {
                a.span = span;
            }
            a
        });
    }
    rewrite_children(ast, pattern, replacement, count)
}

/// Applies [`rewrite`] to the children of a node that is not itself a chain of the pattern's
/// class (a chain's items are handled by the caller).
fn rewrite_children(
    ast: Ast,
    pattern: &Pattern,
    replacement: Option<&Ast>,
    count: &mut usize,
) -> Option<Ast> {
    if pattern.lead.is_none() && pattern.class().is_none() && ast.same(&pattern.expr) {
        *count += 1;
        return replacement.cloned();
    }
    if chain_class(&ast).is_some() {
        return rewrite(ast, pattern, replacement, count);
    }
    let span = ast.span;
    let kind = match ast.into_kind() {
        AstKind::Call(name, args) => {
            let name = rename(name, pattern, replacement, count);
            let mut new_args = Vec::with_capacity(args.len());
            for a in args {
                // A removed argument would change the call's arity: keep it instead.
                new_args.push(rewrite_or_keep(a, pattern, replacement, count));
            }
            AstKind::Call(name, new_args)
        }
        AstKind::Index(name, idx) => AstKind::Index(rename(name, pattern, replacement, count), idx),
        AstKind::Unary(op, a) => AstKind::Unary(
            op,
            Box::new(rewrite_or_keep(*a, pattern, replacement, count)),
        ),
        AstKind::Binary(op, a, b) => {
            let a = rewrite_or_keep(*a, pattern, replacement, count);
            let b = rewrite_or_keep(*b, pattern, replacement, count);
            AstKind::Binary(op, Box::new(a), Box::new(b))
        }
        AstKind::Cond(c, a, b) => {
            let c = rewrite_or_keep(*c, pattern, replacement, count);
            let a = rewrite_or_keep(*a, pattern, replacement, count);
            let b = rewrite_or_keep(*b, pattern, replacement, count);
            AstKind::Cond(Box::new(c), Box::new(a), Box::new(b))
        }
        other => other,
    };
    Some(Ast { kind, span })
}

/// [`rewrite`] on an operand that must not disappear: when everything in it is removed, the
/// operand is kept as it was (a replacement never removes anything, so nothing is copied then).
fn rewrite_or_keep(
    ast: Ast,
    pattern: &Pattern,
    replacement: Option<&Ast>,
    count: &mut usize,
) -> Ast {
    let keep = replacement.is_none().then(|| ast.clone());
    match rewrite(ast, pattern, replacement, count) {
        Some(a) => a,
        None => keep.expect("only a removal removes a whole operand"),
    }
}

/// Renames a function or indexed name when the pattern and the replacement are both plain names
/// (PyRates' text replacement renames `exp(` as well).
fn rename(name: Name, pattern: &Pattern, replacement: Option<&Ast>, count: &mut usize) -> Name {
    if let (
        None,
        AstKind::Name(from),
        Some(Ast {
            kind: AstKind::Name(to),
            span,
        }),
    ) = (pattern.lead, &pattern.expr.kind, replacement)
        && *from == name.text
    {
        *count += 1;
        return Name {
            text: to.clone(),
            span: *span,
        };
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::equation::{Origin, parse_expression};
    use rateforge_ir::SourceMap;

    fn parse(text: &str) -> Ast {
        let mut sources = SourceMap::new();
        let file = sources.add("t", text);
        parse_expression(text, &Origin::exact(file, 0)).unwrap()
    }

    fn show(a: &Ast) -> String {
        match &a.kind {
            AstKind::Num(v) => format!("{v}"),
            AstKind::Imag(v) => format!("{v}j"),
            AstKind::Name(n) => n.clone(),
            AstKind::Index(n, IndexSpec::Single(i)) => format!("{}[{i}]", n.text),
            AstKind::Index(n, IndexSpec::Slice(a, b)) => format!("{}[{a:?}:{b:?}]", n.text),
            AstKind::Call(f, args) => {
                format!(
                    "{}({})",
                    f.text,
                    args.iter().map(show).collect::<Vec<_>>().join(", ")
                )
            }
            AstKind::Unary(_, x) => format!("(-{})", show(x)),
            AstKind::Binary(op, x, y) => format!("({} {} {})", show(x), op.symbol(), show(y)),
            AstKind::Cond(c, x, y) => format!("({} ? {} : {})", show(c), show(x), show(y)),
        }
    }

    fn replace(expr: &str, pat: &str, rep: &str) -> (String, usize) {
        let pattern = Pattern {
            lead: None,
            expr: parse(pat),
        };
        let mut n = 0;
        let out = rewrite(parse(expr), &pattern, Some(&parse(rep)), &mut n).unwrap();
        (show(&out), n)
    }

    fn remove(expr: &str, lead: Option<BinOp>, pat: &str) -> (Option<String>, usize) {
        let pattern = Pattern {
            lead,
            expr: parse(pat),
        };
        let mut n = 0;
        let out = rewrite(parse(expr), &pattern, None, &mut n);
        (out.as_ref().map(show), n)
    }

    #[test]
    fn replaces_names_not_substrings() {
        assert_eq!(
            replace("h*m_in/tau + r_in", "m_in", "(m_in + u)"),
            ("(((h * (m_in + u)) / tau) + r_in)".into(), 1)
        );
        assert_eq!(
            replace("r + r_in*r", "r", "v"),
            ("(v + (r_in * v))".into(), 2)
        );
        assert_eq!(
            replace("exp(s*(r_thr - r))", "r_thr", "v_thr"),
            ("exp((s * (v_thr - r)))".into(), 1)
        );
        assert_eq!(
            replace("exp(x)", "exp", "sigmoid"),
            ("sigmoid(x)".into(), 1)
        );
    }

    #[test]
    fn replaces_product_chains_like_text_would() {
        // PyRates' own example: `2.0*r*v: r*(2.0*v-g)`.
        assert_eq!(
            replace("Delta/(pi*tau) + 2.0*r*v", "2.0*r*v", "r*(2.0*v-g)"),
            ("((Delta / (pi * tau)) + (r * ((2 * v) - g)))".into(), 1)
        );
        assert_eq!(replace("x*2.0*r*v", "2.0*r*v", "q"), ("(x * q)".into(), 1));
        assert_eq!(
            replace("x*2.0*r*v", "2.0*r*v", "a*b"),
            ("((x * a) * b)".into(), 1)
        );
        // Mathematically not a sub-product: no match.
        assert_eq!(replace("x/2.0*r*v", "2.0*r*v", "q").1, 0);
        assert_eq!(replace("a + b + c", "b + c", "d").0, "(a + d)");
        assert_eq!(replace("a - b + c", "b + c", "d").1, 0);
        assert_eq!(replace("a - (b + c)", "b + c", "d").0, "(a - d)");
    }

    #[test]
    fn removes_terms() {
        assert_eq!(
            remove("a + u - b", Some(BinOp::Add), "u"),
            (Some("(a - b)".into()), 1)
        );
        assert_eq!(
            remove("u + a", Some(BinOp::Add), "u"),
            (Some("a".into()), 1)
        );
        assert_eq!(
            remove("u - a", Some(BinOp::Add), "u"),
            (Some("(-a)".into()), 1)
        );
        assert_eq!(remove("a - u", Some(BinOp::Add), "u").1, 0);
        assert_eq!(
            remove("a - u", Some(BinOp::Sub), "u"),
            (Some("a".into()), 1)
        );
        assert_eq!(
            remove("x*k/tau", Some(BinOp::Div), "tau"),
            (Some("(x * k)".into()), 1)
        );
        assert_eq!(remove("u", None, "u"), (None, 1));
    }
}

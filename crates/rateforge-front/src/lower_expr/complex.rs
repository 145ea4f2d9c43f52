//! Complex arithmetic on pairs of real IR expressions.
//!
//! A complex element is `(re, Some(im))`; a real one taking part in complex arithmetic is
//! `(re, None)`, so no zero imaginary parts are multiplied through. The formulas are the
//! textbook ones (numpy's for `+ - *`; division by `c + di` multiplies by the conjugate and
//! divides by `c^2 + d^2`), integer powers are products by repeated squaring, so results agree
//! with numpy to rounding.
//!
//! Those formulas read operands more than once (`re*re - im*im`), so a chain such as
//! `z*z*z*...` would double the written-out size of its parts at every step. A part larger than
//! [`SHARE_LIMIT`] nodes that a formula reads twice is therefore computed once, as an algebraic
//! variable `<variable>#cN` (see [`Lowerer::temp_prefix`]), and read by name: sizes stay bounded
//! whatever the input.

use super::{Func, Lowerer, Value, signature};
use rateforge_ir::expr::POWI_MAX;
use rateforge_ir::{BinOp, Builtin, DerivedKind, Diagnostic, Expr, Handle, Span, UnOp};

/// The most expression nodes a part may have and still be written out where a formula reads it
/// twice.
const SHARE_LIMIT: usize = 16;

/// One element: real part and imaginary part (`None`: zero).
type Parts = (Handle<Expr>, Option<Handle<Expr>>);

/// The functions that take complex values apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// `conj(z)`: `re - i im`.
    Conj,
    /// `real(z)`.
    Real,
    /// `imag(z)`.
    Imag,
    /// `angle(z)`: the argument in `(-pi, pi]`, numpy's `angle` (`atan2(im, re)`).
    Angle,
}

/// The error for a complex value where only real ones are allowed.
pub(super) fn complex_not_supported(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{what} cannot take a complex value"))
        .with_primary(span, "complex")
        .with_help(
            "complex values support `+ - * /`, integer powers, `conj`, `real`, `imag`, `abs`, `angle` and `exp`; take `real(...)`, `imag(...)` or `abs(...)` first",
        )
}

fn element(v: &Value, i: usize) -> Parts {
    let k = if v.vector { i } else { 0 };
    (v.elems[k], v.im.as_ref().map(|im| im[k]))
}

impl Lowerer<'_> {
    /// Joins elements into a value; complex when any element has an imaginary part (the others
    /// get a literal zero).
    fn join(&mut self, parts: Vec<Parts>, vector: bool, span: Span) -> Value {
        let complex = parts.iter().any(|(_, im)| im.is_some());
        let mut elems = Vec::with_capacity(parts.len());
        let mut ims = Vec::with_capacity(parts.len());
        for (re, im) in parts {
            elems.push(re);
            if complex {
                ims.push(im.unwrap_or_else(|| self.lit(0.0, span)));
            }
        }
        Value {
            elems,
            vector,
            im: complex.then_some(ims),
        }
    }

    /// Whether the written-out tree of `h` has more than [`SHARE_LIMIT`] nodes.
    fn large(&self, h: Handle<Expr>) -> bool {
        let mut stack = vec![h];
        let mut seen = 0;
        while let Some(e) = stack.pop() {
            seen += 1;
            if seen > SHARE_LIMIT {
                return true;
            }
            stack.extend(self.model.operands(e));
        }
        false
    }

    /// `h`, for a formula that reads it more than once: a large expression becomes an algebraic
    /// variable, read by name.
    fn once(&mut self, h: Handle<Expr>, span: Span) -> Handle<Expr> {
        if !self.large(h) {
            return h;
        }
        let mut n = 1;
        let name = loop {
            let name = format!("{}#c{n}", self.temp_prefix);
            if self.model.lookup(&name).is_none() {
                break name;
            }
            n += 1;
        };
        let d = self
            .model
            .add_derived(&name, h, DerivedKind::Equation, span)
            .expect("a name not taken");
        self.model.add_expr(Expr::Derived(d), span)
    }

    /// [`Lowerer::once`] of both parts.
    fn once_parts(&mut self, (re, im): Parts, span: Span) -> Parts {
        (self.once(re, span), im.map(|x| self.once(x, span)))
    }

    fn neg(&mut self, x: Handle<Expr>, span: Span) -> Handle<Expr> {
        self.unary(UnOp::Neg, x, span)
    }

    /// `-z`; `!z` is an error.
    pub(super) fn complex_unary(&mut self, op: UnOp, a: &Value, span: Span) -> Option<Value> {
        if op != UnOp::Neg {
            self.diags
                .push(complex_not_supported("a logical `not`", span));
            return None;
        }
        let parts = (0..a.elems.len())
            .map(|i| {
                let (re, im) = element(a, i);
                (self.neg(re, span), im.map(|x| self.neg(x, span)))
            })
            .collect();
        Some(self.join(parts, a.vector, span))
    }

    /// `a op b` with at least one complex operand.
    pub(super) fn complex_binary(
        &mut self,
        op: BinOp,
        a: &Value,
        b: &Value,
        span: Span,
    ) -> Option<Value> {
        let n = self.broadcast_len(a, b, span)?;
        let vector = a.vector || b.vector;
        let mut parts = Vec::with_capacity(n);
        for i in 0..n {
            let (x, y) = (element(a, i), element(b, i));
            parts.push(match op {
                BinOp::Add | BinOp::Sub => self.c_add(op, x, y, span),
                BinOp::Mul => self.c_mul(x, y, span),
                BinOp::Div => self.c_div(x, y, span),
                BinOp::Pow => {
                    let exponent = match y {
                        (e, None) => self.literal_of(e),
                        _ => None,
                    };
                    match exponent {
                        Some(k) if k == k.trunc() && k.abs() <= f64::from(POWI_MAX) => {
                            self.c_powi(x, k as i32, span)
                        }
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    "a complex value can only be raised to a whole-number power",
                                )
                                .with_primary(span, "complex power")
                                .with_help(format!(
                                    "write the exponent as a whole number from -{POWI_MAX} to {POWI_MAX}, e.g. `z^2`"
                                )),
                            );
                            return None;
                        }
                    }
                }
                _ => {
                    self.diags.push(complex_not_supported(
                        &format!("the operator `{}`", op.symbol()),
                        span,
                    ));
                    return None;
                }
            });
        }
        Some(self.join(parts, vector, span))
    }

    /// `c ? a : b` with a complex branch, part by part.
    pub(super) fn complex_select(
        &mut self,
        c: &Value,
        a: &Value,
        b: &Value,
        span: Span,
    ) -> Option<Value> {
        let n = self.select_len([c, a, b], span)?;
        let mut parts = Vec::with_capacity(n);
        for i in 0..n {
            let cond = self.once(element(c, i).0, span);
            let ((ar, ai), (br, bi)) = (element(a, i), element(b, i));
            let re = self.select(cond, ar, br, span);
            let zero = self.lit(0.0, span);
            let im = self.select(cond, ai.unwrap_or(zero), bi.unwrap_or(zero), span);
            parts.push((re, Some(im)));
        }
        Some(self.join(parts, c.vector || a.vector || b.vector, span))
    }

    /// `conj`, `real`, `imag` and `angle`, of complex or real values.
    pub(super) fn complex_part(&mut self, part: Part, z: &Value, span: Span) -> Value {
        let parts = (0..z.elems.len())
            .map(|i| {
                let (re, im) = element(z, i);
                match part {
                    Part::Conj => (re, im.map(|x| self.neg(x, span))),
                    Part::Real => (re, None),
                    Part::Imag => (im.unwrap_or_else(|| self.lit(0.0, span)), None),
                    Part::Angle => {
                        let zero = self.lit(0.0, span);
                        (self.atan2(im.unwrap_or(zero), re, span), None)
                    }
                }
            })
            .collect();
        self.join(parts, z.vector, span)
    }

    /// A function of complex arguments: `exp`, `abs`, `float`, `pow`, `sum`, `mean`; others are
    /// errors.
    pub(super) fn complex_call(
        &mut self,
        func: &Func,
        name: &str,
        vals: &[Value],
        span: Span,
    ) -> Option<Value> {
        let z = &vals[0];
        let each = |this: &mut Self, f: &mut dyn FnMut(&mut Self, Parts) -> Parts| {
            let parts = (0..z.elems.len()).map(|i| f(this, element(z, i))).collect();
            this.join(parts, z.vector, span)
        };
        match func {
            Func::Builtin(Builtin::Exp) => Some(each(self, &mut |this, (re, im)| {
                let m = this.builtin(Builtin::Exp, vec![re], span);
                match im {
                    None => (m, None),
                    Some(im) => {
                        let (m, im) = (this.once(m, span), this.once(im, span));
                        let c = this.builtin(Builtin::Cos, vec![im], span);
                        let s = this.builtin(Builtin::Sin, vec![im], span);
                        (
                            this.binary(BinOp::Mul, m, c, span),
                            Some(this.binary(BinOp::Mul, m, s, span)),
                        )
                    }
                }
            })),
            Func::Builtin(Builtin::Abs) => Some(each(self, &mut |this, (re, im)| match im {
                None => (this.builtin(Builtin::Abs, vec![re], span), None),
                Some(im) => (this.modulus(re, im, span), None),
            })),
            Func::Float => Some(z.clone()),
            Func::Pow => self.complex_binary(BinOp::Pow, z, &vals[1], span),
            Func::Sum | Func::Mean => {
                let mut acc = element(z, 0);
                for i in 1..z.elems.len() {
                    acc = self.c_add(BinOp::Add, acc, element(z, i), span);
                }
                if matches!(func, Func::Mean) {
                    let n = self.lit(z.elems.len() as f64, span);
                    acc = self.c_div(acc, (n, None), span);
                }
                Some(self.join(vec![acc], false, span))
            }
            _ => {
                self.diags.push(
                    complex_not_supported(&format!("`{name}`"), span)
                        .with_note(format!("usage: {}", signature(name))),
                );
                None
            }
        }
    }

    fn c_add(&mut self, op: BinOp, (ar, ai): Parts, (br, bi): Parts, span: Span) -> Parts {
        let re = self.binary(op, ar, br, span);
        let im = match (ai, bi) {
            // `z + conj(z)`, `z - z`: the imaginary parts cancel exactly, the value is real.
            (Some(x), Some(y)) if self.cancels(op, x, y) => None,
            (Some(x), Some(y)) => Some(self.binary(op, x, y, span)),
            (Some(x), None) => Some(x),
            (None, Some(y)) if op == BinOp::Sub => Some(self.neg(y, span)),
            (None, y) => y,
        };
        (re, im)
    }

    /// Whether `x op y` is exactly zero for every value: `x - x`, `x + -x`, `-x + x`.
    fn cancels(&self, op: BinOp, x: Handle<Expr>, y: Handle<Expr>) -> bool {
        let negates = |a: Handle<Expr>, b: Handle<Expr>| matches!(self.model.exprs[a], Expr::Unary(UnOp::Neg, inner) if self.same_leaf(inner, b));
        match op {
            BinOp::Sub => self.same_leaf(x, y),
            BinOp::Add => negates(x, y) || negates(y, x),
            _ => false,
        }
    }

    /// Whether two expressions are the same variable (or the same node).
    fn same_leaf(&self, a: Handle<Expr>, b: Handle<Expr>) -> bool {
        a == b
            || matches!(
                (&self.model.exprs[a], &self.model.exprs[b]),
                (Expr::State(x), Expr::State(y)) if x == y
            )
            || matches!(
                (&self.model.exprs[a], &self.model.exprs[b]),
                (Expr::Param(x), Expr::Param(y)) if x == y
            )
            || matches!(
                (&self.model.exprs[a], &self.model.exprs[b]),
                (Expr::Derived(x), Expr::Derived(y)) if x == y
            )
    }

    fn c_mul(&mut self, a: Parts, b: Parts, span: Span) -> Parts {
        // Each part of a complex operand is read twice (a real operand's part, by the other's).
        let (a, b) = match (a.1, b.1) {
            (None, None) => (a, b),
            (Some(_), None) => (a, self.once_parts(b, span)),
            (None, Some(_)) => (self.once_parts(a, span), b),
            (Some(_), Some(_)) => (self.once_parts(a, span), self.once_parts(b, span)),
        };
        let ((ar, ai), (br, bi)) = (a, b);
        let mul = |this: &mut Self, x, y| this.binary(BinOp::Mul, x, y, span);
        match (ai, bi) {
            (None, None) => (mul(self, ar, br), None),
            (Some(ai), None) => (mul(self, ar, br), Some(mul(self, ai, br))),
            (None, Some(bi)) => (mul(self, ar, br), Some(mul(self, ar, bi))),
            (Some(ai), Some(bi)) => {
                let (rr, ii) = (mul(self, ar, br), mul(self, ai, bi));
                let (ri, ir) = (mul(self, ar, bi), mul(self, ai, br));
                (
                    self.binary(BinOp::Sub, rr, ii, span),
                    Some(self.binary(BinOp::Add, ri, ir, span)),
                )
            }
        }
    }

    fn c_div(&mut self, a: Parts, b: Parts, span: Span) -> Parts {
        let (br, bi) = self.once_parts(b, span);
        let div = |this: &mut Self, x, y| this.binary(BinOp::Div, x, y, span);
        match bi {
            None => (div(self, a.0, br), a.1.map(|x| div(self, x, br))),
            Some(bi) => {
                // a * conj(b) / |b|^2
                let (b2r, b2i) = (
                    self.binary(BinOp::Mul, br, br, span),
                    self.binary(BinOp::Mul, bi, bi, span),
                );
                let den = self.binary(BinOp::Add, b2r, b2i, span);
                let conj = (br, Some(self.neg(bi, span)));
                let (nr, ni) = self.c_mul(a, conj, span);
                (div(self, nr, den), ni.map(|x| div(self, x, den)))
            }
        }
    }

    /// `z^k` for a whole number `|k| <= POWI_MAX`, by repeated squaring.
    fn c_powi(&mut self, z: Parts, k: i32, span: Span) -> Parts {
        let mut result: Option<Parts> = None;
        let mut base = z;
        let mut rest = k.unsigned_abs();
        while rest > 0 {
            if rest & 1 == 1 {
                result = Some(match result {
                    None => base,
                    Some(r) => self.c_mul(r, base, span),
                });
            }
            rest >>= 1;
            if rest > 0 {
                base = self.c_mul(base, base, span);
            }
        }
        let one = self.lit(1.0, span);
        match result {
            None => (one, None),
            Some(r) if k < 0 => self.c_div((one, None), r, span),
            Some(r) => r,
        }
    }

    /// `|re + i im| = sqrt(re^2 + im^2)`.
    fn modulus(&mut self, re: Handle<Expr>, im: Handle<Expr>, span: Span) -> Handle<Expr> {
        let (re, im) = (self.once(re, span), self.once(im, span));
        let (r2, i2) = (
            self.binary(BinOp::Mul, re, re, span),
            self.binary(BinOp::Mul, im, im, span),
        );
        let sum = self.binary(BinOp::Add, r2, i2, span);
        self.builtin(Builtin::Sqrt, vec![sum], span)
    }

    /// `atan2(y, x)` in `(-pi, pi]` from `atan` and comparisons: `atan(y/x)` for `x > 0`, shifted
    /// by `pi` (towards the sign of `y`, `+pi` for `y = 0`) for `x < 0`, `+-pi/2` or 0 on the
    /// imaginary axis.
    fn atan2(&mut self, y: Handle<Expr>, x: Handle<Expr>, span: Span) -> Handle<Expr> {
        use std::f64::consts::{FRAC_PI_2, PI};
        let (y, x) = (self.once(y, span), self.once(x, span));
        let zero = self.lit(0.0, span);
        let ratio = self.binary(BinOp::Div, y, x, span);
        let base = self.builtin(Builtin::Atan, vec![ratio], span);
        let y_nonneg = self.binary(BinOp::Ge, y, zero, span);
        let (pi, minus_pi) = (self.lit(PI, span), self.lit(-PI, span));
        let shift = self.select(y_nonneg, pi, minus_pi, span);
        let left = self.binary(BinOp::Add, base, shift, span);
        let y_pos = self.binary(BinOp::Gt, y, zero, span);
        let y_neg = self.binary(BinOp::Lt, y, zero, span);
        let (up, down) = (self.lit(FRAC_PI_2, span), self.lit(-FRAC_PI_2, span));
        let below = self.select(y_neg, down, zero, span);
        let axis = self.select(y_pos, up, below, span);
        let x_neg = self.binary(BinOp::Lt, x, zero, span);
        let not_right = self.select(x_neg, left, axis, span);
        let x_pos = self.binary(BinOp::Gt, x, zero, span);
        self.select(x_pos, base, not_right, span)
    }
}

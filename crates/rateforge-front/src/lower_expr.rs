//! Lowering expressions from the syntax tree to the IR, shared by all frontends.
//!
//! * Names are resolved through a [`Scope`]; unknown names get a did-you-mean.
//! * Function names map onto the closed [`Builtin`] set (aliases such as `absv`, `maxi` included);
//!   `float(x)` is `x`, `pow(a, b)` is `a^b`, `max`/`min` take two or more arguments.
//! * Vector variables are scalarised: an expression evaluates to one IR expression per element,
//!   scalars broadcast against vectors, `a[i]` and `a[i:j]` select elements (0-based, numpy rules).
//! * Complex values (PyRates' `z: variable(0.5+0.1j)`, `1j`) are pairs of real expressions: a
//!   [`Value`] carries the imaginary parts beside the real ones, arithmetic (`+ - * /`, integer
//!   powers) and `conj`, `real`, `imag`, `abs`, `angle`, `exp` work on the pairs (see
//!   `complex.rs`), so the IR stays real. Where a real value is needed (a real variable, a
//!   coupling), a complex value gives its real part, as numpy's cast does.
//! * Operations whose operands are all literals are folded with the IR's own scalar semantics, so
//!   folding never changes a result. `x^n` with a literal integer `|n| <= 16` becomes
//!   [`Expr::Powi`].

mod complex;

use crate::ast::{Ast, AstKind, IndexSpec};
use rateforge_ir::expr::POWI_MAX;
use rateforge_ir::{
    BinOp, Builtin, Delay, Diagnostic, Diagnostics, Expr, Handle, Model, ParamKind, Span, UnOp,
    VarRef,
};

/// What a name in an equation stands for.
#[derive(Clone, Debug)]
pub enum Binding {
    /// A scalar model value.
    Scalar(VarRef),
    /// A vector variable, one value per element.
    Vector(Vec<VarRef>),
    /// A complex scalar: its real and imaginary parts.
    Complex(VarRef, VarRef),
    /// A named constant.
    Constant(f64),
    /// The time.
    Time,
    /// A leaf expression without operands (e.g. a coupling's `x_j`).
    Leaf(Expr),
}

/// Resolves names for one equation.
pub trait Scope {
    /// What `name` stands for, if anything.
    fn resolve(&self, name: &str) -> Option<Binding>;
    /// Names to suggest from when a name is unknown.
    fn candidates(&self) -> Vec<String>;
    /// How to describe the scope in messages, e.g. "operator `qif_op`".
    fn describe(&self) -> String;
    /// Whether `name` is a variable whose declaration already failed with an error (uses of it
    /// are then not reported again).
    fn is_known_bad(&self, _name: &str) -> bool {
        false
    }
    /// Where the scope's variables are declared (for the help line of unknown names).
    fn declaration_hint(&self) -> String {
        "declare it under `variables:`".to_string()
    }
}

/// The constants every equation may use.
pub fn constant(name: &str) -> Option<f64> {
    match name {
        "pi" | "PI" => Some(std::f64::consts::PI),
        "E" => Some(std::f64::consts::E),
        _ => None,
    }
}

/// Names of the constants, for suggestions.
pub const CONSTANT_NAMES: [&str; 3] = ["pi", "PI", "E"];

/// How a function name is lowered.
enum Func {
    Builtin(Builtin),
    /// `max`, `min`: two or more arguments, folded left.
    Fold(Builtin),
    Float,
    Pow,
    Heaviside,
    Sum,
    Mean,
    /// `step(t, t0)`: 1 from `t0` on, else 0.
    Step,
    /// `pulse(t, start, width)`: 1 for `start <= t < start + width`.
    Pulse,
    /// `train(t, start, width, period)`: pulses of `width` every `period` from `start` on.
    Train,
    /// `ramp(t, start, duration)`: 0 before `start`, rising linearly to 1 at `start + duration`.
    Ramp,
    /// `conj(z)`, `real(z)`, `imag(z)`, `angle(z)` of complex values (of a real `x`: `x`, `x`, 0
    /// and 0 or pi).
    Complex(complex::Part),
}

fn function(name: &str) -> Option<Func> {
    use Builtin as B;
    Some(match name {
        "exp" => Func::Builtin(B::Exp),
        "log" | "ln" => Func::Builtin(B::Log),
        "sqrt" => Func::Builtin(B::Sqrt),
        "sin" => Func::Builtin(B::Sin),
        "cos" => Func::Builtin(B::Cos),
        "tan" => Func::Builtin(B::Tan),
        "sinh" => Func::Builtin(B::Sinh),
        "cosh" => Func::Builtin(B::Cosh),
        "tanh" => Func::Builtin(B::Tanh),
        "arcsin" | "asin" => Func::Builtin(B::Asin),
        "arccos" | "acos" => Func::Builtin(B::Acos),
        "arctan" | "atan" => Func::Builtin(B::Atan),
        "abs" | "absv" | "fabs" => Func::Builtin(B::Abs),
        "sign" => Func::Builtin(B::Sign),
        "sigmoid" => Func::Builtin(B::Sigmoid),
        "floor" => Func::Builtin(B::Floor),
        "ceil" => Func::Builtin(B::Ceil),
        "max" | "maxi" | "maximum" => Func::Fold(B::Max),
        "min" | "mini" | "minimum" => Func::Fold(B::Min),
        "heaviside" | "H" => Func::Heaviside,
        "float" => Func::Float,
        "pow" => Func::Pow,
        "sum" | "vsum" => Func::Sum,
        "mean" => Func::Mean,
        "step" => Func::Step,
        "pulse" => Func::Pulse,
        "train" => Func::Train,
        "ramp" => Func::Ramp,
        "conj" | "conjugate" => Func::Complex(complex::Part::Conj),
        "real" => Func::Complex(complex::Part::Real),
        "imag" => Func::Complex(complex::Part::Imag),
        "angle" => Func::Complex(complex::Part::Angle),
        _ => return None,
    })
}

/// Every function name the language knows, for suggestions and documentation.
pub const FUNCTION_NAMES: [&str; 42] = [
    "exp",
    "log",
    "ln",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "arcsin",
    "asin",
    "arccos",
    "acos",
    "arctan",
    "atan",
    "abs",
    "absv",
    "fabs",
    "sign",
    "sigmoid",
    "floor",
    "ceil",
    "max",
    "maxi",
    "min",
    "mini",
    "heaviside",
    "float",
    "pow",
    "sum",
    "vsum",
    "mean",
    "step",
    "pulse",
    "train",
    "ramp",
    "conj",
    "conjugate",
    "real",
    "imag",
    "angle",
];

/// The lowered value of an expression: one IR expression (scalar) or one per element (vector).
#[derive(Clone, Debug)]
pub struct Value {
    /// The element expressions.
    pub elems: Vec<Handle<Expr>>,
    /// Whether this is a vector (a vector of length 1 is still a vector).
    pub vector: bool,
    /// For a complex value, the imaginary parts, one per element (`elems` are the real parts).
    pub im: Option<Vec<Handle<Expr>>>,
}

impl Value {
    fn scalar(e: Handle<Expr>) -> Self {
        Value::real(vec![e], false)
    }

    fn real(elems: Vec<Handle<Expr>>, vector: bool) -> Self {
        Value {
            elems,
            vector,
            im: None,
        }
    }

    /// Whether the value is complex.
    pub fn is_complex(&self) -> bool {
        self.im.is_some()
    }
}

/// Lowers expressions into one model, collecting diagnostics.
pub struct Lowerer<'m> {
    /// The model being built.
    pub model: &'m mut Model,
    /// Problems found.
    pub diags: Diagnostics,
    /// The path that names the algebraic variables complex arithmetic introduces for the parts
    /// it reads more than once (`<prefix>#c1.re`, ...): the variable being defined.
    pub temp_prefix: String,
}

impl<'m> Lowerer<'m> {
    /// A lowerer adding to `model`.
    pub fn new(model: &'m mut Model) -> Self {
        Lowerer {
            model,
            diags: Diagnostics::new(),
            temp_prefix: "complex".to_string(),
        }
    }

    fn lit(&mut self, v: f64, span: Span) -> Handle<Expr> {
        self.model.add_expr(Expr::Lit(v), span)
    }

    fn literal_of(&self, e: Handle<Expr>) -> Option<f64> {
        match self.model.exprs[e] {
            Expr::Lit(v) => Some(v),
            _ => None,
        }
    }

    /// Lowers an expression; `None` after an error (already reported).
    pub fn lower(&mut self, ast: &Ast, scope: &dyn Scope) -> Option<Value> {
        rateforge_ir::deep(|| self.lower_node(ast, scope))
    }

    fn lower_node(&mut self, ast: &Ast, scope: &dyn Scope) -> Option<Value> {
        let span = ast.span;
        match &ast.kind {
            AstKind::Num(v) => Some(Value::scalar(self.lit(*v, span))),
            AstKind::Imag(v) => {
                let (re, im) = (self.lit(0.0, span), self.lit(*v, span));
                Some(Value {
                    elems: vec![re],
                    vector: false,
                    im: Some(vec![im]),
                })
            }
            AstKind::Name(name) => self.name(name, span, scope),
            AstKind::Index(name, index) => {
                let Some(Binding::Vector(elems)) = scope.resolve(&name.text) else {
                    return match scope.resolve(&name.text) {
                        None => self.name(&name.text, name.span, scope),
                        Some(_) => {
                            self.diags.push(
                                Diagnostic::error(format!(
                                    "`{}` is not a vector and cannot be indexed",
                                    name.text
                                ))
                                .with_primary(span, "indexed here")
                                .with_help(format!(
                                    "declare a vector with a length, e.g. `{}: variable(0.0, 3)`",
                                    name.text
                                )),
                            );
                            None
                        }
                    };
                };
                let picked = self.index(&elems, *index, span, &name.text)?;
                let exprs = picked.iter().map(|v| self.var_expr(*v, span)).collect();
                Some(Value::real(exprs, matches!(index, IndexSpec::Slice(..))))
            }
            AstKind::Unary(op, a) => {
                let a = self.lower(a, scope)?;
                if a.is_complex() {
                    return self.complex_unary(*op, &a, span);
                }
                let elems = a.elems.iter().map(|x| self.unary(*op, *x, span)).collect();
                Some(Value::real(elems, a.vector))
            }
            AstKind::Binary(op, a, b) => {
                let (a, b) = (self.lower(a, scope), self.lower(b, scope));
                let (a, b) = (a?, b?);
                if a.is_complex() || b.is_complex() {
                    return self.complex_binary(*op, &a, &b, span);
                }
                self.elementwise(&a, &b, span, |this, x, y| this.binary(*op, x, y, span))
            }
            AstKind::Call(name, args) => self.call(&name.text, name.span, args, span, scope),
            AstKind::Cond(c, a, b) => {
                let (c, a, b) = (
                    self.lower(c, scope),
                    self.lower(a, scope),
                    self.lower(b, scope),
                );
                let (c, a, b) = (c?, a?, b?);
                if c.is_complex() {
                    self.diags
                        .push(complex::complex_not_supported("a condition", span));
                    return None;
                }
                if a.is_complex() || b.is_complex() {
                    return self.complex_select(&c, &a, &b, span);
                }
                let n = self.select_len([&c, &a, &b], span)?;
                let pick = |v: &Value, i: usize| v.elems[if v.vector { i } else { 0 }];
                let elems = (0..n)
                    .map(|i| self.select(pick(&c, i), pick(&a, i), pick(&b, i), span))
                    .collect();
                Some(Value::real(elems, c.vector || a.vector || b.vector))
            }
        }
    }

    /// The length of `c ? a : b` with scalars broadcast; `None` after an error.
    fn select_len(&mut self, values: [&Value; 3], span: Span) -> Option<usize> {
        let n = values
            .iter()
            .filter(|v| v.vector)
            .map(|v| v.elems.len())
            .max()
            .unwrap_or(1);
        for v in values {
            if v.vector && v.elems.len() != n {
                self.diags.push(
                    Diagnostic::error(format!(
                        "vector lengths do not match: {} and {n}",
                        v.elems.len()
                    ))
                    .with_primary(span, "in this conditional")
                    .with_help("the condition and both branches need equal lengths, or be scalars"),
                );
                return None;
            }
        }
        Some(n)
    }

    /// `c ? a : b`; a literal condition picks its branch.
    fn select(
        &mut self,
        c: Handle<Expr>,
        a: Handle<Expr>,
        b: Handle<Expr>,
        span: Span,
    ) -> Handle<Expr> {
        match self.literal_of(c) {
            Some(v) if v != 0.0 => a,
            Some(_) => b,
            None => self.model.add_expr(Expr::Select(c, a, b), span),
        }
    }

    /// Lowers an expression that must be a real scalar.
    pub fn lower_scalar(&mut self, ast: &Ast, scope: &dyn Scope) -> Option<Handle<Expr>> {
        let v = self.lower(ast, scope)?;
        if v.is_complex() {
            self.diags.push(
                Diagnostic::error("expected a real value, found a complex one")
                    .with_primary(ast.span, "complex")
                    .with_help("take its `real(...)`, `imag(...)` or `abs(...)`"),
            );
            return None;
        }
        if v.vector {
            self.diags.push(
                Diagnostic::error(format!(
                    "expected a scalar, found a vector of length {}",
                    v.elems.len()
                ))
                .with_primary(ast.span, "this is a vector")
                .with_help(
                    "select one element, e.g. `a[0]`, or reduce it with `sum(...)` or `mean(...)`",
                ),
            );
            return None;
        }
        Some(v.elems[0])
    }

    fn var_expr(&mut self, v: VarRef, span: Span) -> Handle<Expr> {
        let e = match v {
            VarRef::State(h) => Expr::State(h),
            VarRef::Param(h) => Expr::Param(h),
            VarRef::Derived(h) => Expr::Derived(h),
            VarRef::Series(h) => Expr::Series(h),
        };
        self.model.add_expr(e, span)
    }

    fn name(&mut self, name: &str, span: Span, scope: &dyn Scope) -> Option<Value> {
        match scope.resolve(name) {
            Some(Binding::Scalar(v)) => Some(Value::scalar(self.var_expr(v, span))),
            Some(Binding::Vector(vs)) => {
                let elems = vs.iter().map(|v| self.var_expr(*v, span)).collect();
                Some(Value::real(elems, true))
            }
            Some(Binding::Complex(re, im)) => {
                let (re, im) = (self.var_expr(re, span), self.var_expr(im, span));
                Some(Value {
                    elems: vec![re],
                    vector: false,
                    im: Some(vec![im]),
                })
            }
            Some(Binding::Constant(c)) => Some(Value::scalar(self.lit(c, span))),
            Some(Binding::Time) => Some(Value::scalar(self.model.add_expr(Expr::Time, span))),
            Some(Binding::Leaf(e)) => Some(Value::scalar(self.model.add_expr(e, span))),
            None if scope.is_known_bad(name) => None,
            None => {
                self.diags.push(unknown_symbol(name, span, scope));
                None
            }
        }
    }

    fn index(
        &mut self,
        elems: &[VarRef],
        index: IndexSpec,
        span: Span,
        name: &str,
    ) -> Option<Vec<VarRef>> {
        let n = elems.len() as i64;
        let norm = |i: i64| if i < 0 { i + n } else { i };
        match index {
            IndexSpec::Single(i) => {
                let j = norm(i);
                if !(0..n).contains(&j) {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "index {i} is out of range for `{name}` of length {n}"
                        ))
                        .with_primary(span, "out of range")
                        .with_help(format!("indices are 0-based: use 0 to {}", n - 1)),
                    );
                    return None;
                }
                Some(vec![elems[j as usize]])
            }
            IndexSpec::Slice(a, b) => {
                let a = norm(a.unwrap_or(0)).clamp(0, n);
                let b = norm(b.unwrap_or(n)).clamp(0, n);
                if a >= b {
                    self.diags.push(
                        Diagnostic::error(format!("slice of `{name}` is empty"))
                            .with_primary(span, "selects no element")
                            .with_help(format!(
                                "`{name}` has {n} elements (0-based, end exclusive)"
                            )),
                    );
                    return None;
                }
                Some(elems[a as usize..b as usize].to_vec())
            }
        }
    }

    fn elementwise(
        &mut self,
        a: &Value,
        b: &Value,
        span: Span,
        mut f: impl FnMut(&mut Self, Handle<Expr>, Handle<Expr>) -> Handle<Expr>,
    ) -> Option<Value> {
        let n = self.broadcast_len(a, b, span)?;
        let elems = (0..n)
            .map(|i| {
                let x = a.elems[if a.vector { i } else { 0 }];
                let y = b.elems[if b.vector { i } else { 0 }];
                f(self, x, y)
            })
            .collect();
        Some(Value::real(elems, a.vector || b.vector))
    }

    /// The length of `a op b` with scalars broadcast; `None` after an error (vector lengths differ).
    fn broadcast_len(&mut self, a: &Value, b: &Value, span: Span) -> Option<usize> {
        let (na, nb) = (a.elems.len(), b.elems.len());
        if a.vector && b.vector && na != nb {
            self.diags.push(
                Diagnostic::error(format!("vector lengths do not match: {na} and {nb}"))
                    .with_primary(span, "in this operation")
                    .with_help(
                        "operations between vectors work element by element and need equal lengths",
                    ),
            );
            return None;
        }
        Some(na.max(nb))
    }

    fn unary(&mut self, op: UnOp, x: Handle<Expr>, span: Span) -> Handle<Expr> {
        if let Some(v) = self.literal_of(x) {
            return self.lit(op.apply(v), span);
        }
        self.model.add_expr(Expr::Unary(op, x), span)
    }

    fn binary(&mut self, op: BinOp, x: Handle<Expr>, y: Handle<Expr>, span: Span) -> Handle<Expr> {
        match (self.literal_of(x), self.literal_of(y)) {
            (Some(a), Some(b)) => {
                let v = op.apply(a, b);
                if v.is_finite() {
                    return self.lit(v, span);
                }
            }
            (_, Some(n))
                if op == BinOp::Pow && n == n.trunc() && n.abs() <= f64::from(POWI_MAX) =>
            {
                return self.model.add_expr(Expr::Powi(x, n as i32), span);
            }
            _ => {}
        }
        self.model.add_expr(Expr::Binary(op, x, y), span)
    }

    /// Stimulus helpers, written with comparisons so that edges on the time grid are exact with the
    /// left-limit rule of the last solver stage.
    fn stimulus(&mut self, func: &Func, a: &[Handle<Expr>], span: Span) -> Handle<Expr> {
        let (t, start) = (a[0], a[1]);
        match func {
            // t >= t0
            Func::Step => self.binary(BinOp::Ge, t, start, span),
            // (t >= start) * (t < start + width)
            Func::Pulse => {
                let on = self.binary(BinOp::Ge, t, start, span);
                let end = self.binary(BinOp::Add, start, a[2], span);
                let off = self.binary(BinOp::Lt, t, end, span);
                self.binary(BinOp::Mul, on, off, span)
            }
            // (t >= start) * ((t - start) - period*floor((t - start)/period) < width)
            Func::Train => {
                let on = self.binary(BinOp::Ge, t, start, span);
                let since = self.binary(BinOp::Sub, t, start, span);
                let cycles = self.binary(BinOp::Div, since, a[3], span);
                let whole = self.builtin(Builtin::Floor, vec![cycles], span);
                let back = self.binary(BinOp::Mul, a[3], whole, span);
                let phase = self.binary(BinOp::Sub, since, back, span);
                let within = self.binary(BinOp::Lt, phase, a[2], span);
                self.binary(BinOp::Mul, on, within, span)
            }
            // min(max((t - start)/duration, 0), 1)
            _ => {
                let since = self.binary(BinOp::Sub, t, start, span);
                let frac = self.binary(BinOp::Div, since, a[2], span);
                let zero = self.lit(0.0, span);
                let one = self.lit(1.0, span);
                let lo = self.builtin(Builtin::Max, vec![frac, zero], span);
                self.builtin(Builtin::Min, vec![lo, one], span)
            }
        }
    }

    fn builtin(&mut self, f: Builtin, args: Vec<Handle<Expr>>, span: Span) -> Handle<Expr> {
        let lits: Option<Vec<f64>> = args.iter().map(|a| self.literal_of(*a)).collect();
        if let Some(vals) = lits {
            let v = f.apply(&vals);
            if v.is_finite() {
                return self.lit(v, span);
            }
        }
        self.model.add_expr(Expr::Call(f, args), span)
    }

    /// `past(x, d)`: the value `x` (a state or an algebraic variable of this node, or an element
    /// or slice of a vector one) had `d` time units ago, `d` a non-negative number or parameter;
    /// see the IR's "Delays and history".
    fn past(&mut self, args: &[Ast], span: Span, scope: &dyn Scope) -> Option<Value> {
        let [var, delay] = args else {
            self.diags.push(
                Diagnostic::error(format!("`past` takes 2 arguments, found {}", args.len()))
                    .with_primary(span, "called here")
                    .with_help(
                        "usage: past(x, d), the value of the variable `x` `d` time units ago",
                    ),
            );
            return None;
        };
        let (name, picked) = match &var.kind {
            AstKind::Name(n) => (n.as_str(), None),
            AstKind::Index(n, index) => (n.text.as_str(), Some(*index)),
            _ => {
                self.diags.push(
                    Diagnostic::error("the first argument of `past` must name a variable")
                        .with_primary(var.span, "not a variable name")
                        .with_help(
                            "usage: past(x, d), with `x` a state or an algebraic variable of this operator",
                        ),
                );
                return None;
            }
        };
        let binding = scope.resolve(name);
        let Some(mut sources) = history_sources(binding.clone()) else {
            if binding.is_none() {
                return self.name(name, var.span, scope);
            }
            self.diags.push(not_a_history_variable(name, var.span));
            return None;
        };
        let vector = matches!(binding, Some(Binding::Vector(_)));
        let mut is_vector = vector;
        if let Some(index) = picked {
            if !vector {
                return self.lower(var, scope); // reports the index of a scalar
            }
            sources = self.index(&sources, index, var.span, name)?;
            is_vector = matches!(index, IndexSpec::Slice(..));
        }
        let past = self.delayed(sources, is_vector, delay, span, scope)?;
        Some(history_value(past, &binding))
    }

    /// `x(t - d)`, PyRates' other spelling of `past(x, d)`.
    fn delayed_call(
        &mut self,
        name: &str,
        sources: Vec<VarRef>,
        args: &[Ast],
        span: Span,
        scope: &dyn Scope,
    ) -> Option<Value> {
        let delay = match args {
            [arg] => match &arg.kind {
                AstKind::Binary(BinOp::Sub, now, d) if matches!(&now.kind, AstKind::Name(n) if matches!(scope.resolve(n), Some(Binding::Time))) => {
                    Some(d.as_ref())
                }
                AstKind::Name(n) if matches!(scope.resolve(n), Some(Binding::Time)) => None,
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "`{name}(...)` reads the past of `{name}`, at `t - d` only"
                        ))
                        .with_primary(arg.span, "not of the form `t - d`")
                        .with_help(format!(
                            "write `{name}(t - d)` or `past({name}, d)` with `d` a number or a parameter"
                        )),
                    );
                    return None;
                }
            },
            _ => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "`{name}` is a variable; `{name}(...)` takes one argument, `t - d`"
                    ))
                    .with_primary(span, format!("called with {} arguments", args.len()))
                    .with_help(format!("write `{name}(t - d)` or `past({name}, d)`")),
                );
                return None;
            }
        };
        let binding = scope.resolve(name);
        let vector = matches!(binding, Some(Binding::Vector(_)));
        let value = match delay {
            Some(d) => self.delayed(sources, vector, d, span, scope)?,
            // `x(t)` is `x`.
            None => {
                let elems = sources.iter().map(|v| self.var_expr(*v, span)).collect();
                Value::real(elems, vector)
            }
        };
        Some(history_value(value, &binding))
    }

    /// The delayed values of `sources` by the delay `delay` (a number or a parameter).
    fn delayed(
        &mut self,
        sources: Vec<VarRef>,
        vector: bool,
        delay: &Ast,
        span: Span,
        scope: &dyn Scope,
    ) -> Option<Value> {
        let d = self.lower_scalar(delay, scope)?;
        let time = match self.model.exprs[d] {
            Expr::Param(h) => h,
            Expr::Lit(v) if v.is_finite() && v >= 0.0 => {
                // A complex variable's delay is named after the variable, not its real part.
                let source = self.model.var_name(sources[0]);
                let base = format!("{}/delay", source.strip_suffix(".re").unwrap_or(source));
                let mut name = base.clone();
                let mut n = 2;
                while self.model.lookup(&name).is_some() {
                    name = format!("{base}#{n}");
                    n += 1;
                }
                self.model
                    .add_param(&name, v, ParamKind::Delay, delay.span)
                    .expect("a name not taken")
            }
            Expr::Lit(v) => {
                self.diags.push(
                    Diagnostic::error(format!("a delay of {v} cannot be read"))
                        .with_primary(delay.span, "negative or not finite")
                        .with_help("a delay is a non-negative time: `past(x, d)` is `x(t - d)`"),
                );
                return None;
            }
            _ => {
                self.diags.push(
                    Diagnostic::error("a delay must be a number or a parameter")
                        .with_primary(delay.span, "an expression")
                        .with_help(
                            "declare the delay as a constant under `variables:` (e.g. `tau_d: 2.0`) and use its name",
                        ),
                );
                return None;
            }
        };
        let elems = sources
            .into_iter()
            .map(|source| {
                let h = self.model.delays.append(Delay { source, time, span });
                self.model.add_expr(Expr::Delayed(h), span)
            })
            .collect();
        Some(Value::real(elems, vector))
    }

    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Ast],
        span: Span,
        scope: &dyn Scope,
    ) -> Option<Value> {
        if name == "past" {
            return self.past(args, span, scope);
        }
        let Some(func) = function(name) else {
            // `x(t - d)`: the value of a variable `d` time units ago.
            if let Some(sources) = history_sources(scope.resolve(name)) {
                return self.delayed_call(name, sources, args, span, scope);
            }
            self.diags.push(unknown_function(name, name_span));
            return None;
        };
        let (lo, hi) = match func {
            Func::Builtin(b) => (b.arity(), b.arity()),
            Func::Fold(_) => (2, usize::MAX),
            Func::Float | Func::Sum | Func::Mean | Func::Complex(_) => (1, 1),
            Func::Pow => (2, 2),
            Func::Heaviside => (1, 2),
            Func::Step => (2, 2),
            Func::Pulse | Func::Ramp => (3, 3),
            Func::Train => (4, 4),
        };
        if args.len() < lo || args.len() > hi {
            let expected = match (lo, hi) {
                (l, h) if l == h => format!("{l} argument{}", if l == 1 { "" } else { "s" }),
                (l, usize::MAX) => format!("at least {l} arguments"),
                (l, h) => format!("{l} or {h} arguments"),
            };
            self.diags.push(
                Diagnostic::error(format!("`{name}` takes {expected}, found {}", args.len()))
                    .with_primary(
                        span,
                        format!(
                            "called with {} argument{}",
                            args.len(),
                            if args.len() == 1 { "" } else { "s" }
                        ),
                    )
                    .with_help(format!("usage: {}", signature(name))),
            );
            return None;
        }
        let mut vals = Vec::with_capacity(args.len());
        let mut failed = false;
        for a in args {
            match self.lower(a, scope) {
                Some(v) => vals.push(v),
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        if let Func::Complex(part) = func {
            return Some(self.complex_part(part, &vals[0], span));
        }
        if vals.iter().any(Value::is_complex) {
            return self.complex_call(&func, name, &vals, span);
        }
        match func {
            Func::Builtin(b) => {
                let x = &vals[0];
                let elems = x
                    .elems
                    .iter()
                    .map(|e| self.builtin(b, vec![*e], span))
                    .collect();
                Some(Value::real(elems, x.vector))
            }
            Func::Fold(b) => {
                let mut acc = vals[0].clone();
                for v in &vals[1..] {
                    acc = self.elementwise(&acc, v, span, |this, x, y| {
                        this.builtin(b, vec![x, y], span)
                    })?;
                }
                Some(acc)
            }
            Func::Float => Some(vals.remove(0)),
            Func::Pow => self.elementwise(&vals[0], &vals[1], span, |this, x, y| {
                this.binary(BinOp::Pow, x, y, span)
            }),
            Func::Heaviside if vals.len() == 1 => {
                let x = &vals[0];
                let elems = x
                    .elems
                    .iter()
                    .map(|e| self.builtin(Builtin::Heaviside, vec![*e], span))
                    .collect();
                Some(Value::real(elems, x.vector))
            }
            Func::Heaviside => self.elementwise(&vals[0], &vals[1], span, |this, x, h0| {
                // numpy's heaviside(x, h0): 0 below zero, h0 at zero, 1 above.
                let zero = this.lit(0.0, span);
                let one = this.lit(1.0, span);
                let gt = this.binary(BinOp::Gt, x, zero, span);
                let lt = this.binary(BinOp::Lt, x, zero, span);
                let inner = this.model.add_expr(Expr::Select(lt, zero, h0), span);
                this.model.add_expr(Expr::Select(gt, one, inner), span)
            }),
            Func::Complex(_) => unreachable!("handled above"),
            Func::Step | Func::Pulse | Func::Train | Func::Ramp => {
                if vals.iter().any(|v| v.vector) {
                    self.diags.push(
                        Diagnostic::error(format!("`{name}` takes scalar arguments"))
                            .with_primary(span, "vector argument")
                            .with_help(format!("usage: {}", signature(name))),
                    );
                    return None;
                }
                let a: Vec<Handle<Expr>> = vals.iter().map(|v| v.elems[0]).collect();
                Some(Value::scalar(self.stimulus(&func, &a, span)))
            }
            Func::Sum | Func::Mean => {
                let x = &vals[0];
                let mut acc = x.elems[0];
                for e in &x.elems[1..] {
                    acc = self.binary(BinOp::Add, acc, *e, span);
                }
                if matches!(func, Func::Mean) {
                    let n = self.lit(x.elems.len() as f64, span);
                    acc = self.binary(BinOp::Div, acc, n, span);
                }
                Some(Value::scalar(acc))
            }
        }
    }
}

/// The diagnostic for a name that resolves to nothing.
pub fn unknown_symbol(name: &str, span: Span, scope: &dyn Scope) -> Diagnostic {
    let candidates = scope.candidates();
    let mut d = Diagnostic::error(format!("unknown symbol `{name}` in equation"))
        .with_primary(span, format!("not a variable of {}", scope.describe()));
    if function(name).is_some() {
        return d.with_help(format!("`{name}` is a function; call it as `{name}(...)`"));
    }
    if matches!(name, "j" | "I" | "i") {
        d = d.with_note(
            "the imaginary unit is written `1j`, or declared as a constant `i: 0.0+1.0j`",
        );
    }
    d.with_suggestion(
        name,
        candidates.iter().map(String::as_str).chain(CONSTANT_NAMES),
        format!(
            "{} (or use `t` for time, `pi`, `E`)",
            scope.declaration_hint()
        ),
    )
}

fn unknown_function(name: &str, span: Span) -> Diagnostic {
    let d = Diagnostic::error(format!("unknown function `{name}`"))
        .with_primary(span, "not a built-in function");
    if matches!(name, "interp" | "index" | "index_range" | "randn") {
        return d.with_help(format!("`{name}` is not supported in equations yet"));
    }
    d.with_suggestion(
        name,
        FUNCTION_NAMES,
        format!("available functions: {}", FUNCTION_NAMES.join(", ")),
    )
}

/// The variables whose past `x(t - d)` / `past(x, d)` can read: states and algebraic variables
/// (scalars, or every element of a vector); `None` for anything else.
fn history_sources(binding: Option<Binding>) -> Option<Vec<VarRef>> {
    let readable = |v: &VarRef| matches!(v, VarRef::State(_) | VarRef::Derived(_));
    match binding? {
        Binding::Scalar(v) if readable(&v) => Some(vec![v]),
        Binding::Vector(vs) if vs.iter().all(readable) => Some(vs),
        Binding::Complex(re, im) if readable(&re) && readable(&im) => Some(vec![re, im]),
        _ => None,
    }
}

/// The past of a variable read through [`history_sources`]: for a complex one, its two parts
/// joined again into a complex value.
fn history_value(past: Value, binding: &Option<Binding>) -> Value {
    match (binding, past.elems.as_slice()) {
        (Some(Binding::Complex(..)), &[re, im]) => Value {
            elems: vec![re],
            vector: false,
            im: Some(vec![im]),
        },
        _ => past,
    }
}

fn not_a_history_variable(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("the past of `{name}` cannot be read"))
        .with_primary(span, "not a state or an algebraic variable")
        .with_help(
            "`past(x, d)` reads a state or an algebraic variable of this node; constants, inputs and time have no history",
        )
}

/// How a function is called, for help lines.
fn signature(name: &str) -> String {
    match function(name) {
        Some(Func::Builtin(b)) if b.arity() == 2 => format!("{name}(a, b)"),
        Some(Func::Builtin(Builtin::Sigmoid)) => format!("{name}(x) = 1/(1 + exp(-x))"),
        Some(Func::Builtin(_)) => format!("{name}(x)"),
        Some(Func::Fold(_)) => format!("{name}(a, b, ...)"),
        Some(Func::Float) => "float(x) (the value of x; a comparison gives 1.0 or 0.0)".to_string(),
        Some(Func::Pow) => "pow(x, y) = x^y".to_string(),
        Some(Func::Heaviside) => format!("{name}(x) or {name}(x, value_at_zero)"),
        Some(Func::Sum) => format!("{name}(vector)"),
        Some(Func::Mean) => "mean(vector)".to_string(),
        Some(Func::Step) => "step(t, t0): 1 from t0 on".to_string(),
        Some(Func::Pulse) => "pulse(t, start, width): 1 for start <= t < start + width".to_string(),
        Some(Func::Train) => {
            "train(t, start, width, period): pulses of `width` every `period` from `start` on"
                .to_string()
        }
        Some(Func::Ramp) => {
            "ramp(t, start, duration): from 0 at `start` to 1 at `start + duration`".to_string()
        }
        Some(Func::Complex(_)) => format!("{name}(z)"),
        None => format!("{name}(...)"),
    }
}

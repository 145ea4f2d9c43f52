//! Expressions: a flat, handle-linked tree over literals, time and model values.
//!
//! The scalar semantics of every operator and built-in is defined here, by [`UnOp::apply`],
//! [`BinOp::apply`], [`Builtin::apply`] and [`powi`]. The reference evaluator calls these functions;
//! generated kernels print code that computes the same IEEE-754 operations in the same order.

use crate::arena::Handle;
use crate::math;
use crate::model::{Coupling, Delay, Derived, Param, Series, State};

/// One node of an expression tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A finite literal.
    Lit(f64),
    /// The time of the solver stage being evaluated (see the crate docs, "Time stepping").
    Time,
    /// The current value of a state.
    State(Handle<State>),
    /// A parameter of the instance.
    Param(Handle<Param>),
    /// An algebraic variable (evaluated before anything that reads it).
    Derived(Handle<Derived>),
    /// The current value of an external time series.
    Series(Handle<Series>),
    /// A delayed value of this node's variable (constant within a step, see the crate docs).
    Delayed(Handle<Delay>),
    /// The value of a network coupling term at this node (constant within a step).
    Coupling(Handle<Coupling>),
    /// Inside a coupling's `pre` expression: the delayed source value `x_j(t_n - d_ij)`.
    CouplingSource,
    /// Inside a coupling's `post` expression: the weighted sum `gx_i`.
    CouplingSum,
    /// The number of nodes of the network (1 without a network).
    NodeCount,
    /// The step size `dt` of the run (RateML models use it, e.g. in `rec_speed_dt` and `nsig`).
    StepSize,
    /// A unary operation.
    Unary(UnOp, Handle<Expr>),
    /// A binary operation; the left operand is evaluated first.
    Binary(BinOp, Handle<Expr>, Handle<Expr>),
    /// `x` raised to a small integer power by repeated multiplication, see [`powi`].
    Powi(Handle<Expr>, i32),
    /// A call of a built-in function; the number of arguments equals [`Builtin::arity`].
    Call(Builtin, Vec<Handle<Expr>>),
    /// `if cond != 0 { then } else { otherwise }`. Both branches are pure, so a backend may
    /// evaluate both and select.
    Select(Handle<Expr>, Handle<Expr>, Handle<Expr>),
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`.
    Neg,
    /// Logical not: `1.0` if `x == 0`, else `0.0`.
    Not,
}

impl UnOp {
    /// The scalar semantics.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            UnOp::Neg => -x,
            UnOp::Not => bool_f64(x == 0.0),
        }
    }
}

/// Binary operators. Comparisons and logical operators give `1.0` (true) or `0.0` (false); a
/// value is true when it is not zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a ** b` / `a ^ b` for a non-integer or non-constant exponent: `f64::powf`.
    Pow,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
    /// Logical and.
    And,
    /// Logical or.
    Or,
}

impl BinOp {
    /// The scalar semantics.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => a.powf(b),
            BinOp::Lt => bool_f64(a < b),
            BinOp::Le => bool_f64(a <= b),
            BinOp::Gt => bool_f64(a > b),
            BinOp::Ge => bool_f64(a >= b),
            BinOp::Eq => bool_f64(a == b),
            BinOp::Ne => bool_f64(a != b),
            BinOp::And => bool_f64(a != 0.0 && b != 0.0),
            BinOp::Or => bool_f64(a != 0.0 || b != 0.0),
        }
    }

    /// The operator as written in equations.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    /// Binding strength for printing (higher binds tighter).
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div => 5,
            BinOp::Pow => 7,
        }
    }

    /// Whether the result is a truth value (1.0 / 0.0).
    pub fn is_boolean(self) -> bool {
        !matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow
        )
    }
}

/// The closed set of built-in functions. Every backend handles every variant (exhaustive match).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    /// `exp(x)`.
    Exp,
    /// Natural logarithm `log(x)`.
    Log,
    /// `sqrt(x)`.
    Sqrt,
    /// `sin(x)`.
    Sin,
    /// `cos(x)`.
    Cos,
    /// `tan(x)`.
    Tan,
    /// `sinh(x)`.
    Sinh,
    /// `cosh(x)`.
    Cosh,
    /// `tanh(x)`.
    Tanh,
    /// `arcsin(x)`.
    Asin,
    /// `arccos(x)`.
    Acos,
    /// `arctan(x)`.
    Atan,
    /// `abs(x)` (also `absv`).
    Abs,
    /// `sign(x)`: `1` for `x > 0`, `-1` for `x < 0`, `x` itself for zero and NaN.
    Sign,
    /// `sigmoid(x) = 1 / (1 + exp(-x))`.
    Sigmoid,
    /// `heaviside(x)`: `0` for `x < 0`, `0.5` at `0`, `1` for `x > 0`, NaN for NaN.
    Heaviside,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
    /// `max(a, b)` (also `maxi`): IEEE maxNum, i.e. `f64::max` (a NaN operand is ignored).
    Max,
    /// `min(a, b)` (also `mini`): IEEE minNum, i.e. `f64::min`.
    Min,
}

impl Builtin {
    /// Every built-in, in declaration order.
    pub const ALL: [Builtin; 20] = [
        Builtin::Exp,
        Builtin::Log,
        Builtin::Sqrt,
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Tan,
        Builtin::Sinh,
        Builtin::Cosh,
        Builtin::Tanh,
        Builtin::Asin,
        Builtin::Acos,
        Builtin::Atan,
        Builtin::Abs,
        Builtin::Sign,
        Builtin::Sigmoid,
        Builtin::Heaviside,
        Builtin::Floor,
        Builtin::Ceil,
        Builtin::Max,
        Builtin::Min,
    ];

    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Builtin::Max | Builtin::Min => 2,
            _ => 1,
        }
    }

    /// The canonical name used when printing IR.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Exp => "exp",
            Builtin::Log => "log",
            Builtin::Sqrt => "sqrt",
            Builtin::Sin => "sin",
            Builtin::Cos => "cos",
            Builtin::Tan => "tan",
            Builtin::Sinh => "sinh",
            Builtin::Cosh => "cosh",
            Builtin::Tanh => "tanh",
            Builtin::Asin => "arcsin",
            Builtin::Acos => "arccos",
            Builtin::Atan => "arctan",
            Builtin::Abs => "abs",
            Builtin::Sign => "sign",
            Builtin::Sigmoid => "sigmoid",
            Builtin::Heaviside => "heaviside",
            Builtin::Floor => "floor",
            Builtin::Ceil => "ceil",
            Builtin::Max => "max",
            Builtin::Min => "min",
        }
    }

    /// The scalar semantics; `args.len()` must equal [`Builtin::arity`]. `exp`, `log`, `sin`,
    /// `cos`, `tanh` and `sigmoid` are rateforge's own functions ([`crate::math`], within 1 ulp,
    /// the same bits on every platform and backend); `sqrt` is IEEE's; the others are the
    /// platform's libm (kernels call the same).
    pub fn apply(self, args: &[f64]) -> f64 {
        let x = args[0];
        match self {
            Builtin::Exp => math::rf_exp(x),
            Builtin::Log => math::rf_log(x),
            Builtin::Sqrt => x.sqrt(),
            Builtin::Sin => math::rf_sin(x),
            Builtin::Cos => math::rf_cos(x),
            Builtin::Tan => x.tan(),
            Builtin::Sinh => x.sinh(),
            Builtin::Cosh => x.cosh(),
            Builtin::Tanh => math::rf_tanh(x),
            Builtin::Asin => x.asin(),
            Builtin::Acos => x.acos(),
            Builtin::Atan => x.atan(),
            Builtin::Abs => x.abs(),
            Builtin::Sign => sign(x),
            Builtin::Sigmoid => sigmoid(x),
            Builtin::Heaviside => heaviside(x),
            Builtin::Floor => x.floor(),
            Builtin::Ceil => x.ceil(),
            Builtin::Max => x.max(args[1]),
            Builtin::Min => x.min(args[1]),
        }
    }
}

/// `sign(x)` as specified on [`Builtin::Sign`].
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// `sigmoid(x) = 1 / (1 + exp(-x))`, within 1 ulp ([`math::rf_sigmoid`]).
pub fn sigmoid(x: f64) -> f64 {
    math::rf_sigmoid(x)
}

/// `heaviside(x)` as specified on [`Builtin::Heaviside`].
pub fn heaviside(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        0.0
    } else if x == 0.0 {
        0.5
    } else {
        x
    }
}

/// `x^n` for an integer `n` by left-to-right repeated multiplication: `x^0 = 1`,
/// `x^n = (((x*x)*x)...)*x` with `n - 1` multiplications, `x^-n = 1 / x^n`. Every backend uses
/// exactly this sequence of roundings.
pub fn powi(x: f64, n: i32) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let mut acc = x;
    for _ in 1..n.unsigned_abs() {
        acc *= x;
    }
    if n < 0 { 1.0 / acc } else { acc }
}

/// Largest |n| for which the frontends turn `x^n` into [`Expr::Powi`].
pub const POWI_MAX: i32 = 16;

fn bool_f64(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_semantics() {
        assert_eq!(Builtin::Sign.apply(&[-3.0]), -1.0);
        assert_eq!(Builtin::Sign.apply(&[0.0]), 0.0);
        assert!(Builtin::Sign.apply(&[f64::NAN]).is_nan());
        assert_eq!(Builtin::Heaviside.apply(&[0.0]), 0.5);
        assert_eq!(Builtin::Heaviside.apply(&[-1e-300]), 0.0);
        assert_eq!(Builtin::Max.apply(&[f64::NAN, 2.0]), 2.0);
        assert_eq!(Builtin::Sigmoid.apply(&[0.0]), 0.5);
        assert_eq!(BinOp::Ge.apply(30.0, 30.0), 1.0);
        assert_eq!(BinOp::Lt.apply(30.0, 30.0), 0.0);
        assert_eq!(UnOp::Not.apply(2.0), 0.0);
        for b in Builtin::ALL {
            assert!(b.arity() == 1 || b.arity() == 2);
        }
    }

    #[test]
    fn powi_sequence() {
        assert_eq!(powi(3.0, 0), 1.0);
        assert_eq!(powi(3.0, 1), 3.0);
        assert_eq!(powi(3.0, 3), 27.0);
        assert_eq!(powi(2.0, -2), 0.25);
        let x = 1.1_f64;
        assert_eq!(powi(x, 3).to_bits(), ((x * x) * x).to_bits());
    }
}

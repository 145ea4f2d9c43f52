//! The fixed-step explicit solvers (their semantics: rateforge-ir's crate docs, "Time stepping").

use std::fmt;
use std::str::FromStr;

/// A fixed-step explicit solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Solver {
    /// Forward Euler, order 1.
    Euler,
    /// Heun's method (explicit trapezoid), order 2.
    Heun,
    /// The classic fourth-order Runge–Kutta method.
    Rk4,
}

impl Solver {
    /// Every solver.
    pub const ALL: [Solver; 3] = [Solver::Euler, Solver::Heun, Solver::Rk4];

    /// The name used on the command line and in metadata.
    pub fn name(self) -> &'static str {
        match self {
            Solver::Euler => "euler",
            Solver::Heun => "heun",
            Solver::Rk4 => "rk4",
        }
    }

    /// Order of convergence.
    pub fn order(self) -> u32 {
        match self {
            Solver::Euler => 1,
            Solver::Heun => 2,
            Solver::Rk4 => 4,
        }
    }

    /// Number of right-hand-side evaluations per step.
    pub fn stages(self) -> u32 {
        match self {
            Solver::Euler => 1,
            Solver::Heun => 2,
            Solver::Rk4 => 4,
        }
    }

    /// Stable numeric id used in kernel ABIs.
    pub fn id(self) -> u32 {
        match self {
            Solver::Euler => crate::runner::EULER,
            Solver::Heun => crate::runner::HEUN,
            Solver::Rk4 => crate::runner::RK4,
        }
    }
}

impl fmt::Display for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Solver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "euler" => Ok(Solver::Euler),
            "heun" => Ok(Solver::Heun),
            "rk4" | "runge-kutta" | "rungekutta" => Ok(Solver::Rk4),
            _ => Err(format!(
                "unknown solver `{s}` (expected euler, heun or rk4)"
            )),
        }
    }
}

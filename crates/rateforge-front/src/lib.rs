//! rateforge frontends: the equation grammar and the model file formats, lowered to the IR.
//!
//! * [`equation`]: the pest grammar of equations (`grammar/equation.pest`) and its parser.
//! * [`ast`]: the syntax tree, and the PyRates equation edits applied on it.
//! * [`lower_expr`]: expressions from the syntax tree to the IR (names, functions, vectors).
//! * [`yaml`]: YAML documents with spans.
//! * [`pyrates`]: PyRates-style YAML templates to a flat IR model.

pub mod ast;
pub mod equation;
pub mod lower_expr;
pub mod pyrates;
pub mod yaml;

pub use pyrates::{LoadFailure, LoadOptions, Loaded};

//! rateforge frontends: the equation grammar and the model file formats, lowered to the IR.
pub mod ast;
pub mod equation;

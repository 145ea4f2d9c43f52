//! PyRates frontend tests.

// Truth values are 1.0 / 0.0 (rateforge-ir `BinOp`).
#[inline(always)]
fn rf_b(c: bool) -> f64 {
    if c { 1.0 } else { 0.0 }
}

// sign(x): 1 for x > 0, -1 for x < 0, x itself for zero and NaN.
#[inline(always)]
fn rf_sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

// sigmoid(x) = 1 / (1 + exp(-x)).
#[inline(always)]
fn rf_sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// heaviside(x): 0 below zero, 0.5 at zero, 1 above, NaN for NaN.
#[inline(always)]
fn rf_heaviside(x: f64) -> f64 {
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

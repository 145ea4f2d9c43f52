"""Split constants for the Cody-Waite range reductions in ../vmath.rs.

Usage: python3 consts.py   (needs mpmath)

A constant C is split into parts whose leading ones have only a few
significant bits, so that n * part is exact in floating point for all |n|
below a bound; the last part is C minus the leading parts, rounded.
"""

import struct

from mpmath import mp, mpf, ln2, pi, floor, log

mp.dps = 80


def f32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


def trunc_bits(x, bits):
    """x truncated (towards zero) to `bits` significant bits."""
    e = int(floor(log(abs(x), 2)))
    scale = mpf(2) ** (bits - 1 - e)
    return floor(x * scale) / scale


def split(c, nbits, nparts, last_round):
    parts = []
    rest = c
    for _ in range(nparts - 1):
        p = trunc_bits(rest, nbits)
        parts.append(p)
        rest -= p
    parts.append(mpf(last_round(rest)))
    err = c - sum(parts)
    return parts, err


def lit(v, ty):
    if ty == "f64":
        return repr(v)
    for d in range(6, 10):  # shortest decimal that rounds back to the f32
        t = f"{v:.{d}g}"
        if f32(float(t)) == v:
            return t
    return repr(v)


def show(name, parts, err, ty, skip=0):
    for i, p in enumerate(parts):
        v = float(p) if ty == "f64" else f32(p)
        assert mpf(v) == p, (name, i)
        if i >= skip:
            print(f"const {name}{i + 1}: {ty} = {lit(v, ty)};")
    print(f"// {name}: representation error {mp.nstr(err, 3)}")


# exp/expm1/log (f64): |n| <= 1100 < 2^11 -> 42-bit leading part.
show("RF_LN2_", *split(ln2, 42, 2, float), "f64")
# exp/expm1/log (f32): |n| <= 160 < 2^8 -> 16-bit leading part.
show("RF_LN2_F32_", *split(ln2, 16, 2, f32), "f32")
# sin/cos (f64): n < 2^20 -> three 33-bit parts and a rounded fourth.
show("RF_PIO2_", *split(pi / 2, 33, 4, float), "f64")
# sin/cos for f32 inputs, reduced in f64: two 33-bit parts (the same as
# RF_PIO2_1 and RF_PIO2_2) and a rounded third.
show("RF_PIO2_F32_", *split(pi / 2, 33, 3, float), "f64", skip=2)

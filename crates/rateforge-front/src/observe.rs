//! A BOLD observer declared in a model file, read the same way from both formats: a YAML
//! network's `bold:` mapping and a RateML `<Bold .../>` element give (key, text) entries with
//! their spans, checked here against one list of fields (unknown ones with a did-you-mean),
//! their values checked, and the driver resolved against the lowered model.

use rateforge_ir::{Diagnostic, Diagnostics, Model, Span, VarRef};

/// BOLD (and FC, FCD) as a model file declares them: what runs of the model compute unless told
/// otherwise. Fields left out take the run's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct BoldDecl {
    /// The path of the state or algebraic variable that drives BOLD.
    pub driver: String,
    /// The TR in seconds.
    pub tr: Option<f64>,
    /// The BOLD step in seconds.
    pub bold_dt: Option<f64>,
    /// Seconds per unit of the model's time (`ms`: 1e-3, `s`: 1).
    pub time_unit: Option<f64>,
    /// The hemodynamic constants' name (`stephan2007`, `friston2003`, `cubnm`).
    pub balloon: Option<String>,
    /// Seconds of BOLD left out of FC and FCD.
    pub transient: Option<f64>,
    /// FCD window in BOLD samples.
    pub fcd_window: Option<usize>,
    /// BOLD samples between window starts.
    pub fcd_step: Option<usize>,
    /// Keep the BOLD samples.
    pub keep_bold: Option<bool>,
}

/// The fields (`driver*` required) and, in RateML, a `description`: the attributes of `<Bold>`
/// in the XML schema, and the keys of YAML's `bold:` without the description.
pub const XML_ATTRIBUTES: &[&str] = &[
    "driver*",
    "tr",
    "bold_dt",
    "time_unit",
    "balloon",
    "transient",
    "fcd_window",
    "fcd_step",
    "keep_bold",
    "description",
];

/// The fields of a declaration ([`XML_ATTRIBUTES`] without the mark and the description).
pub fn fields() -> impl Iterator<Item = &'static str> + Clone {
    XML_ATTRIBUTES
        .iter()
        .map(|a| a.trim_end_matches('*'))
        .filter(|a| *a != "description")
}

/// The names of the hemodynamic constant sets (`rateforge_kernel::observe::Hemodynamics::NAMED`).
pub const BALLOONS: [&str; 3] = ["stephan2007", "friston2003", "cubnm"];

/// One entry: the key, its span, the value as text, its span.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Span,
    pub text: String,
    pub span: Span,
}

/// Checks the entries of a declaration written at `whole` (`what` names it in messages, e.g.
/// "`bold`" or "`<Bold>`") and resolves the driver in `model`; `None` after an error.
pub(crate) fn declare(
    entries: &[Entry],
    whole: Span,
    what: &str,
    model: &Model,
    diags: &mut Diagnostics,
) -> Option<BoldDecl> {
    let errors = diags.error_count();
    // How a field is written in this format, for help lines.
    let xml = what.starts_with("`<");
    let written = |key: &str, value: &str| {
        if xml {
            format!("{key}=\"{value}\"")
        } else {
            format!("{key}: {value}")
        }
    };
    let mut decl = BoldDecl {
        driver: String::new(),
        tr: None,
        bold_dt: None,
        time_unit: None,
        balloon: None,
        transient: None,
        fcd_window: None,
        fcd_step: None,
        keep_bold: None,
    };
    let mut driver = None;
    for e in entries {
        let text = e.text.trim();
        let positive = |diags: &mut Diagnostics, unit: &str| -> Option<f64> {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Some(v),
                _ => {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{}` must be a positive number of {unit}",
                            e.key
                        ))
                        .with_primary(e.span, "not a positive number")
                        .with_help(format!("e.g. `{}`", written(&e.key, example(&e.key)))),
                    );
                    None
                }
            }
        };
        let count = |diags: &mut Diagnostics, least: usize| -> Option<usize> {
            match text.parse::<usize>() {
                Ok(v) if v >= least && v <= 1 << 24 => Some(v),
                _ => {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{}` must be a whole number of BOLD samples, at least {least}",
                            e.key
                        ))
                        .with_primary(e.span, "not such a number")
                        .with_help(format!("e.g. `{}`", written(&e.key, example(&e.key)))),
                    );
                    None
                }
            }
        };
        match e.key.as_str() {
            "driver" => driver = Some((text.to_string(), e.span)),
            "tr" => decl.tr = positive(diags, "seconds"),
            "bold_dt" => decl.bold_dt = positive(diags, "seconds"),
            "transient" => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => decl.transient = Some(v),
                _ => diags.push(
                    Diagnostic::error("`transient` must be a number of seconds, at least 0")
                        .with_primary(e.span, "not such a number")
                        .with_help(format!("e.g. `{}`", written("transient", "10"))),
                ),
            },
            "time_unit" => match text {
                "ms" => decl.time_unit = Some(1e-3),
                "s" => decl.time_unit = Some(1.0),
                _ => diags.push(
                    Diagnostic::error(format!("unknown time unit `{text}`"))
                        .with_primary(e.span, "not `ms` or `s`")
                        .with_help("the model's time is in `ms` (TVB's models) or `s`"),
                ),
            },
            "balloon" => {
                if BALLOONS.contains(&text) {
                    decl.balloon = Some(text.to_string());
                } else {
                    diags.push(
                        Diagnostic::error(format!("unknown Balloon–Windkessel constants `{text}`"))
                            .with_primary(e.span, "not a known set")
                            .with_suggestion(
                                text,
                                BALLOONS,
                                "use `stephan2007`, `friston2003` or `cubnm`",
                            ),
                    );
                }
            }
            "fcd_window" => decl.fcd_window = count(diags, 2),
            "fcd_step" => decl.fcd_step = count(diags, 1),
            "keep_bold" => match text {
                "true" => decl.keep_bold = Some(true),
                "false" => decl.keep_bold = Some(false),
                _ => diags.push(
                    Diagnostic::error("`keep_bold` must be true or false")
                        .with_primary(e.span, "not a boolean")
                        .with_help(format!("e.g. `{}`", written("keep_bold", "true"))),
                ),
            },
            other => diags.push(
                Diagnostic::error(format!("unknown field `{other}` in {what}"))
                    .with_primary(e.key_span, "not a BOLD field")
                    .with_suggestion(
                        other,
                        fields(),
                        format!(
                            "{what} has the fields {}",
                            fields().collect::<Vec<_>>().join(", ")
                        ),
                    ),
            ),
        }
    }
    match driver {
        None => diags.push(
            Diagnostic::error(format!("{what} has no `driver`"))
                .with_primary(whole, "which value drives BOLD?")
                .with_help(format!(
                    "name a state or algebraic variable, e.g. `{}`",
                    written("driver", "rww_op/S")
                )),
        ),
        Some((path, span)) => match model.lookup(&path) {
            Some(VarRef::State(_) | VarRef::Derived(_)) => decl.driver = path,
            Some(_) => diags.push(
                Diagnostic::error(format!("the BOLD driver `{path}` is a parameter or an input"))
                    .with_primary(span, "does not change in time")
                    .with_help("BOLD is driven by a state or an algebraic variable, e.g. a firing rate or a gating variable"),
            ),
            None => {
                let names: Vec<&str> = model
                    .names()
                    .filter(|(_, v)| matches!(v, VarRef::State(_) | VarRef::Derived(_)))
                    .map(|(n, _)| n)
                    .collect();
                diags.push(
                    Diagnostic::error(format!("the BOLD driver `{path}` is not in the model"))
                        .with_primary(span, "unknown")
                        .with_suggestion(&path, names, "name a state or algebraic variable"),
                );
            }
        },
    }
    (diags.error_count() == errors).then_some(decl)
}

fn example(key: &str) -> &'static str {
    match key {
        "tr" => "0.72",
        "bold_dt" => "0.001",
        "fcd_window" => "44",
        "fcd_step" => "2",
        _ => "1",
    }
}

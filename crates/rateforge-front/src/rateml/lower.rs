//! RateML semantics: from the element tree to the IR (see the module docs of [`super`]).

use super::SweepAxis;
use super::xml::{Attr, Element};
use crate::ast::{Ast, AstKind};
use crate::equation::{Origin, parse_expression};
use crate::lower_expr::{Binding, Lowerer, Scope, constant};
use indexmap::IndexMap;
use rateforge_ir::{
    BinOp, Builtin, Coupling, DerivedKind, Diagnostic, Diagnostics, EdgeDelays, Expr, FileId,
    Handle, Model, Network, ParamKind, Span, VarRef, did_you_mean,
};

/// What [`lower`] produces.
pub(super) struct Lowered {
    pub model: Option<Model>,
    pub sweep: Vec<SweepAxis>,
    pub record: Vec<String>,
    pub bold: Option<crate::observe::BoldDecl>,
    pub diags: Diagnostics,
}

/// Elements RateML (and rateforge) reads, with their attributes (`*` = required).
const SCHEMA: &[(&str, &[&str])] = &[
    ("Lems", &["description"]),
    ("ComponentType", &["name*", "extends", "description"]),
    ("Parameter", &["name*", "dimension", "description"]),
    (
        "DerivedParameter",
        &["name*", "value*", "dimension", "description"],
    ),
    (
        "Constant",
        &["name*", "value*", "dimension", "description", "symbol"],
    ),
    ("Exposure", &["name*", "dimension", "description"]),
    ("Bold", crate::observe::XML_ATTRIBUTES),
    ("Dynamics", &[]),
    (
        "StateVariable",
        &["name*", "dimension", "exposure", "description"],
    ),
    (
        "DerivedVariable",
        &["name*", "value*", "dimension", "exposure", "description"],
    ),
    (
        "ConditionalDerivedVariable",
        &["name*", "dimension", "exposure", "description"],
    ),
    ("Case", &["condition", "value*"]),
    ("TimeDerivative", &["variable*", "value*"]),
];

/// LEMS elements RateML accepts and ignores, by parent.
const IGNORED_IN_LEMS: &[&str] = &[
    "Target",
    "Include",
    "Dimension",
    "Unit",
    "Constant",
    "Component",
];
const IGNORED_IN_COMPONENT: &[&str] = &[
    "Property",
    "IndexParameter",
    "Child",
    "Children",
    "Fixed",
    "Link",
    "ComponentReference",
    "Attachments",
    "EventPort",
    "Requirement",
    "ComponentRequirement",
    "InstanceRequirement",
    "Path",
    "Text",
    "Structure",
    "Simulation",
];
const IGNORED_IN_DYNAMICS: &[&str] = &[
    "OnStart",
    "OnEvent",
    "OnCondition",
    "Regime",
    "KineticScheme",
];

/// Names with a fixed meaning in RateML expressions.
const RESERVED: &[&str] = &["dt", "n_node", "t"];

/// The `derivatives` component, sorted by element.
#[derive(Default)]
struct Derivatives<'a> {
    params: Vec<&'a Element>,
    derived_params: Vec<&'a Element>,
    constants: Vec<&'a Element>,
    exposures: Vec<&'a Element>,
    bold: Vec<&'a Element>,
    states: Vec<&'a Element>,
    derived: Vec<&'a Element>,
    conditional: Vec<&'a Element>,
    time_derivatives: Vec<&'a Element>,
}

/// A coupling component.
struct CouplingComponent<'a> {
    name: String,
    span: Span,
    params: Vec<&'a Element>,
    derived_params: Vec<&'a Element>,
    constants: Vec<&'a Element>,
    pre: Option<&'a Element>,
    post: Option<&'a Element>,
}

struct Ctx<'a> {
    diags: Diagnostics,
    derivatives: Option<(&'a Element, Derivatives<'a>)>,
    couplings: Vec<CouplingComponent<'a>>,
    noise: Option<&'a Element>,
}

/// The value of an attribute that the schema check found present (required ones).
fn value<'e>(el: &'e Element, name: &str) -> &'e Attr {
    el.attr(name).expect("required attributes are checked")
}

/// Checks an element's attributes against the schema: unknown ones and missing required ones.
/// Returns whether every required attribute is present (so the element can be read).
fn check_attrs(el: &Element, diags: &mut Diagnostics) -> bool {
    let Some((_, allowed)) = SCHEMA.iter().find(|(n, _)| *n == el.name) else {
        return true;
    };
    let mut ok = true;
    for a in &el.attrs {
        let lower = a.name.to_ascii_lowercase();
        // Namespace declarations and schema locations are XML plumbing.
        if lower.starts_with("xmlns") || lower.contains(':') {
            continue;
        }
        if !allowed.iter().any(|n| n.trim_end_matches('*') == lower) {
            let names = allowed.iter().map(|n| n.trim_end_matches('*'));
            let mut d =
                Diagnostic::error(format!("unknown attribute `{}` on `<{}>`", a.name, el.name))
                    .with_primary(a.name_span, "not a RateML attribute");
            let otherwise = if allowed.is_empty() {
                format!("`<{}>` takes no attributes", el.name)
            } else {
                format!(
                    "`<{}>` takes {}",
                    el.name,
                    names
                        .clone()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            d = d.with_suggestion(&lower, names, otherwise);
            // Reported, but the element is still read: its other attributes are fine.
            diags.push(d);
        }
    }
    for n in allowed.iter().filter_map(|n| n.strip_suffix('*')) {
        if el.attr(n).is_none() {
            diags.push(
                Diagnostic::error(format!("`<{}>` needs a `{n}` attribute", el.name))
                    .with_primary(el.span, format!("no `{n}`"))
                    .with_help(example(&el.name)),
            );
            ok = false;
        }
    }
    ok
}

fn example(element: &str) -> String {
    let e = match element {
        "ComponentType" => "<ComponentType name=\"derivatives\">",
        "Parameter" => "<Parameter name=\"global_coupling\" dimension=\"0.0, 1.0\"/>",
        "DerivedParameter" => {
            "<DerivedParameter name=\"rec_speed_dt\" value=\"1.0 / global_speed / dt\"/>"
        }
        "Constant" => "<Constant name=\"tau\" dimension=\"\" value=\"1.0\"/>",
        "Exposure" => "<Exposure name=\"V\" dimension=\"V\"/>",
        "Bold" => "<Bold driver=\"S\" tr=\"0.72\" fcd_window=\"44\"/>",
        "StateVariable" => "<StateVariable name=\"V\" dimension=\"-2.0, 2.0\" exposure=\"None\"/>",
        "DerivedVariable" => "<DerivedVariable name=\"I\" value=\"a * V + b\"/>",
        "ConditionalDerivedVariable" => "<ConditionalDerivedVariable name=\"f\">",
        "Case" => "<Case condition=\"V &lt; 0.0\" value=\"-V\"/>",
        "TimeDerivative" => "<TimeDerivative variable=\"dV\" value=\"-V / tau\"/>",
        _ => return format!("see the RateML format for `<{element}>`"),
    };
    format!("e.g. `{e}`")
}

/// Reports an element that is not allowed under `parent`, or warns that RateML ignores it.
fn unexpected(
    el: &Element,
    parent: &str,
    allowed: &[&str],
    ignored: &[&str],
    diags: &mut Diagnostics,
) {
    if ignored.contains(&el.name.as_str()) {
        diags.push(
            Diagnostic::warning(format!(
                "`<{}>` is ignored: RateML (and rateforge) do not use it",
                el.name
            ))
            .with_primary(el.span, "ignored")
            .with_help("remove it, or express what it does with the elements RateML reads"),
        );
        return;
    }
    let mut d = Diagnostic::error(format!("unknown element `<{}>` in `<{parent}>`", el.name))
        .with_primary(el.span, "not a RateML element here");
    let candidates = allowed.iter().chain(ignored).copied();
    d = d.with_suggestion_as(
        &el.name,
        candidates,
        |s| format!("`<{s}>`"),
        Some(format!(
            "`<{parent}>` may contain {}",
            allowed
                .iter()
                .map(|n| format!("`<{n}>`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    );
    diags.push(d);
}

/// Sorts the document into components, checking elements and attributes.
fn collect<'a>(root: &'a Element, ctx: &mut Ctx<'a>) {
    if root.name != "Lems" {
        ctx.diags.push(
            Diagnostic::error(format!(
                "the document element is `<{}>`, not `<Lems>`",
                root.name
            ))
            .with_primary(root.span, "expected `Lems`")
            .with_help(
                "a RateML model is `<Lems>` with a `<ComponentType name=\"derivatives\">` inside",
            ),
        );
        return;
    }
    check_attrs(root, &mut ctx.diags);
    for ct in &root.children {
        if ct.name != "ComponentType" {
            unexpected(
                ct,
                "Lems",
                &["ComponentType"],
                IGNORED_IN_LEMS,
                &mut ctx.diags,
            );
            continue;
        }
        if !check_attrs(ct, &mut ctx.diags) {
            continue;
        }
        let name = value(ct, "name");
        if name.value == "derivatives" {
            if let Some((first, _)) = &ctx.derivatives {
                ctx.diags.push(
                    Diagnostic::error("a second `derivatives` component")
                        .with_primary(name.value_span, "second")
                        .with_secondary(value(first, "name").value_span, "first")
                        .with_help("a RateML model has one `<ComponentType name=\"derivatives\">`"),
                );
                continue;
            }
            let d = collect_derivatives(ct, &mut ctx.diags);
            ctx.derivatives = Some((ct, d));
        } else if name.value.contains("coupling") {
            let c = collect_coupling(ct, &mut ctx.diags);
            ctx.couplings.push(c);
        } else if name.value == "noise" {
            for child in &ct.children {
                unexpected(child, "ComponentType", &[], &[], &mut ctx.diags);
            }
            ctx.noise = Some(ct);
        } else {
            ctx.diags.push(
                Diagnostic::warning(format!(
                    "component type `{}` is ignored: RateML reads `derivatives`, components whose name contains `coupling`, and `noise`",
                    name.value
                ))
                .with_primary(name.value_span, "ignored")
                .with_help("rename it if it belongs to the model, e.g. `derivatives` or `coupling_function`"),
            );
        }
    }
    if ctx.derivatives.is_none() {
        ctx.diags.push(
            Diagnostic::error("the model has no `derivatives` component")
                .with_primary(root.span, "in this document")
                .with_help("RateML models declare their dynamics in `<ComponentType name=\"derivatives\">`"),
        );
    }
}

fn collect_derivatives<'a>(ct: &'a Element, diags: &mut Diagnostics) -> Derivatives<'a> {
    let mut d = Derivatives::default();
    const ALLOWED: &[&str] = &[
        "Parameter",
        "DerivedParameter",
        "Constant",
        "Exposure",
        "Bold",
        "Dynamics",
    ];
    for el in &ct.children {
        let list = match el.name.as_str() {
            "Parameter" => &mut d.params,
            "DerivedParameter" => &mut d.derived_params,
            "Constant" => &mut d.constants,
            "Exposure" => &mut d.exposures,
            "Bold" => &mut d.bold,
            "Dynamics" => {
                check_attrs(el, diags);
                for dy in &el.children {
                    let list = match dy.name.as_str() {
                        "StateVariable" => &mut d.states,
                        "DerivedVariable" => &mut d.derived,
                        "ConditionalDerivedVariable" => &mut d.conditional,
                        "TimeDerivative" => &mut d.time_derivatives,
                        _ => {
                            unexpected(
                                dy,
                                "Dynamics",
                                &[
                                    "StateVariable",
                                    "DerivedVariable",
                                    "ConditionalDerivedVariable",
                                    "TimeDerivative",
                                ],
                                IGNORED_IN_DYNAMICS,
                                diags,
                            );
                            continue;
                        }
                    };
                    if check_attrs(dy, diags) {
                        list.push(dy);
                    }
                    if dy.name == "ConditionalDerivedVariable" {
                        for case in &dy.children {
                            if case.name == "Case" {
                                check_attrs(case, diags);
                            } else {
                                unexpected(
                                    case,
                                    "ConditionalDerivedVariable",
                                    &["Case"],
                                    &[],
                                    diags,
                                );
                            }
                        }
                    } else {
                        for child in &dy.children {
                            unexpected(child, &dy.name, &[], &[], diags);
                        }
                    }
                }
                continue;
            }
            _ => {
                unexpected(el, "ComponentType", ALLOWED, IGNORED_IN_COMPONENT, diags);
                continue;
            }
        };
        if check_attrs(el, diags) {
            list.push(el);
        }
        for child in &el.children {
            unexpected(child, &el.name, &[], &[], diags);
        }
    }
    d
}

fn collect_coupling<'a>(ct: &'a Element, diags: &mut Diagnostics) -> CouplingComponent<'a> {
    let name = value(ct, "name");
    let mut c = CouplingComponent {
        name: name.value.clone(),
        span: name.value_span,
        params: Vec::new(),
        derived_params: Vec::new(),
        constants: Vec::new(),
        pre: None,
        post: None,
    };
    const ALLOWED: &[&str] = &["Parameter", "DerivedParameter", "Constant", "Dynamics"];
    for el in &ct.children {
        let list = match el.name.as_str() {
            "Parameter" => &mut c.params,
            "DerivedParameter" => &mut c.derived_params,
            "Constant" => &mut c.constants,
            "Dynamics" => {
                for dv in &el.children {
                    if dv.name != "DerivedVariable" {
                        unexpected(
                            dv,
                            "Dynamics",
                            &["DerivedVariable"],
                            IGNORED_IN_DYNAMICS,
                            diags,
                        );
                        continue;
                    }
                    if !check_attrs(dv, diags) {
                        continue;
                    }
                    let n = value(dv, "name");
                    let slot = match n.value.as_str() {
                        "pre" => &mut c.pre,
                        "post" => &mut c.post,
                        _ => {
                            diags.push(
                                Diagnostic::error(format!(
                                    "a coupling's derived variables are `pre` and `post`, not `{}`",
                                    n.value
                                ))
                                .with_primary(n.value_span, "unknown")
                                .with_help("`pre` is the factor per edge (reading the source's `*_j` parameters), `post` a factor applied with it"),
                            );
                            continue;
                        }
                    };
                    if let Some(first) = slot {
                        diags.push(
                            Diagnostic::error(format!("`{}` is defined twice", n.value))
                                .with_primary(n.value_span, "second")
                                .with_secondary(value(first, "name").value_span, "first")
                                .with_help("keep one definition"),
                        );
                    } else {
                        *slot = Some(dv);
                    }
                }
                continue;
            }
            _ => {
                unexpected(el, "ComponentType", ALLOWED, IGNORED_IN_COMPONENT, diags);
                continue;
            }
        };
        if check_attrs(el, diags) {
            list.push(el);
        }
    }
    c
}

/// Names in RateML expressions.
struct XmlScope<'a> {
    names: &'a IndexMap<String, Binding>,
    /// Names local to one expression (a coupling's `*_j` parameters).
    local: Option<&'a IndexMap<String, Binding>>,
    what: &'a str,
}

impl Scope for XmlScope<'_> {
    fn resolve(&self, name: &str) -> Option<Binding> {
        if let Some(b) = self.local.and_then(|l| l.get(name)) {
            return Some(b.clone());
        }
        if let Some(b) = self.names.get(name) {
            return Some(b.clone());
        }
        match name {
            "dt" => Some(Binding::Leaf(Expr::StepSize)),
            "n_node" => Some(Binding::Leaf(Expr::NodeCount)),
            "t" => Some(Binding::Time),
            _ => constant(name).map(Binding::Constant),
        }
    }

    fn candidates(&self) -> Vec<String> {
        let mut c: Vec<String> = self.names.keys().cloned().collect();
        if let Some(l) = self.local {
            c.extend(l.keys().cloned());
        }
        c.extend(RESERVED.iter().map(|s| s.to_string()));
        c
    }

    fn describe(&self) -> String {
        self.what.to_string()
    }

    fn declaration_hint(&self) -> String {
        "declare it as a `<Constant>`, `<Parameter>`, `<DerivedParameter>`, `<StateVariable>` or `<DerivedVariable>`".to_string()
    }
}

/// The expression text of an attribute, parsed.
fn parse_attr(a: &Attr, file: FileId) -> Result<Ast, Diagnostic> {
    let origin = if a.verbatim {
        Origin::exact(file, a.value_span.start as usize)
    } else {
        Origin::whole(a.value_span)
    };
    if a.value.trim().is_empty() {
        return Err(Diagnostic::error(format!("`{}` is empty", a.name))
            .with_primary(a.value_span, "expected an expression")
            .with_help("write an expression, e.g. `a * V + b`"));
    }
    parse_expression(&a.value, &origin)
}

/// `"lo, hi"` (two numbers; `None`, `inf` and `-inf` allowed when `open` is set).
fn parse_pair(a: &Attr, open: bool) -> Result<(f64, f64), Diagnostic> {
    let parts: Vec<&str> = a.value.split(',').map(str::trim).collect();
    let number = |s: &str, lo: bool| -> Option<f64> {
        match s {
            "None" | "none" if open => Some(if lo { f64::NEG_INFINITY } else { f64::INFINITY }),
            "inf" | "+inf" | "Inf" | "INF" if open => Some(f64::INFINITY),
            "-inf" | "-Inf" | "-INF" if open => Some(f64::NEG_INFINITY),
            _ => number(s),
        }
    };
    match parts.as_slice() {
        [lo, hi] => match (number(lo, true), number(hi, false)) {
            (Some(lo), Some(hi)) => Ok((lo, hi)),
            _ => Err(bad_pair(a, open)),
        },
        _ => Err(bad_pair(a, open)),
    }
}

fn bad_pair(a: &Attr, open: bool) -> Diagnostic {
    let help = if open {
        "write the bounds as `lo, hi` (numbers, `inf`, or `None` for an open side), or `None` for no bounds"
    } else {
        "write the range as two numbers, `lo, hi`, e.g. `0.0, 1.0`"
    };
    Diagnostic::error(format!("cannot read `{}=\"{}\"`", a.name, a.value))
        .with_primary(a.value_span, "expected `lo, hi`")
        .with_help(help)
}

/// A finite number, with C's float suffix allowed (`1.0f`).
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    let digits = s.strip_suffix('f').unwrap_or(s);
    digits.parse::<f64>().ok().filter(|v| {
        v.is_finite() && !digits.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    })
}

fn is_none(s: &str) -> bool {
    matches!(s.trim(), "" | "None" | "none" | "NONE")
}

/// Whether an expression reads only literals and `allowed` names (and `dt`, `n_node`, constants).
fn reads_only(ast: &Ast, allowed: &dyn Fn(&str) -> bool) -> bool {
    ast.names()
        .iter()
        .all(|(n, _)| allowed(n) || matches!(*n, "dt" | "n_node") || constant(n).is_some())
}

/// Lowers a RateML document.
pub(super) fn lower(root: &Element, file: FileId, model_name: &str) -> Lowered {
    let mut ctx = Ctx {
        diags: Diagnostics::new(),
        derivatives: None,
        couplings: Vec::new(),
        noise: None,
    };
    collect(root, &mut ctx);
    let mut out = Lowered {
        model: None,
        sweep: Vec::new(),
        record: Vec::new(),
        bold: None,
        diags: Diagnostics::new(),
    };
    let Some((dct, d)) = ctx.derivatives.take() else {
        out.diags = ctx.diags;
        return out;
    };
    let mut model = Model::new(model_name);
    model.description = root
        .attr("description")
        .map(|a| a.value.trim().to_string())
        .filter(|s| !s.is_empty());
    let mut b = Builder {
        file,
        diags: std::mem::take(&mut ctx.diags),
        names: IndexMap::new(),
        decl: IndexMap::new(),
        asts: IndexMap::new(),
    };

    // ---- declarations ------------------------------------------------------------------------
    let states = declare_states(&mut b, &mut model, &d);
    out.sweep = declare_swept(&mut b, &mut model, &d);
    declare_constants(&mut b, &mut model, &d, &ctx.couplings);
    declare_derived(&mut b, &mut model, &d);
    let network = !ctx.couplings.is_empty();
    if network {
        model.network = Some(Network {
            delays: EdgeDelays::Zero,
            span: ctx.couplings[0].span,
        });
    }
    let terms = declare_coupling_terms(&mut b, &mut model, &ctx.couplings, &states);
    for name in RESERVED {
        if let Some(span) = b.decl.get(*name) {
            b.diags.push(
                Diagnostic::error(format!("`{name}` is a RateML name and cannot be declared"))
                    .with_primary(*span, "declared here")
                    .with_help(match *name {
                        "dt" => "`dt` is the step size; pick another name",
                        "n_node" => "`n_node` is the number of nodes; pick another name",
                        _ => "`t` is the time; pick another name",
                    }),
            );
        }
    }
    if states.is_empty() && !b.diags.has_errors() {
        b.diags.push(
            Diagnostic::error("the model has no state variables")
                .with_primary(value(dct, "name").value_span, "in this component")
                .with_help("declare `<StateVariable name=\"V\" dimension=\"0.0, 1.0\"/>` in `<Dynamics>`, with a `<TimeDerivative>`"),
        );
    }

    // ---- expressions --------------------------------------------------------------------------
    let mut lowerer = Lowerer::new(&mut model);
    let scope = XmlScope {
        names: &b.names,
        local: None,
        what: "the model",
    };
    lower_parameter_expressions(&mut lowerer, &b, &scope);
    lower_derived(&mut lowerer, &b, &scope, &d);
    lower_conditionals(&mut lowerer, &b, &scope, &d);
    lower_time_derivatives(&mut lowerer, &b, &scope, &d, &states);
    // Couplings.
    for (ci, el, coupling, scale, in_post) in terms {
        let comp = &ctx.couplings[ci];
        lower_coupling(
            &mut lowerer,
            &b,
            &scope,
            comp,
            el,
            coupling,
            scale.as_ref(),
            in_post,
            &states,
        );
    }
    if network {
        set_edge_delays(&mut lowerer, &b);
    }
    if let Some(noise) = ctx.noise {
        add_noise(&mut lowerer, &b, noise, &states);
    }
    out.record = exposures(&mut lowerer, &b, &scope, &d);
    let diags = std::mem::take(&mut lowerer.diags);
    b.diags.extend(diags);
    out.bold = bold(&model, &d, &mut b.diags);
    out.diags = b.diags;
    out.model = Some(model);
    out
}

/// The state variables, in document order (coupling parameters address them by position), with
/// their initial values or ranges and their bounds.
fn declare_states(
    b: &mut Builder,
    model: &mut Model,
    d: &Derivatives<'_>,
) -> Vec<Handle<rateforge_ir::State>> {
    let mut states = Vec::new();
    for el in &d.states {
        let n = value(el, "name");
        if !b.declare(n) {
            continue;
        }
        let (init, range) = match el.attr("dimension") {
            Some(a) if !is_none(&a.value) => match parse_pair(a, false) {
                Ok((lo, hi)) if lo == hi => (lo, None),
                Ok((lo, hi)) => (lo, Some((lo, hi))),
                Err(e) => {
                    // A single number is a fixed initial value.
                    match number(&a.value) {
                        Some(v) => (v, None),
                        None => {
                            b.diags.push(e);
                            (0.0, None)
                        }
                    }
                }
            },
            _ => (0.0, None),
        };
        let h = model
            .add_state(&n.value, init, n.value_span)
            .expect("names are checked for uniqueness");
        model.states[h].init_range = range;
        if let Some(a) = el.attr("exposure").filter(|a| !is_none(&a.value)) {
            match parse_pair(a, true) {
                Ok(bounds) if bounds.0 > bounds.1 => b.diags.push(
                    Diagnostic::error(format!("the bounds of `{}` are empty", n.value))
                        .with_primary(a.value_span, "lower bound above upper bound")
                        .with_help("write `lo, hi` with lo <= hi"),
                ),
                Ok((lo, hi)) if lo == f64::NEG_INFINITY && hi == f64::INFINITY => {}
                Ok(bounds) => model.states[h].bounds = Some(bounds),
                Err(e) => b.diags.push(e),
            }
        }
        b.names
            .insert(n.value.clone(), Binding::Scalar(VarRef::State(h)));
        states.push(h);
    }
    states
}

/// The swept parameters (`<Parameter>`, each with its range): parameters of the model and axes
/// of the sweep.
fn declare_swept(b: &mut Builder, model: &mut Model, d: &Derivatives<'_>) -> Vec<SweepAxis> {
    let mut sweep = Vec::new();
    for el in &d.params {
        let n = value(el, "name");
        if !b.declare(n) {
            continue;
        }
        let range = match el.attr("dimension") {
            Some(a) => parse_pair(a, false).map(|r| (r, a.value_span)),
            None => Err(Diagnostic::error(format!(
                "parameter `{}` has no range",
                n.value
            ))
            .with_primary(n.value_span, "no `dimension`")
            .with_help("a RateML `<Parameter>` is swept: give its range as `dimension=\"lo, hi\"`; use a `<Constant>` for a fixed value")),
        };
        let ((lo, hi), span) = match range {
            Ok(r) => r,
            Err(e) => {
                b.diags.push(e);
                ((0.0, 0.0), n.value_span)
            }
        };
        let h = model
            .add_param(&n.value, lo, ParamKind::Constant, n.value_span)
            .expect("unique");
        b.names
            .insert(n.value.clone(), Binding::Scalar(VarRef::Param(h)));
        sweep.push(SweepAxis {
            name: n.value.clone(),
            lo,
            hi,
            span,
        });
    }
    sweep
}

/// Constants and derived parameters (the model's and its coupling components'): parameters when
/// they are numbers, else algebraic variables lowered later ([`lower_parameter_expressions`]).
fn declare_constants(
    b: &mut Builder,
    model: &mut Model,
    d: &Derivatives<'_>,
    couplings: &[CouplingComponent<'_>],
) {
    let file = b.file;
    let mut seen_constants: IndexMap<String, &Element> = IndexMap::new();
    let constant_like: Vec<(&Element, bool)> = d
        .constants
        .iter()
        .map(|e| (*e, false))
        .chain(d.derived_params.iter().map(|e| (*e, true)))
        .chain(
            couplings
                .iter()
                .flat_map(|c| c.constants.iter().map(|e| (*e, false))),
        )
        .collect();
    for (el, derived_param) in constant_like {
        let n = value(el, "name");
        let v = value(el, "value");
        if !derived_param {
            // PyLEMS keeps one of two equal constants (RateML's rwongwang declares one twice).
            if let Some(first) = seen_constants.get(&n.value) {
                let fv = value(first, "value");
                if fv.value.trim() == v.value.trim() {
                    b.diags.push(
                        Diagnostic::warning(format!("constant `{}` is declared twice", n.value))
                            .with_primary(n.value_span, "again, with the same value")
                            .with_secondary(value(first, "name").value_span, "first")
                            .with_help("remove the repetition"),
                    );
                    continue;
                }
            }
            seen_constants.insert(n.value.clone(), el);
        }
        if !b.declare(n) {
            continue;
        }
        let ast = match parse_attr(v, file) {
            Ok(a) => a,
            Err(e) => {
                b.diags.push(e);
                b.bad(&n.value);
                continue;
            }
        };
        match literal(&ast) {
            Some(x) => {
                let h = model
                    .add_param(&n.value, x, ParamKind::Constant, n.value_span)
                    .expect("unique");
                b.names
                    .insert(n.value.clone(), Binding::Scalar(VarRef::Param(h)));
            }
            None => {
                let placeholder = model.add_expr(Expr::Lit(0.0), v.value_span);
                let h = model
                    .add_derived(&n.value, placeholder, DerivedKind::Equation, n.value_span)
                    .expect("unique");
                b.names
                    .insert(n.value.clone(), Binding::Scalar(VarRef::Derived(h)));
                b.asts
                    .insert(n.value.clone(), (ast, derived_param, v.value_span));
            }
        }
    }
}

/// Derived variables and conditional derived variables, defined later ([`lower_derived`],
/// [`lower_conditionals`]).
fn declare_derived(b: &mut Builder, model: &mut Model, d: &Derivatives<'_>) {
    for el in d.derived.iter().chain(&d.conditional) {
        let n = value(el, "name");
        if !b.declare(n) {
            continue;
        }
        let placeholder = model.add_expr(Expr::Lit(0.0), n.value_span);
        let h = model
            .add_derived(&n.value, placeholder, DerivedKind::Equation, n.value_span)
            .expect("unique");
        b.names
            .insert(n.value.clone(), Binding::Scalar(VarRef::Derived(h)));
    }
}

/// A coupling term of a coupling component: (component, element, coupling, scaling, whether the
/// scaling is folded into `post`).
type Term<'a> = (usize, &'a Element, Handle<Coupling>, Option<Ast>, bool);

/// Coupling terms: a coupling each (the scaling folded into `post` when it is a constant of the
/// instance), or an algebraic variable `coupling * value` when the scaling reads the node.
fn declare_coupling_terms<'a>(
    b: &mut Builder,
    model: &mut Model,
    couplings: &[CouplingComponent<'a>],
    states: &[Handle<rateforge_ir::State>],
) -> Vec<Term<'a>> {
    let file = b.file;
    let mut terms = Vec::new();
    for (ci, comp) in couplings.iter().enumerate() {
        for el in &comp.derived_params {
            let n = value(el, "name");
            if !b.declare(n) {
                continue;
            }
            let v = value(el, "value");
            let scale = if is_none(&v.value) {
                None
            } else {
                match parse_attr(v, file) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        b.diags.push(e);
                        b.bad(&n.value);
                        continue;
                    }
                }
            };
            let in_post = scale.as_ref().is_none_or(|s| {
                reads_only(s, &|name| {
                    matches!(b.names.get(name), Some(Binding::Scalar(VarRef::Param(_))))
                })
            });
            let zero = model.add_expr(Expr::Lit(0.0), n.value_span);
            let coupling = model.couplings.append(Coupling {
                name: n.value.clone(),
                source: VarRef::State(states.first().copied().unwrap_or(Handle::from_index(0))),
                pre: zero,
                post: zero,
                span: n.value_span,
            });
            if in_post {
                b.names
                    .insert(n.value.clone(), Binding::Leaf(Expr::Coupling(coupling)));
            } else {
                let h = model
                    .add_derived(&n.value, zero, DerivedKind::Connection, n.value_span)
                    .expect("unique");
                b.names
                    .insert(n.value.clone(), Binding::Scalar(VarRef::Derived(h)));
            }
            terms.push((ci, *el, coupling, scale, in_post));
        }
    }
    terms
}

/// Constants and derived parameters that are expressions (a derived parameter reads parameters,
/// constants and other derived parameters only).
fn lower_parameter_expressions(lowerer: &mut Lowerer<'_>, b: &Builder, scope: &XmlScope<'_>) {
    for (name, (ast, derived_param, span)) in &b.asts {
        let Some(Binding::Scalar(VarRef::Derived(h))) = b.names.get(name) else {
            continue;
        };
        // A derived parameter reads parameters, constants and other derived parameters only.
        let changing = |n: &str| {
            matches!(
                b.names.get(n),
                Some(Binding::Scalar(VarRef::State(_) | VarRef::Derived(_)) | Binding::Leaf(_))
            ) && !b.asts.contains_key(n)
        };
        if *derived_param
            && let Some((bad, at)) = ast.names().into_iter().find(|(n, _)| changing(n))
        {
            lowerer.diags.push(
                Diagnostic::error(format!("derived parameter `{name}` reads `{bad}`, which changes during the run"))
                    .with_primary(at, "read here")
                    .with_help("a `<DerivedParameter>` is computed once per instance from parameters and constants; use a `<DerivedVariable>` in `<Dynamics>` for values that change"),
            );
            continue;
        }
        if let Some(e) = lowerer.lower_scalar(ast, scope) {
            lowerer.model.derived[*h].expr = e;
            lowerer.model.derived[*h].span = *span;
        }
    }
}

/// The derived variables' expressions.
fn lower_derived(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    scope: &XmlScope<'_>,
    d: &Derivatives<'_>,
) {
    let file = b.file;
    for el in &d.derived {
        let n = value(el, "name");
        let Some(Binding::Scalar(VarRef::Derived(h))) = b.names.get(&n.value) else {
            continue;
        };
        let v = value(el, "value");
        match parse_attr(v, file) {
            Ok(ast) => {
                if let Some(e) = lowerer.lower_scalar(&ast, scope) {
                    lowerer.model.derived[*h].expr = e;
                    lowerer.model.derived[*h].span = v.value_span;
                }
            }
            Err(e) => lowerer.diags.push(e),
        }
    }
}

/// Conditional derived variables: the cases from the last (the otherwise-branch) backwards.
fn lower_conditionals(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    scope: &XmlScope<'_>,
    d: &Derivatives<'_>,
) {
    let file = b.file;
    for el in &d.conditional {
        let n = value(el, "name");
        let Some(Binding::Scalar(VarRef::Derived(h))) = b.names.get(&n.value) else {
            continue;
        };
        let cases: Vec<&Element> = el
            .children
            .iter()
            .filter(|c| c.name == "Case" && c.attr("value").is_some())
            .collect();
        let Some((last, rest)) = cases.split_last() else {
            lowerer.diags.push(
                Diagnostic::error(format!("conditional variable `{}` has no `<Case>`", n.value))
                    .with_primary(n.value_span, "no cases")
                    .with_help("give `<Case condition=\"x &lt; 0\" value=\"...\"/>` and a last `<Case condition=\"else\" value=\"...\"/>`"),
            );
            continue;
        };
        if let Some(c) = last.attr("condition").filter(|c| !is_else(&c.value)) {
            lowerer.diags.push(
                Diagnostic::warning(format!("the last case of `{}` is its otherwise-branch: the condition `{}` is not checked", n.value, c.value.trim()))
                    .with_primary(c.value_span, "not checked")
                    .with_help("RateML treats the last `<Case>` as `else` too; write `condition=\"else\"` to say so"),
            );
        }
        let mut acc = match parse_attr(value(last, "value"), file) {
            Ok(ast) => lowerer.lower_scalar(&ast, scope),
            Err(e) => {
                lowerer.diags.push(e);
                None
            }
        };
        for case in rest.iter().rev() {
            let cond = match case.attr("condition") {
                Some(c) if !is_else(&c.value) => parse_attr(c, file),
                Some(c) => Err(Diagnostic::error("only the last case can be `else`")
                    .with_primary(c.value_span, "not the last case")
                    .with_help("move this case to the end, or give it a condition")),
                None => Err(
                    Diagnostic::error("only the last case can leave out its condition")
                        .with_primary(case.span, "no `condition`")
                        .with_help("give a condition such as `condition=\"x &lt; 0.0\"`"),
                ),
            };
            let value_ast = parse_attr(value(case, "value"), file);
            let (cond, then) = match (cond, value_ast) {
                (Ok(c), Ok(v)) => (
                    lowerer.lower_scalar(&c, scope),
                    lowerer.lower_scalar(&v, scope),
                ),
                (c, v) => {
                    for e in [c.err(), v.err()].into_iter().flatten() {
                        lowerer.diags.push(e);
                    }
                    (None, None)
                }
            };
            acc = match (cond, then, acc) {
                (Some(c), Some(t), Some(o)) => {
                    Some(lowerer.model.add_expr(Expr::Select(c, t, o), case.tag))
                }
                _ => None,
            };
        }
        if let Some(e) = acc {
            lowerer.model.derived[*h].expr = e;
            lowerer.model.derived[*h].span = el.tag;
        }
    }
}

/// Time derivatives: by the state's name, else by position (RateML writes `dV` for `V`).
fn lower_time_derivatives(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    scope: &XmlScope<'_>,
    d: &Derivatives<'_>,
    states: &[Handle<rateforge_ir::State>],
) {
    let file = b.file;
    let n_states = states.len();
    let mut paired: Vec<Option<Span>> = vec![None; n_states];
    for (k, el) in d.time_derivatives.iter().enumerate() {
        let var = value(el, "variable");
        let by_name = match b.names.get(var.value.trim()) {
            Some(Binding::Scalar(VarRef::State(h))) => Some(*h),
            _ => None,
        };
        let state = match by_name {
            Some(h) => h,
            None if k < n_states => {
                let h = states[k];
                let sname = &lowerer.model.states[h].name;
                if var.value.trim() != format!("d{sname}") {
                    lowerer.diags.push(
                        Diagnostic::warning(format!("`{}` names no state variable: it is paired with `{sname}` by position, as RateML does", var.value.trim()))
                            .with_primary(var.value_span, format!("time derivative {} → state {}", k + 1, k + 1))
                            .with_help(format!("write `variable=\"{sname}\"` (or `d{sname}`) to make the pairing explicit")),
                    );
                }
                h
            }
            None => {
                let guess = did_you_mean(
                    var.value.trim(),
                    states
                        .iter()
                        .map(|h| lowerer.model.states[*h].name.as_str()),
                );
                let taken = guess.and_then(|g| {
                    states
                        .iter()
                        .find(|h| lowerer.model.states[**h].name == g)
                        .and_then(|h| paired[h.index()].map(|first| (*h, first)))
                });
                if let Some((h, first)) = taken {
                    let d = two_derivatives(&lowerer.model.states[h].name, var.value_span, first);
                    lowerer.diags.push(d);
                    continue;
                }
                let d = Diagnostic::error(format!(
                    "time derivative `{}` has no state variable",
                    var.value.trim()
                ))
                .with_primary(var.value_span, "no state of this name");
                let d = match guess {
                    Some(s) => d.with_help(format!("did you mean `{s}`? (RateML pairs the time derivatives with the {n_states} state variables by position; this is number {})", k + 1)),
                    None => d.with_help(format!("declare `<StateVariable name=\"{}\" .../>` in `<Dynamics>` (there are {n_states} state variables and this is time derivative number {})", var.value.trim().trim_start_matches('d'), k + 1)),
                };
                lowerer.diags.push(d);
                continue;
            }
        };
        if let Some(first) = paired[state.index()] {
            let d = two_derivatives(&lowerer.model.states[state].name, var.value_span, first);
            lowerer.diags.push(d);
            continue;
        }
        paired[state.index()] = Some(var.value_span);
        let v = value(el, "value");
        match parse_attr(v, file) {
            Ok(ast) => {
                if let Some(e) = lowerer.lower_scalar(&ast, scope) {
                    lowerer.model.add_ode(state, e, v.value_span);
                }
            }
            Err(e) => lowerer.diags.push(e),
        }
    }
}

/// A second `<TimeDerivative>` of state `name` (at `second`; the first at `first`).
fn two_derivatives(name: &str, second: Span, first: Span) -> Diagnostic {
    Diagnostic::error(format!("state `{name}` has two time derivatives"))
        .with_primary(second, "second")
        .with_secondary(first, "first")
        .with_help("keep one `<TimeDerivative>` per state variable")
}

/// The delays of a network: `round_half_even(length * rec_speed_dt)` steps where `rec_speed_dt`
/// is present and not 0, else none.
fn set_edge_delays(lowerer: &mut Lowerer<'_>, b: &Builder) {
    // Present and not 0: delays of round_half_even(length * rec_speed_dt) steps.
    let delays = match b.names.get("rec_speed_dt") {
        Some(Binding::Scalar(VarRef::Param(h))) if lowerer.model.params[*h].value != 0.0 => {
            let span = lowerer.model.params[*h].span;
            EdgeDelays::StepsPerDistance(lowerer.model.add_expr(Expr::Param(*h), span))
        }
        Some(Binding::Scalar(VarRef::Derived(h))) => {
            let span = lowerer.model.derived[*h].span;
            let e = lowerer.model.add_expr(Expr::Derived(*h), span);
            EdgeDelays::StepsPerDistance(inline_derived(lowerer.model, e, 0))
        }
        _ => EdgeDelays::Zero,
    };
    if let Some(net) = lowerer.model.network.as_mut() {
        net.delays = delays;
    }
}

/// Noise: additive on every state, RateML's per-step deviation `nsig` (default 1).
fn add_noise(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    noise: &Element,
    states: &[Handle<rateforge_ir::State>],
) {
    let span = value(noise, "name").value_span;
    let nsig = match b.names.get("nsig").or_else(|| b.names.get("NSIG")) {
        Some(Binding::Scalar(v)) => {
            let e = match v {
                VarRef::Param(h) => Expr::Param(*h),
                VarRef::Derived(h) => Expr::Derived(*h),
                VarRef::State(h) => Expr::State(*h),
                VarRef::Series(h) => Expr::Series(*h),
            };
            lowerer.model.add_expr(e, span)
        }
        _ => lowerer.model.add_expr(Expr::Lit(1.0), span),
    };
    let dt = lowerer.model.add_expr(Expr::StepSize, span);
    let sqrt_dt = lowerer
        .model
        .add_expr(Expr::Call(Builtin::Sqrt, vec![dt]), span);
    let g = lowerer
        .model
        .add_expr(Expr::Binary(BinOp::Div, nsig, sqrt_dt), span);
    for h in states {
        lowerer.model.states[*h].noise = Some(g);
    }
}

/// Exposures: what a run records by default (states and derived variables by name, other
/// expressions as new algebraic variables; parameters are not recorded).
fn exposures(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    scope: &XmlScope<'_>,
    d: &Derivatives<'_>,
) -> Vec<String> {
    let file = b.file;
    let mut record = Vec::new();
    for el in &d.exposures {
        let n = value(el, "name");
        let text = n.value.trim();
        match b.names.get(text) {
            Some(Binding::Scalar(VarRef::State(h))) => {
                record.push(lowerer.model.states[*h].name.clone())
            }
            Some(Binding::Scalar(VarRef::Derived(h))) => {
                record.push(lowerer.model.derived[*h].name.clone())
            }
            Some(Binding::Scalar(VarRef::Param(_))) => lowerer.diags.push(
                Diagnostic::warning(format!(
                    "exposure `{text}` is a parameter, which does not change: it is not recorded"
                ))
                .with_primary(n.value_span, "a parameter")
                .with_help("expose state variables or derived variables"),
            ),
            _ => match parse_attr(n, file) {
                Ok(ast) => {
                    if let Some(e) = lowerer.lower_scalar(&ast, scope)
                        && lowerer
                            .model
                            .add_derived(text, e, DerivedKind::Equation, n.value_span)
                            .is_ok()
                    {
                        record.push(text.to_string());
                    }
                }
                Err(e) => lowerer.diags.push(e),
            },
        }
    }
    record
}

/// `<Bold driver="S" tr="0.72" .../>`: the BOLD observer runs compute unless told otherwise (one
/// at most).
fn bold(
    model: &Model,
    d: &Derivatives<'_>,
    diags: &mut Diagnostics,
) -> Option<crate::observe::BoldDecl> {
    let el = d.bold.first()?;
    for extra in &d.bold[1..] {
        diags.push(
            Diagnostic::error("a model declares one `<Bold>`")
                .with_primary(extra.span, "a second one")
                .with_secondary(el.span, "the first")
                .with_help("keep one `<Bold>` element"),
        );
    }
    let entries: Vec<crate::observe::Entry> = el
        .attrs
        .iter()
        .filter(|a| a.name != "description")
        .map(|a| crate::observe::Entry {
            key: a.name.clone(),
            key_span: a.name_span,
            text: a.value.clone(),
            span: a.value_span,
        })
        .collect();
    crate::observe::declare(&entries, el.tag, "`<Bold>`", model, diags)
}

fn is_else(s: &str) -> bool {
    s.trim().eq_ignore_ascii_case("else")
}

/// The value of an expression made of numbers and named constants only.
fn literal(ast: &Ast) -> Option<f64> {
    if !ast.names().iter().all(|(n, _)| constant(n).is_some()) {
        return None;
    }
    let mut scratch = Model::new("constant");
    let mut lowerer = Lowerer::new(&mut scratch);
    struct Empty;
    impl Scope for Empty {
        fn resolve(&self, name: &str) -> Option<Binding> {
            constant(name).map(Binding::Constant)
        }
        fn candidates(&self) -> Vec<String> {
            Vec::new()
        }
        fn describe(&self) -> String {
            String::new()
        }
    }
    let e = lowerer.lower_scalar(ast, &Empty)?;
    match lowerer.model.exprs[e] {
        Expr::Lit(v) if v.is_finite() => Some(v),
        _ => None,
    }
}

/// Copies `e`, replacing each algebraic variable by its definition (for values computed once
/// per instance, such as the delay scale).
fn inline_derived(model: &mut Model, e: Handle<Expr>, depth: usize) -> Handle<Expr> {
    rateforge_ir::deep(|| inline_derived_node(model, e, depth))
}

fn inline_derived_node(model: &mut Model, e: Handle<Expr>, depth: usize) -> Handle<Expr> {
    let span = model.expr_span(e);
    let expr = model.exprs[e].clone();
    let new = match expr {
        Expr::Derived(h) if depth < 64 => {
            let inner = model.derived[h].expr;
            return inline_derived(model, inner, depth + 1);
        }
        Expr::Unary(op, a) => Expr::Unary(op, inline_derived(model, a, depth)),
        Expr::Binary(op, a, b) => {
            let a = inline_derived(model, a, depth);
            Expr::Binary(op, a, inline_derived(model, b, depth))
        }
        Expr::Powi(a, n) => Expr::Powi(inline_derived(model, a, depth), n),
        Expr::Call(f, args) => Expr::Call(
            f,
            args.into_iter()
                .map(|a| inline_derived(model, a, depth))
                .collect(),
        ),
        Expr::Select(c, a, b) => {
            let c = inline_derived(model, c, depth);
            let a = inline_derived(model, a, depth);
            Expr::Select(c, a, inline_derived(model, b, depth))
        }
        other => other,
    };
    model.add_expr(new, span)
}

/// Declarations seen so far, and the expressions still to lower.
struct Builder {
    file: FileId,
    diags: Diagnostics,
    names: IndexMap<String, Binding>,
    /// Where each name is declared.
    decl: IndexMap<String, Span>,
    /// Constants and derived parameters that are expressions: (ast, is a derived parameter, span).
    asts: IndexMap<String, (Ast, bool, Span)>,
}

impl Builder {
    /// Records a declaration; reports a duplicate and returns `false`.
    fn declare(&mut self, name: &Attr) -> bool {
        let text = name.value.trim();
        if !is_identifier(text) {
            self.diags.push(
                Diagnostic::error(format!("`{text}` is not a valid name"))
                    .with_primary(name.value_span, "not a name")
                    .with_help(
                        "names start with a letter or `_` and continue with letters, digits or `_`",
                    ),
            );
            return false;
        }
        if let Some(first) = self.decl.get(text) {
            self.diags.push(
                Diagnostic::error(format!("`{text}` is declared twice"))
                    .with_primary(name.value_span, "second declaration")
                    .with_secondary(*first, "first declaration")
                    .with_help("every parameter, constant and variable needs its own name"),
            );
            return false;
        }

        self.decl.insert(text.to_string(), name.value_span);
        true
    }

    /// Marks a name whose declaration failed, so its uses are not reported again.
    fn bad(&mut self, name: &str) {
        self.names.insert(name.to_string(), Binding::Constant(0.0));
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One coupling term of a coupling component.
#[allow(clippy::too_many_arguments)]
fn lower_coupling(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    scope: &XmlScope<'_>,
    comp: &CouplingComponent<'_>,
    term: &Element,
    coupling: Handle<Coupling>,
    scale: Option<&Ast>,
    in_post: bool,
    states: &[Handle<rateforge_ir::State>],
) {
    let file = b.file;
    let term_name = value(term, "name");
    let (sources, unresolved) = coupling_sources(lowerer, b, comp, states);
    // The per-edge factor: post * pre (post = 1 when absent or `1`).
    let pre = comp.pre.map(|e| parse_attr(value(e, "value"), file));
    let post = comp.post.map(|e| parse_attr(value(e, "value"), file));
    let (pre, post) = match (pre.transpose(), post.transpose()) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                lowerer.diags.push(e);
            }
            return;
        }
    };
    let pre = match pre {
        Some(p) => p,
        None => {
            let Some(first) = sources.keys().next() else {
                lowerer.diags.push(
                    Diagnostic::warning(format!("coupling `{}` reads nothing, so it is always zero", term_name.value))
                        .with_primary(term_name.value_span, "always 0")
                        .with_help("declare a `<Parameter name=\"x_j\" dimension=\"0\"/>` and `<Dynamics>` with `pre` and `post` (RateML computes 0 here as well)"),
                );
                let zero = lowerer.model.add_expr(Expr::Lit(0.0), term_name.value_span);
                lowerer.model.couplings[coupling].pre = zero;
                lowerer.model.couplings[coupling].post = zero;
                lowerer.model.couplings[coupling].source = VarRef::State(first_state(states));
                return;
            };
            lowerer.diags.push(
                Diagnostic::warning(format!("coupling component `{}` has no `pre`: `{first}` is summed as it is (linear coupling)", comp.name))
                    .with_primary(comp.span, "no `<Dynamics>` with `pre`")
                    .with_help(format!("RateML computes 0 without `pre`; write `<DerivedVariable name=\"pre\" value=\"{first}\"/>` to say what is meant")),
            );
            Ast::new(AstKind::Name(first.clone()), term_name.value_span)
        }
    };
    let factor = match post {
        Some(p) if !matches!(p.kind, AstKind::Num(v) if v == 1.0) => {
            let span = p.span.join(pre.span);
            Ast::new(
                AstKind::Binary(BinOp::Mul, Box::new(p), Box::new(pre)),
                span,
            )
        }
        _ => pre,
    };
    let used: Vec<String> = sources
        .keys()
        .filter(|k| factor.names().iter().any(|(n, _)| n == *k))
        .cloned()
        .collect();
    if used.len() <= 1 {
        let source = used
            .first()
            .map(|u| sources[u].0)
            .unwrap_or(first_state(states));
        let mut local = unresolved.clone();
        for k in sources.keys() {
            if used.contains(k) {
                local.insert(k.clone(), Binding::Leaf(Expr::CouplingSource));
            }
        }
        let s = XmlScope {
            names: scope.names,
            local: Some(&local),
            what: "a coupling's `pre`",
        };
        if let Some(e) = lowerer.lower_scalar(&factor, &s) {
            lowerer.model.couplings[coupling].pre = e;
        }
        lowerer.model.couplings[coupling].source = VarRef::State(source);
    } else {
        // Several source states: computed at each node as an algebraic variable, then summed.
        let node_reads: Vec<(&str, Span)> = factor
            .names()
            .into_iter()
            .filter(|(n, _)| {
                matches!(
                    b.names.get(*n),
                    Some(Binding::Scalar(VarRef::State(_) | VarRef::Derived(_)))
                ) && !sources.contains_key(*n)
            })
            .collect();
        if let Some((n, at)) = node_reads.first() {
            lowerer.diags.push(
                Diagnostic::error(format!("coupling `{}` reads {} source states and also `{n}` of the target node", term_name.value, used.len()))
                    .with_primary(*at, "target-node value")
                    .with_help("a coupling that reads several states of the source node must not read the target node; read one source state (`dimension`), or move the target-node factor into the term's `value`"),
            );
            return;
        }
        let name = format!("{}/pre", term_name.value.trim());
        let mut local = unresolved.clone();
        for (k, (state, _)) in &sources {
            local.insert(k.clone(), Binding::Scalar(VarRef::State(*state)));
        }
        let s = XmlScope {
            names: scope.names,
            local: Some(&local),
            what: "a coupling's `pre`",
        };
        let Some(e) = lowerer.lower_scalar(&factor, &s) else {
            return;
        };
        let derived = match lowerer
            .model
            .add_derived(&name, e, DerivedKind::Equation, factor.span)
        {
            Ok(h) => h,
            Err(_) => {
                lowerer.diags.push(
                    Diagnostic::error(format!("the name `{name}` is taken"))
                        .with_primary(term_name.value_span, "coupling term")
                        .with_help("rename the coupling term"),
                );
                return;
            }
        };
        let source = lowerer.model.add_expr(Expr::CouplingSource, factor.span);
        lowerer.model.couplings[coupling].pre = source;
        lowerer.model.couplings[coupling].source = VarRef::Derived(derived);
    }
    // The scaling: `c *= value`.
    let span = term_name.value_span;
    let gx = lowerer.model.add_expr(Expr::CouplingSum, span);
    let scale = match scale {
        Some(ast) => match lowerer.lower_scalar(ast, scope) {
            Some(e) => Some(e),
            None => return,
        },
        None => None,
    };
    if in_post {
        let post = match scale {
            Some(v) => lowerer
                .model
                .add_expr(Expr::Binary(BinOp::Mul, gx, v), span),
            None => gx,
        };
        lowerer.model.couplings[coupling].post = post;
    } else {
        lowerer.model.couplings[coupling].post = gx;
        let c = lowerer.model.add_expr(Expr::Coupling(coupling), span);
        let term = match scale {
            Some(v) => lowerer.model.add_expr(Expr::Binary(BinOp::Mul, c, v), span),
            None => c,
        };
        if let Some(Binding::Scalar(VarRef::Derived(h))) = b.names.get(term_name.value.trim()) {
            lowerer.model.derived[*h].expr = term;
        }
    }
}

/// The source parameters of a coupling component (each names the state it reads at the source
/// node, by 0-based index or by name): name -> state; and those whose state could not be found
/// (already reported), read as 0 without more errors.
#[allow(clippy::type_complexity)]
fn coupling_sources(
    lowerer: &mut Lowerer<'_>,
    b: &Builder,
    comp: &CouplingComponent<'_>,
    states: &[Handle<rateforge_ir::State>],
) -> (
    IndexMap<String, (Handle<rateforge_ir::State>, Span)>,
    IndexMap<String, Binding>,
) {
    let mut sources: IndexMap<String, (Handle<rateforge_ir::State>, Span)> = IndexMap::new();
    let mut unresolved: IndexMap<String, Binding> = IndexMap::new();
    for p in &comp.params {
        let n = value(p, "name");
        let Some(dim) = p.attr("dimension") else {
            lowerer.diags.push(
                Diagnostic::error(format!("coupling parameter `{}` names no state variable", n.value))
                    .with_primary(n.value_span, "no `dimension`")
                    .with_help("give the index of the state it reads at the source node, e.g. `dimension=\"0\"` for the first state variable"),
            );
            continue;
        };
        let text = dim.value.trim();
        let state = match text.parse::<usize>() {
            Ok(k) if k < states.len() => Some(states[k]),
            Ok(k) => {
                lowerer.diags.push(
                    Diagnostic::error(format!("coupling parameter `{}` reads state {k}, but the model has {} state variables", n.value, states.len()))
                        .with_primary(dim.value_span, "out of range")
                        .with_help(format!("state indices count from 0 in document order: 0 to {}", states.len().saturating_sub(1))),
                );
                None
            }
            Err(_) => match b.names.get(text) {
                Some(Binding::Scalar(VarRef::State(h))) => Some(*h),
                _ => {
                    lowerer.diags.push(
                        Diagnostic::error(format!("cannot read `dimension=\"{text}\"` of coupling parameter `{}`", n.value))
                            .with_primary(dim.value_span, "expected a state index")
                            .with_help("give the 0-based index of the state variable it reads, e.g. `dimension=\"0\"`"),
                    );
                    None
                }
            },
        };
        match state {
            Some(s) => {
                sources.insert(n.value.trim().to_string(), (s, n.value_span));
            }
            None => {
                unresolved.insert(n.value.trim().to_string(), Binding::Constant(0.0));
            }
        }
    }
    (sources, unresolved)
}

/// The first state (a coupling that reads nothing still needs a source; without states the model
/// has already failed).
fn first_state(states: &[Handle<rateforge_ir::State>]) -> Handle<rateforge_ir::State> {
    states.first().copied().unwrap_or(Handle::from_index(0))
}

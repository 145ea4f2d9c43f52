//! Flattening a circuit and lowering it to the IR.
//!
//! Every operator of every node (of every sub-circuit) becomes a set of IR values named by path:
//! `[circuit/...]node/operator/variable`. A variable's role follows from the equations:
//!
//! * defined by `d/dt * x = ...` or `x' = ...`: a state, starting at its declared value;
//! * defined by `x = ...`: an algebraic variable;
//! * an `input` fed by other operators of the same node whose `output` has the same name: the
//!   sum of those outputs; fed by edges: the sum of `weight * source` over the edges (the declared
//!   default is then dropped, as in PyRates); fed by nothing: a constant with its default;
//! * a number: a parameter;
//! * declared but used by no equation and no edge: dropped, with a warning.

use super::templates::{Circuit, EdgeDecl, Loader, Node, Operator, Template, VarDecl, VarKind};
use crate::ast::{EqKind, Equation};
use crate::lower_expr::{Binding, Lowerer, Scope, constant};
use indexmap::IndexMap;
use rateforge_ir::{
    BinOp, DerivedKind, Diagnostic, Diagnostics, Expr, Handle, Model, ParamKind, Span, VarRef,
    did_you_mean,
};
use std::collections::HashSet;
use std::rc::Rc;

/// One operator placed in a node.
struct OpInst {
    /// `node/op` or `circuit/node/op`.
    path: String,
    node_path: String,
    op: Rc<Operator>,
    vars: IndexMap<String, VarDecl>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    State,
    Derived,
    Param,
    /// An input nothing drives: a constant.
    FreeInput,
    /// An input driven by other operators or edges.
    Connected,
    /// The global time (`t` declared as a variable, as PyRates requires).
    Time,
    /// Declared but unused.
    Dropped,
    /// Used, but its definition is in error (already reported).
    Failed,
}

struct VarInfo {
    role: Role,
    refs: Vec<VarRef>,
}

/// A resolved edge.
struct EdgeInst {
    decl: Rc<EdgeDecl>,
    source: (usize, String),
    target: (usize, String),
}

pub(super) fn lower(template: &Template, loader: &mut Loader) -> (Model, Diagnostics) {
    let mut diags = Diagnostics::new();
    let circuit = match template {
        Template::Circuit(c) => c.clone(),
        Template::Node(n) => Rc::new(Circuit {
            name: n.name.clone(),
            failed: Vec::new(),
            description: None,
            nodes: [(n.name.clone(), (n.clone(), n.span))]
                .into_iter()
                .collect(),
            circuits: IndexMap::new(),
            edges: Vec::new(),
        }),
        Template::Operator(op) => {
            diags.push(
                Diagnostic::error(format!("`{}` is an operator template; a model is a node or circuit template", op.name))
                    .with_primary(op.span, "operator template")
                    .with_help("put the operator in a node (`base: NodeTemplate, operators: [...]`) and run the node"),
            );
            return (Model::new(&op.name), diags);
        }
        Template::Edge(e) => {
            diags.push(
                Diagnostic::error(format!(
                    "`{}` is an edge template; a model is a node or circuit template",
                    e.name
                ))
                .with_primary(e.span, "edge template")
                .with_help("run a node or circuit template that uses the edge"),
            );
            return (Model::new(&e.name), diags);
        }
    };
    let mut model = Model::new(&circuit.name);
    model.description = circuit.description.clone();

    let mut ops = Vec::new();
    let mut edge_decls = Vec::new();
    let mut failed = Vec::new();
    collect(&circuit, "", &mut ops, &mut edge_decls, &mut failed);

    // Which variables each operator uses in its equations.
    let mut used: Vec<HashSet<String>> = ops.iter().map(|o| used_names(&o.op.equations)).collect();
    let edges = resolve_edges(&ops, &edge_decls, &failed, &mut diags);
    for e in &edges {
        used[e.source.0].insert(e.source.1.clone());
    }

    // Roles from equations and declarations.
    let mut infos: Vec<IndexMap<String, VarInfo>> = Vec::with_capacity(ops.len());
    for (i, inst) in ops.iter().enumerate() {
        infos.push(roles(inst, &used[i], loader, &mut diags));
    }
    // Node-internal wiring and edges make inputs `Connected`.
    let mut node_sources: Vec<IndexMap<String, Vec<usize>>> = vec![IndexMap::new(); ops.len()];
    for (b, inst) in ops.iter().enumerate() {
        for (name, info) in &infos[b] {
            if info.role != Role::FreeInput {
                continue;
            }
            let sources: Vec<usize> = ops
                .iter()
                .enumerate()
                .filter(|(a, other)| {
                    *a != b
                        && other.node_path == inst.node_path
                        && other
                            .vars
                            .get(name)
                            .is_some_and(|d| d.kind == VarKind::Output)
                        && matches!(
                            infos[*a].get(name).map(|i| i.role),
                            Some(Role::State | Role::Derived)
                        )
                })
                .map(|(a, _)| a)
                .collect();
            if !sources.is_empty() {
                node_sources[b].insert(name.clone(), sources);
            }
        }
        for (name, _) in node_sources[b].iter() {
            if let Some(info) = infos[b].get_mut(name) {
                info.role = Role::Connected;
            }
        }
    }
    let mut edges_into: Vec<IndexMap<String, Vec<usize>>> = vec![IndexMap::new(); ops.len()];
    for (k, e) in edges.iter().enumerate() {
        match infos[e.source.0][&e.source.1].role {
            // Its declaration failed and was reported.
            Role::Failed => continue,
            Role::Time => {
                diags.push(
                    Diagnostic::error("the time `t` cannot be the source of an edge")
                        .with_primary(e.decl.source.1, "edge source")
                        .with_help(
                            "connect a variable of the model; every operator already sees `t`",
                        ),
                );
                continue;
            }
            _ => {}
        }
        let (op, var) = &e.target;
        let decl = &ops[*op].vars[var];
        let info = &infos[*op][var];
        if decl.kind != VarKind::Input || matches!(info.role, Role::State | Role::Derived) {
            diags.push(
                Diagnostic::error(format!("edge target `{}` is not an input", e.decl.target.0))
                    .with_primary(e.decl.target.1, "cannot receive an edge")
                    .with_secondary(decl.name_span, "declared here")
                    .with_help(format!(
                        "declare it as `{var}: input` in operator `{}`",
                        ops[*op].op.name
                    )),
            );
            continue;
        }
        if node_sources[*op].contains_key(var) {
            diags.push(
                Diagnostic::error(format!(
                    "input `{}` receives both an edge and the output of another operator",
                    e.decl.target.0
                ))
                .with_primary(e.decl.target.1, "edge target")
                .with_help(
                    "connect the edge to a separate input variable and add the two in the equation",
                ),
            );
            continue;
        }
        if info.role == Role::Dropped {
            loader.warn_once(
                Diagnostic::warning(format!(
                    "edge into `{}` has no effect: no equation uses it",
                    e.decl.target.0
                ))
                .with_primary(e.decl.target.1, "unused input"),
            );
            continue;
        }
        if ops[*op].vars[var].vector || ops[e.source.0].vars[&e.source.1].vector {
            diags.push(
                Diagnostic::error("edges between vector variables are not supported")
                    .with_primary(e.decl.span, "vector edge")
                    .with_help("connect individual scalar variables"),
            );
            continue;
        }
        edges_into[*op].entry(var.clone()).or_default().push(k);
        if let Some(i) = infos[*op].get_mut(var) {
            i.role = Role::Connected;
        }
    }
    for e in &edges {
        check_unsupported_edge(&e.decl, &mut diags);
    }
    // Invalid edges were skipped above; lowering goes on so equation errors are reported too.

    // Create the IR values, operator by operator in declaration order.
    for (i, inst) in ops.iter().enumerate() {
        for (name, info) in infos[i].iter_mut() {
            let decl = &inst.vars[name];
            let base = format!("{}/{name}", inst.path);
            let names: Vec<String> = if decl.vector {
                (0..decl.values.len())
                    .map(|k| format!("{base}[{k}]"))
                    .collect()
            } else {
                vec![base]
            };
            for (k, full) in names.iter().enumerate() {
                let value = decl.values[k];
                let span = decl.name_span;
                let r = match info.role {
                    Role::State => model.add_state(full, value, span).map(VarRef::State),
                    Role::Param => model
                        .add_param(full, value, ParamKind::Constant, span)
                        .map(VarRef::Param),
                    Role::FreeInput => model
                        .add_param(full, value, ParamKind::Input, span)
                        .map(VarRef::Param),
                    Role::Derived | Role::Connected => {
                        let kind = if info.role == Role::Derived {
                            DerivedKind::Equation
                        } else {
                            DerivedKind::Connection
                        };
                        let placeholder = model.add_expr(Expr::Lit(0.0), span);
                        model
                            .add_derived(full, placeholder, kind, span)
                            .map(VarRef::Derived)
                    }
                    Role::Time | Role::Dropped | Role::Failed => continue,
                };
                match r {
                    Ok(v) => info.refs.push(v),
                    Err(_) => diags.push(
                        Diagnostic::error(format!("two variables are both named `{full}`"))
                            .with_primary(span, "second definition")
                            .with_help(
                                "node labels and operator names must be unique within a circuit",
                            ),
                    ),
                }
            }
        }
    }

    // Edge weights are parameters, so they can be set and swept like any other.
    let mut weight_params = Vec::with_capacity(edges.len());
    for e in &edges {
        let base = format!(
            "{}/{}->{}/{}/weight",
            ops[e.source.0].path, e.source.1, ops[e.target.0].path, e.target.1
        );
        let mut name = base.clone();
        let mut n = 2;
        while model.lookup(&name).is_some() {
            name = format!("{base}#{n}");
            n += 1;
        }
        let h = model
            .add_param(&name, e.decl.weight.0, ParamKind::Weight, e.decl.weight.1)
            .expect("unique by construction");
        weight_params.push(h);
    }

    let mut lowerer = Lowerer::new(&mut model);
    // Equations.
    for (i, inst) in ops.iter().enumerate() {
        let scope = OpScope {
            op: inst,
            infos: &infos[i],
        };
        for eq in &inst.op.equations {
            lower_equation(&mut lowerer, eq, &scope, &infos[i]);
        }
    }
    // Node-internal connections: the sum of the outputs of the same name.
    for (b, inst) in ops.iter().enumerate() {
        for (name, sources) in &node_sources[b] {
            let target = &infos[b][name];
            let span = inst.vars[name].name_span;
            for (k, t) in target.refs.iter().enumerate() {
                let mut acc: Option<Handle<Expr>> = None;
                for &a in sources {
                    let src = &infos[a][name];
                    let Some(s) = src.refs.get(k).or(src.refs.first()) else {
                        continue;
                    };
                    let e = var_expr(lowerer.model, *s, span);
                    acc = Some(match acc {
                        None => e,
                        Some(prev) => lowerer
                            .model
                            .add_expr(Expr::Binary(BinOp::Add, prev, e), span),
                    });
                }
                if let (VarRef::Derived(h), Some(expr)) = (t, acc) {
                    lowerer.model.derived[*h].expr = expr;
                }
            }
        }
        // Edges: the sum of weight * source.
        for (name, list) in &edges_into[b] {
            let target = &infos[b][name];
            let mut acc: Option<Handle<Expr>> = None;
            for &k in list {
                let e = &edges[k];
                let span = e.decl.span;
                let Some(&src) = infos[e.source.0][&e.source.1].refs.first() else {
                    continue;
                };
                let w = lowerer
                    .model
                    .add_expr(Expr::Param(weight_params[k]), e.decl.weight.1);
                let s = var_expr(lowerer.model, src, e.decl.source.1);
                let term = lowerer.model.add_expr(Expr::Binary(BinOp::Mul, w, s), span);
                acc = Some(match acc {
                    None => term,
                    Some(prev) => lowerer
                        .model
                        .add_expr(Expr::Binary(BinOp::Add, prev, term), span),
                });
            }
            if let (Some(VarRef::Derived(h)), Some(expr)) = (target.refs.first(), acc) {
                lowerer.model.derived[*h].expr = expr;
            }
        }
    }
    diags.extend(std::mem::take(&mut lowerer.diags));
    (model, diags)
}

fn var_expr(model: &mut Model, v: VarRef, span: Span) -> Handle<Expr> {
    let e = match v {
        VarRef::State(h) => Expr::State(h),
        VarRef::Param(h) => Expr::Param(h),
        VarRef::Derived(h) => Expr::Derived(h),
        VarRef::Series(h) => Expr::Series(h),
    };
    model.add_expr(e, span)
}

/// Places every operator of every node; `failed` gets the path prefixes of nodes, sub-circuits
/// and operators whose templates failed to resolve.
fn collect(
    circuit: &Circuit,
    prefix: &str,
    ops: &mut Vec<OpInst>,
    edges: &mut Vec<(Rc<EdgeDecl>, String)>,
    failed: &mut Vec<String>,
) {
    failed.extend(circuit.failed.iter().map(|l| format!("{prefix}{l}")));
    for (label, (node, _)) in &circuit.nodes {
        let node_path = format!("{prefix}{label}");
        failed.extend(node.failed.iter().map(|o| format!("{node_path}/{o}")));
        place_node(node, &node_path, ops);
    }
    for (label, (sub, _)) in &circuit.circuits {
        collect(sub, &format!("{prefix}{label}/"), ops, edges, failed);
    }
    for e in &circuit.edges {
        edges.push((e.clone(), prefix.to_string()));
    }
}

fn place_node(node: &Node, node_path: &str, ops: &mut Vec<OpInst>) {
    for u in &node.operators {
        let mut vars = u.op.variables.clone();
        for (k, v) in &u.overrides {
            vars.insert(k.clone(), v.clone());
        }
        ops.push(OpInst {
            path: format!("{node_path}/{}", u.op.name),
            node_path: node_path.to_string(),
            op: u.op.clone(),
            vars,
        });
    }
}

fn used_names(equations: &[Equation]) -> HashSet<String> {
    let mut out = HashSet::new();
    for eq in equations {
        out.insert(eq.target.text.clone());
        for (n, _) in eq.rhs.names() {
            out.insert(n.to_string());
        }
    }
    out
}

fn roles(
    inst: &OpInst,
    used: &HashSet<String>,
    loader: &mut Loader,
    diags: &mut Diagnostics,
) -> IndexMap<String, VarInfo> {
    let op = &inst.op;
    let mut defined: IndexMap<String, (EqKind, Span)> = IndexMap::new();
    for eq in &op.equations {
        let name = &eq.target.text;
        let Some(decl) = inst.vars.get(name) else {
            if op.failed_vars.contains(name) {
                continue;
            }
            let mut d = Diagnostic::error(format!(
                "`{name}` is not declared in operator `{}`",
                op.name
            ))
            .with_primary(eq.target.span, "defined here but not declared");
            d = match did_you_mean(name, inst.vars.keys().map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("declare it under `variables:`, e.g. `{name}: output(0.0)` or `{name}: variable(0.0)`")),
            };
            diags.push(d);
            continue;
        };
        if let Some(ix) = eq.target_index {
            let _ = ix;
            diags.push(
                Diagnostic::error(format!("an equation cannot define one element of `{name}`"))
                    .with_primary(eq.target.span, "indexed left-hand side")
                    .with_help("define the whole vector, or split it into scalar variables"),
            );
            continue;
        }
        if let Some((kind, first)) = defined.get(name) {
            diags.push(
                Diagnostic::error(format!(
                    "`{name}` is defined twice in operator `{}`",
                    op.name
                ))
                .with_primary(eq.span, format!("second definition ({})", eq.kind.word()))
                .with_secondary(*first, format!("first definition ({})", kind.word()))
                .with_help("each variable has exactly one equation"),
            );
            continue;
        }
        if name == "t" {
            diags.push(
                Diagnostic::error("`t` is the time and cannot be defined by an equation")
                    .with_primary(eq.target.span, "assignment to time")
                    .with_help("rename the variable"),
            );
            continue;
        }
        match decl.kind {
            VarKind::Constant => diags.push(
                Diagnostic::error(format!("cannot assign to parameter `{name}`"))
                    .with_primary(eq.target.span, format!("`{name}` is a parameter"))
                    .with_secondary(decl.value_span, "declared as a constant here")
                    .with_help(if eq.kind == EqKind::Differential {
                        format!("to integrate it, declare it as a state: `{name}: variable({})`", rateforge_ir::print::number(decl.values[0]))
                    } else {
                        format!("to compute it, declare it as `{name}: variable` (or `output`)")
                    }),
            ),
            VarKind::Input => diags.push(
                Diagnostic::error(format!("cannot assign to input `{name}`"))
                    .with_primary(eq.target.span, format!("`{name}` is an input"))
                    .with_secondary(decl.value_span, "declared as an input here")
                    .with_help(format!("inputs receive values from edges; declare `{name}` as `variable` or `output` to define it here")),
            ),
            VarKind::Output | VarKind::Variable => {}
        }
        defined.insert(name.clone(), (eq.kind, eq.span));
    }
    let mut out = IndexMap::new();
    for (name, decl) in &inst.vars {
        let role = if name == "t" {
            Role::Time
        } else if !used.contains(name) && op.poisoned {
            Role::Dropped
        } else if !used.contains(name) {
            loader.warn_once(
                Diagnostic::warning(format!(
                    "variable `{name}` of operator `{}` is not used by any equation; it is ignored",
                    op.name
                ))
                .with_primary(decl.name_span, "unused"),
            );
            Role::Dropped
        } else if let Some((kind, _)) = defined.get(name) {
            match kind {
                EqKind::Differential => Role::State,
                EqKind::Algebraic => Role::Derived,
            }
        } else {
            match decl.kind {
                VarKind::Constant => Role::Param,
                VarKind::Input => Role::FreeInput,
                VarKind::Output | VarKind::Variable => {
                    if !diags
                        .errors()
                        .any(|d| d.message.contains(&format!("`{name}`")))
                    {
                        diags.push(
                            Diagnostic::error(format!("no equation defines `{name}` in operator `{}`", op.name))
                                .with_primary(decl.name_span, "declared as a variable")
                                .with_help(format!(
                                    "add an equation such as `d/dt * {name} = ...`, or declare it as a constant or an input"
                                )),
                        );
                    }
                    Role::Failed
                }
            }
        };
        out.insert(
            name.clone(),
            VarInfo {
                role,
                refs: Vec::new(),
            },
        );
    }
    out
}

fn resolve_edges(
    ops: &[OpInst],
    decls: &[(Rc<EdgeDecl>, String)],
    failed: &[String],
    diags: &mut Diagnostics,
) -> Vec<EdgeInst> {
    let mut out = Vec::new();
    for (decl, prefix) in decls {
        // Edges touching a node or operator that failed to load were already reported.
        let broken = |p: &str| {
            let full = format!("{prefix}{p}");
            failed
                .iter()
                .any(|f| full == *f || full.starts_with(&format!("{f}/")))
        };
        if broken(&decl.source.0) || broken(&decl.target.0) {
            continue;
        }
        let source = resolve_path(ops, &decl.source, prefix, "source", diags);
        let target = resolve_path(ops, &decl.target, prefix, "target", diags);
        if let (Some(source), Some(target)) = (source, target) {
            out.push(EdgeInst {
                decl: decl.clone(),
                source,
                target,
            });
        }
    }
    out
}

fn resolve_path(
    ops: &[OpInst],
    (path, span): &(String, Span),
    prefix: &str,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<(usize, String)> {
    let Some((op_path, var)) = path.rsplit_once('/') else {
        diags.push(
            Diagnostic::error(format!("edge {what} `{path}` is not a variable path"))
                .with_primary(*span, "expected `node/operator/variable`")
.with_help("paths are `node/operator/variable`, with sub-circuit labels in front for nested circuits"),
        );
        return None;
    };
    let full = format!("{prefix}{op_path}");
    let Some(i) = ops.iter().position(|o| o.path == full) else {
        let known: Vec<String> = ops
            .iter()
            .filter_map(|o| o.path.strip_prefix(prefix).map(str::to_string))
            .collect();
        let mut d = Diagnostic::error(format!(
            "edge {what} `{path}`: there is no operator `{op_path}`"
        ))
        .with_primary(*span, "unknown node or operator");
        d = match did_you_mean(op_path, known.iter().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean `{s}/{var}`?")),
            None => d.with_help(format!("operators in this circuit: {}", known.join(", "))),
        };
        diags.push(d);
        return None;
    };
    if !ops[i].vars.contains_key(var) {
        let mut d = Diagnostic::error(format!(
            "edge {what} `{path}`: operator `{}` has no variable `{var}`",
            ops[i].op.name
        ))
        .with_primary(*span, "unknown variable");
        if let Some(s) = did_you_mean(var, ops[i].vars.keys().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{op_path}/{s}`?"));
        }
        diags.push(d);
        return None;
    }
    Some((i, var.to_string()))
}

fn check_unsupported_edge(decl: &EdgeDecl, diags: &mut Diagnostics) {
    if let Some((_, span)) = &decl.template {
        diags.push(
            Diagnostic::error("edge templates are not supported yet")
                .with_primary(*span, "edge with operators")
                .with_help(
                    "use `null` as the edge template; edge dynamics arrive with network support",
                ),
        );
    }
    if let Some((_, span)) = decl.delay {
        diags.push(
            Diagnostic::error("delayed edges are not supported yet")
                .with_primary(span, "non-zero delay")
                .with_help("remove `delay` (or set it to 0); delays arrive with network support"),
        );
    }
    if let Some((_, span)) = decl.spread {
        diags.push(
            Diagnostic::error("edges with a delay `spread` are not supported yet")
                .with_primary(span, "non-zero spread")
                .with_help("remove `spread`; distributed delays arrive with network support"),
        );
    }
}

struct OpScope<'a> {
    op: &'a OpInst,
    infos: &'a IndexMap<String, VarInfo>,
}

impl Scope for OpScope<'_> {
    fn resolve(&self, name: &str) -> Option<Binding> {
        if let Some(info) = self.infos.get(name) {
            let decl = &self.op.vars[name];
            return match info.role {
                Role::Time => Some(Binding::Time),
                Role::Dropped | Role::Failed => None,
                _ if decl.vector => Some(Binding::Vector(info.refs.clone())),
                _ => info.refs.first().map(|r| Binding::Scalar(*r)),
            };
        }
        if name == "t" {
            return Some(Binding::Time);
        }
        constant(name).map(Binding::Constant)
    }

    fn candidates(&self) -> Vec<String> {
        self.infos.keys().cloned().collect()
    }

    fn is_known_bad(&self, name: &str) -> bool {
        self.infos.get(name).is_some_and(|i| i.role == Role::Failed)
            || self.op.op.failed_vars.iter().any(|f| f == name)
    }

    fn describe(&self) -> String {
        format!("operator `{}`", self.op.op.name)
    }
}

fn lower_equation(
    lowerer: &mut Lowerer<'_>,
    eq: &Equation,
    scope: &OpScope<'_>,
    infos: &IndexMap<String, VarInfo>,
) {
    let Some(info) = infos.get(&eq.target.text) else {
        return;
    };
    if !matches!(info.role, Role::State | Role::Derived) || info.refs.is_empty() {
        return;
    }
    let Some(value) = lowerer.lower(&eq.rhs, scope) else {
        return;
    };
    let n = info.refs.len();
    let vector_target = scope.op.vars[&eq.target.text].vector;
    if value.vector && (!vector_target || value.elems.len() != n) {
        lowerer.diags.push(
            Diagnostic::error(format!(
                "the right-hand side is a vector of length {}, but `{}` {}",
                value.elems.len(),
                eq.target.text,
                if vector_target {
                    format!("has length {n}")
                } else {
                    "is a scalar".to_string()
                }
            ))
            .with_primary(eq.rhs.span, "vector expression")
            .with_secondary(eq.target.span, "defined here")
.with_help("a vector variable takes a vector of its own length or a scalar (applied to every element)"),
        );
        return;
    }
    for (k, target) in info.refs.iter().enumerate() {
        let rhs = value.elems[if value.vector { k } else { 0 }];
        match target {
            VarRef::State(h) => lowerer.model.add_ode(*h, rhs, eq.span),
            VarRef::Derived(h) => {
                lowerer.model.derived[*h].expr = rhs;
                lowerer.model.derived[*h].span = eq.span;
            }
            _ => {}
        }
    }
}

//! Flattening a circuit and lowering it to the IR.
//!
//! Every operator of every node (of every sub-circuit) becomes a set of IR values named by path:
//! `[circuit/...]node/operator/variable`. A variable's role follows from the equations:
//!
//! * defined by `d/dt * x = ...` or `x' = ...`: a state, starting at its declared value;
//! * defined by `x = ...`: an algebraic variable;
//! * an `input` fed by other operators of the same node whose `output` has the same name: the
//!   sum of those outputs; fed by edges: the sum of `weight * source` over the edges (the declared
//!   default is then dropped, as in PyRates); fed by network couplings: their sum; fed by nothing:
//!   a constant with its default;
//! * a number: a parameter;
//! * declared but used by no equation and no edge: dropped, with a warning.
//!
//! Edges with a `delay` read the source's history (`Delay`); with a `spread` as well they go
//! through a chain of `n = round((delay/spread)^2)` first-order stages with rate `n/delay` (a
//! gamma-distributed delay with that mean and standard deviation). An edge template's operators
//! are placed as an extra node per edge, named `source_node->target_node`: the edge's source
//! feeds the edge node's free input, the edge node's output feeds the target through the edge's
//! weight, delay and spread.
//!
//! A complex variable (`z: variable(0.5+0.1j)`, `i: 0.0+1.0j`, `input(complex)`) becomes two IR
//! values of the same role, `.../z.re` and `.../z.im`; equations work on the pairs (see
//! `lower_expr`), a real variable defined by a complex expression takes its real part, and edges
//! and node-internal connections carry both parts (a real source feeds only the real part).
//!
//! A circuit with a `network:` section lowers its node template as the model (paths relative to
//! it, e.g. `op/r`) and adds one IR coupling per entry of `couplings`.

use super::templates::{
    Circuit, ConnectivitySource, CouplingDecl, EdgeDecl, Loader, NetworkDecl, Node, Operator,
    Template, VarDecl, VarKind,
};
use crate::ast::{Ast, EqKind, Equation};
use crate::equation::{Origin, parse_expression};
use crate::lower_expr::{Binding, Lowerer, Scope, constant};
use indexmap::IndexMap;
use rateforge_ir::{
    BinOp, Coupling, Delay, DerivedKind, Diagnostic, Diagnostics, EdgeDelays, Expr, Handle, Model,
    Network, Param, ParamKind, Span, VarRef,
};
use std::collections::HashSet;
use std::rc::Rc;

/// One operator placed in a node.
struct OpInst {
    /// `node/op` or `circuit/node/op` (`op` for the node of a network).
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
    /// An input driven by other operators, edges or couplings.
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
    /// `source_path->target_path` of the edge as written, for the names of its parameters.
    label: String,
    source: (usize, String),
    target: (usize, String),
    /// `None`: the internal edge from a source into an edge template's input (weight 1).
    weight: Option<(f64, Span)>,
    delay: Option<(f64, Span)>,
    spread: Option<(f64, Span)>,
    span: Span,
    source_span: Span,
    target_span: Span,
    target_text: String,
}

/// What lowering produced besides the model.
pub(crate) struct Lowered {
    pub model: Model,
    /// The connectivity a `network:` section names.
    pub connectivity: Option<ConnectivitySource>,
    /// The BOLD observer a `network:` section declares.
    pub bold: Option<crate::observe::BoldDecl>,
}

pub(super) fn lower(template: &Template, loader: &mut Loader) -> (Lowered, Diagnostics) {
    let mut diags = Diagnostics::new();
    let Some((top, network)) = model_root(template, &mut diags) else {
        let name = match template {
            Template::Circuit(c) => &c.name,
            Template::Node(n) => &n.name,
            Template::Operator(o) => &o.name,
            Template::Edge(e) => &e.name,
        };
        return (
            Lowered {
                model: Model::new(name),
                connectivity: None,
                bold: None,
            },
            diags,
        );
    };
    let outer = network.as_ref().map_or(&top, |(c, _)| c);
    let mut model = Model::new(&outer.name);
    model.description = outer.description.clone();
    if let Some((h, _)) = outer.history.or(top.history) {
        model.history = h;
    }

    let mut ops = Vec::new();
    let mut edge_decls = Vec::new();
    let mut failed = Vec::new();
    collect(&top, "", &mut ops, &mut edge_decls, &mut failed);
    let edges = resolve_edges(&mut ops, &edge_decls, &failed, &mut diags);
    let couplings: Vec<ResolvedCoupling<'_>> = match &network {
        Some((_, net)) => net
            .couplings
            .iter()
            .filter_map(|c| {
                let s = resolve_path(&ops, &c.source, "", "coupling source", &mut diags);
                let t = resolve_path(&ops, &c.target, "", "coupling target", &mut diags);
                Some((c, s?, t?))
            })
            .collect(),
        None => Vec::new(),
    };

    // Which variables each operator uses: in equations, noise amplitudes, as sources.
    let mut used: Vec<HashSet<String>> = ops.iter().map(used_names).collect();
    for e in &edges {
        used[e.source.0].insert(e.source.1.clone());
    }
    for (_, s, _) in &couplings {
        used[s.0].insert(s.1.clone());
    }

    // Roles from equations and declarations, then from what drives each input.
    let mut infos: Vec<IndexMap<String, VarInfo>> = Vec::with_capacity(ops.len());
    for (i, inst) in ops.iter().enumerate() {
        infos.push(roles(inst, &used[i], loader, &mut diags));
    }
    let node_sources = wire_nodes(&ops, &mut infos);
    let routes = Routes {
        ops: &ops,
        node_sources: &node_sources,
        edges: &edges,
        couplings: &couplings,
    };
    let (edges_into, couplings_into) = routes.route_inputs(&mut infos, &mut diags, loader);

    create_values(&mut model, &ops, &mut infos, &mut diags);
    let (weight_params, delay_params) = edge_parameters(&mut model, &edges);
    if let Some((_, net)) = network.as_ref() {
        let h = model
            .add_param("network/speed", net.speed.0, ParamKind::Speed, net.speed.1)
            .expect("unique name");
        model.network = Some(Network {
            delays: EdgeDelays::Speed(h),
            span: net.span,
        });
    }

    let mut lowerer = Lowerer::new(&mut model);
    lower_equations(&mut lowerer, &ops, &infos);
    connect_node_outputs(lowerer.model, &ops, &infos, &node_sources);
    let terms = EdgeTerms {
        edges: &edges,
        weight_params: &weight_params,
        delay_params: &delay_params,
    };
    terms.connect(lowerer.model, &infos, &edges_into);
    if let Some((_, net)) = &network {
        connect_couplings(
            &mut lowerer,
            net,
            &couplings,
            &couplings_into,
            &infos,
            &ops,
            loader,
        );
    }
    diags.extend(std::mem::take(&mut lowerer.diags));
    let bold = network
        .as_ref()
        .and_then(|(_, net)| net.bold.as_ref())
        .and_then(|(entries, span)| {
            crate::observe::declare(entries, *span, "`bold`", &model, &mut diags)
        });
    let connectivity = network.and_then(|(_, net)| net.connectivity.clone());
    (
        Lowered {
            model,
            connectivity,
            bold,
        },
        diags,
    )
}

/// What a model template stands for: the circuit whose nodes are lowered (a node template on
/// its own, or a network's node, becomes a circuit of one unlabelled node, so paths read
/// `op/var`) and, for a network, the outer circuit and its `network:` section. `None` after an
/// error (a model cannot be an operator or an edge template).
#[allow(clippy::type_complexity)]
fn model_root(
    template: &Template,
    diags: &mut Diagnostics,
) -> Option<(Rc<Circuit>, Option<(Rc<Circuit>, Rc<NetworkDecl>)>)> {
    let single_node = |n: &Rc<Node>, label: &str| {
        Rc::new(Circuit {
            name: n.name.clone(),
            history: None,
            network: None,
            failed: Vec::new(),
            description: None,
            nodes: [(label.to_string(), (n.clone(), n.span))]
                .into_iter()
                .collect(),
            circuits: IndexMap::new(),
            edges: Vec::new(),
        })
    };
    let (top, network) = match template {
        Template::Circuit(c) => match &c.network {
            Some(net) => {
                let node_circuit = match &net.node.0 {
                    Template::Circuit(nc) => nc.clone(),
                    // The node of a network: paths relative to it (`op/var`).
                    Template::Node(n) => single_node(n, ""),
                    _ => return None,
                };
                (node_circuit, Some((c.clone(), net.clone())))
            }
            None => (c.clone(), None),
        },
        // A node template on its own: paths relative to it (`op/var`), as in a network.
        Template::Node(n) => (single_node(n, ""), None),
        Template::Operator(op) => {
            diags.push(
                Diagnostic::error(format!("`{}` is an operator template; a model is a node or circuit template", op.name))
                    .with_primary(op.span, "operator template")
                    .with_help("put the operator in a node (`base: NodeTemplate, operators: [...]`) and run the node"),
            );
            return None;
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
            return None;
        }
    };
    Some((top, network))
}

/// Node-internal wiring: an input fed by outputs of the same name of the node's other operators
/// (states or algebraic variables) becomes `Connected`; returns those sources per operator and
/// input.
fn wire_nodes(
    ops: &[OpInst],
    infos: &mut [IndexMap<String, VarInfo>],
) -> Vec<IndexMap<String, Vec<usize>>> {
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
        for name in node_sources[b].keys() {
            if let Some(info) = infos[b].get_mut(name) {
                info.role = Role::Connected;
            }
        }
    }
    node_sources
}

/// The resolved wiring of a circuit, for [`Routes::route_inputs`].
struct Routes<'a, 'c> {
    ops: &'a [OpInst],
    node_sources: &'a [IndexMap<String, Vec<usize>>],
    edges: &'a [EdgeInst],
    couplings: &'a [ResolvedCoupling<'c>],
}

impl Routes<'_, '_> {
    /// Which edges and couplings drive each input (checked: an input, not fed by the node
    /// itself, not by both edges and a coupling, scalar edges only); the inputs they drive
    /// become `Connected`. Gamma-chain edges are checked here too.
    #[allow(clippy::type_complexity)]
    fn route_inputs(
        &self,
        infos: &mut [IndexMap<String, VarInfo>],
        diags: &mut Diagnostics,
        loader: &mut Loader,
    ) -> (
        Vec<IndexMap<String, Vec<usize>>>,
        Vec<IndexMap<String, Vec<usize>>>,
    ) {
        let Routes {
            ops,
            node_sources,
            edges,
            couplings,
        } = *self;
        let mut edges_into: Vec<IndexMap<String, Vec<usize>>> = vec![IndexMap::new(); ops.len()];
        for (k, e) in edges.iter().enumerate() {
            if !target_ok(
                ops,
                infos,
                node_sources,
                &e.target,
                e.target_span,
                &e.target_text,
                "edge",
                diags,
                loader,
            ) || !source_ok(infos, &e.source, e.source_span, diags)
            {
                continue;
            }
            if ops[e.target.0].vars[&e.target.1].vector || ops[e.source.0].vars[&e.source.1].vector
            {
                diags.push(
                    Diagnostic::error("edges between vector variables are not supported")
                        .with_primary(e.span, "vector edge")
                        .with_help("connect individual scalar variables"),
                );
                continue;
            }
            edges_into[e.target.0]
                .entry(e.target.1.clone())
                .or_default()
                .push(k);
            if let Some(i) = infos[e.target.0].get_mut(&e.target.1) {
                i.role = Role::Connected;
            }
        }
        let mut couplings_into: Vec<IndexMap<String, Vec<usize>>> =
            vec![IndexMap::new(); ops.len()];
        for (k, (c, s, t)) in couplings.iter().enumerate() {
            if !target_ok(
                ops,
                infos,
                node_sources,
                t,
                c.target.1,
                &c.target.0,
                "coupling",
                diags,
                loader,
            ) || !source_ok(infos, s, c.source.1, diags)
            {
                continue;
            }
            if let Some((_, (written, span))) = [(s, &c.source), (t, &c.target)]
                .into_iter()
                .find(|((op, var), _)| ops[*op].vars[var].imag.is_some())
            {
                diags.push(
                    Diagnostic::error(format!(
                        "network couplings carry real values, and `{written}` is complex"
                    ))
                    .with_primary(*span, "complex variable")
                    .with_help("couple a real variable, e.g. one defined as `x = real(z)`"),
                );
                continue;
            }
            if !edges_into[t.0].get(&t.1).is_none_or(Vec::is_empty) {
                diags.push(
                    Diagnostic::error(format!(
                        "input `{}` receives both edges and a network coupling",
                        c.target.0
                    ))
                    .with_primary(c.target.1, "coupling target")
                    .with_help(
                        "couple into a separate input variable and add the two in the equation",
                    ),
                );
                continue;
            }
            couplings_into[t.0].entry(t.1.clone()).or_default().push(k);
            if let Some(i) = infos[t.0].get_mut(&t.1) {
                i.role = Role::Connected;
            }
        }
        for e in edges {
            check_chain(e, diags);
        }

        (edges_into, couplings_into)
    }
}

/// Creates the IR values of every operator's variables, in declaration order (vectors element by
/// element), by role; `bounds` or `noise` on a variable that is not a state is an error.
fn create_values(
    model: &mut Model,
    ops: &[OpInst],
    infos: &mut [IndexMap<String, VarInfo>],
    diags: &mut Diagnostics,
) {
    for (i, inst) in ops.iter().enumerate() {
        for (name, info) in infos[i].iter_mut() {
            let decl = &inst.vars[name];
            let base = qualified(&inst.path, name);
            let (names, values): (Vec<String>, Vec<f64>) = if decl.vector {
                (
                    (0..decl.values.len())
                        .map(|k| format!("{base}[{k}]"))
                        .collect(),
                    decl.values.clone(),
                )
            } else if let Some(im) = decl.imag {
                (
                    vec![format!("{base}.re"), format!("{base}.im")],
                    vec![decl.values[0], im],
                )
            } else {
                (vec![base], decl.values.clone())
            };
            if (decl.bounds.is_some() || decl.noise.is_some())
                && !matches!(info.role, Role::State | Role::Dropped | Role::Failed)
            {
                let what = if decl.bounds.is_some() {
                    "bounds"
                } else {
                    "noise"
                };
                diags.push(
                    Diagnostic::error(format!("`{name}` has {what} but is not a state variable"))
                        .with_primary(decl.name_span, "not integrated")
                        .with_help(format!(
                            "{what} {} to variables defined by `d/dt * {name} = ...`",
                            if what == "bounds" { "apply" } else { "applies" }
                        )),
                );
            }
            if decl.imag.is_some()
                && (decl.bounds.is_some() || decl.noise.is_some())
                && info.role == Role::State
            {
                diags.push(
                    Diagnostic::error(format!("the complex state `{name}` has {}", if decl.bounds.is_some() { "bounds" } else { "noise" }))
                        .with_primary(decl.name_span, "complex")
                        .with_help("bounds and noise apply to real states; split the variable into real and imaginary parts"),
                );
            }
            for (k, full) in names.iter().enumerate() {
                let value = values[k];
                let span = decl.name_span;
                let r = match info.role {
                    Role::State => model.add_state(full, value, span).map(|h| {
                        model.states[h].bounds = decl.bounds.map(|(b, _)| b);
                        VarRef::State(h)
                    }),
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
                if let (Some(unit), Ok(_)) = (&decl.unit, &r) {
                    model.units.insert(full.clone(), unit.clone());
                }
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
}

/// The weight and delay parameters of every edge (`source->target/weight`, `.../delay`), so they
/// can be set and swept like any other.
#[allow(clippy::type_complexity)]
fn edge_parameters(
    model: &mut Model,
    edges: &[EdgeInst],
) -> (Vec<Option<Handle<Param>>>, Vec<Option<Handle<Param>>>) {
    let unique = |model: &Model, base: String| {
        let mut name = base.clone();
        let mut n = 2;
        while model.lookup(&name).is_some() {
            name = format!("{base}#{n}");
            n += 1;
        }
        name
    };
    let mut weight_params = Vec::with_capacity(edges.len());
    let mut delay_params = Vec::with_capacity(edges.len());
    for e in edges {
        weight_params.push(e.weight.map(|(w, span)| {
            let name = unique(model, format!("{}/weight", e.label));
            model
                .add_param(&name, w, ParamKind::Weight, span)
                .expect("unique by construction")
        }));
        delay_params.push(e.delay.map(|(d, span)| {
            let name = unique(model, format!("{}/delay", e.label));
            model
                .add_param(&name, d, ParamKind::Delay, span)
                .expect("unique by construction")
        }));
    }
    (weight_params, delay_params)
}

/// Lowers every operator's equations and its states' noise amplitudes.
fn lower_equations(lowerer: &mut Lowerer<'_>, ops: &[OpInst], infos: &[IndexMap<String, VarInfo>]) {
    for (i, inst) in ops.iter().enumerate() {
        let scope = OpScope {
            op: inst,
            infos: &infos[i],
        };
        for eq in &inst.op.equations {
            lower_equation(lowerer, eq, &scope, &infos[i]);
        }
        for (name, decl) in &inst.vars {
            if let (Some(g), Some(info)) = (&decl.noise, infos[i].get(name))
                && info.role == Role::State
                && let Some(value) = lowerer.lower(g, &scope)
            {
                if value.is_complex() {
                    lowerer.diags.push(
                        Diagnostic::error(format!("the noise amplitude of `{name}` is complex"))
                            .with_primary(g.span, "complex")
                            .with_help("a noise amplitude is real: take `real(...)` or `abs(...)`"),
                    );
                    continue;
                }
                for (k, r) in info.refs.iter().enumerate() {
                    if let VarRef::State(h) = r {
                        lowerer.model.states[*h].noise =
                            Some(value.elems[if value.vector { k } else { 0 }]);
                    }
                }
            }
        }
    }
}

/// Node-internal connections: an input is the sum of the outputs of the same name.
fn connect_node_outputs(
    model: &mut Model,
    ops: &[OpInst],
    infos: &[IndexMap<String, VarInfo>],
    node_sources: &[IndexMap<String, Vec<usize>>],
) {
    for (b, inst) in ops.iter().enumerate() {
        for (name, sources) in &node_sources[b] {
            let target = &infos[b][name];
            let span = inst.vars[name].name_span;
            for (k, t) in target.refs.iter().enumerate() {
                let terms: Vec<Handle<Expr>> = sources
                    .iter()
                    .filter_map(|&a| {
                        let src = &infos[a][name];
                        let from = if inst.vars[name].imag.is_some() {
                            // A complex input: part by part, a real source only into `.re`.
                            src.refs.get(k)
                        } else {
                            // A vector input: element by element, or a scalar broadcast; a
                            // complex source gives its real part.
                            src.refs
                                .get(k)
                                .filter(|_| ops[a].vars[name].vector)
                                .or(src.refs.first())
                        };
                        from.map(|s| var_expr(model, *s, span))
                    })
                    .collect();
                set_sum(model, *t, terms, span);
            }
        }
    }
}

/// The edges of a circuit with their weight and delay parameters, for [`EdgeTerms::connect`].
struct EdgeTerms<'a> {
    edges: &'a [EdgeInst],
    weight_params: &'a [Option<Handle<Param>>],
    delay_params: &'a [Option<Handle<Param>>],
}

impl EdgeTerms<'_> {
    /// Defines every edge-driven input as the sum of weight * source (delayed, or through a
    /// gamma chain).
    fn connect(
        &self,
        model: &mut Model,
        infos: &[IndexMap<String, VarInfo>],
        edges_into: &[IndexMap<String, Vec<usize>>],
    ) {
        for (b, into) in edges_into.iter().enumerate() {
            for (name, list) in into {
                // Edges are between scalars; a complex input takes each part from the same part
                // of its sources (a real source feeds only the real part).
                for (part, &target) in infos[b][name].refs.iter().enumerate() {
                    self.connect_part(model, infos, list, part, target);
                }
            }
        }
    }

    /// Defines part `part` (0: the value or its real part, 1: the imaginary part) of an input.
    fn connect_part(
        &self,
        model: &mut Model,
        infos: &[IndexMap<String, VarInfo>],
        list: &[usize],
        part: usize,
        target: VarRef,
    ) {
        let EdgeTerms {
            edges,
            weight_params,
            delay_params,
        } = *self;
        let mut terms = Vec::new();
        for &k in list {
            let e = &edges[k];
            let Some(&src) = infos[e.source.0][&e.source.1].refs.get(part) else {
                continue;
            };
            let s = match (delay_params[k], e.spread) {
                (None, _) => var_expr(model, src, e.source_span),
                (Some(time), None) => {
                    let d = model.delays.append(Delay {
                        source: src,
                        time,
                        span: e.span,
                    });
                    model.add_expr(Expr::Delayed(d), e.span)
                }
                (Some(time), Some((spread, _))) => gamma_chain(model, e, src, time, spread),
            };
            let term = match weight_params[k] {
                Some(w) => {
                    let we = model.add_expr(Expr::Param(w), e.weight.map_or(e.span, |(_, s)| s));
                    model.add_expr(Expr::Binary(BinOp::Mul, we, s), e.span)
                }
                None => s,
            };
            terms.push(term);
        }
        let span = edges[list[0]].span;
        set_sum(model, target, terms, span);
    }
}

/// Network couplings: one IR coupling per `couplings` entry; each coupled input is the sum of
/// its couplings.
fn connect_couplings(
    lowerer: &mut Lowerer<'_>,
    net: &NetworkDecl,
    couplings: &[ResolvedCoupling<'_>],
    couplings_into: &[IndexMap<String, Vec<usize>>],
    infos: &[IndexMap<String, VarInfo>],
    ops: &[OpInst],
    loader: &mut Loader,
) {
    let mut handles = Vec::with_capacity(couplings.len());
    for (c, s, t) in couplings {
        handles.push(coupling(lowerer, c, s, t, infos, ops));
    }
    for (b, _) in ops.iter().enumerate() {
        for (name, list) in &couplings_into[b] {
            let Some(&target) = infos[b][name].refs.first() else {
                continue;
            };
            let terms: Vec<Handle<Expr>> = list
                .iter()
                .filter_map(|&k| {
                    handles[k].map(|h| {
                        lowerer
                            .model
                            .add_expr(Expr::Coupling(h), couplings[k].0.span)
                    })
                })
                .collect();
            set_sum(lowerer.model, target, terms, couplings[list[0]].0.span);
        }
    }
    if net.couplings.is_empty() {
        loader.warn_once(
            Diagnostic::warning("the network has no couplings: its nodes run independently")
                .with_primary(net.span, "network without couplings"),
        );
    }
}

fn qualified(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
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

/// Sets a connected input (a derived variable) to the left-to-right sum of `terms`.
fn set_sum(model: &mut Model, target: VarRef, terms: Vec<Handle<Expr>>, span: Span) {
    let mut acc: Option<Handle<Expr>> = None;
    for t in terms {
        acc = Some(match acc {
            None => t,
            Some(prev) => model.add_expr(Expr::Binary(BinOp::Add, prev, t), span),
        });
    }
    if let (VarRef::Derived(h), Some(expr)) = (target, acc) {
        model.derived[h].expr = expr;
    }
}

/// The most stages a distributed delay may have.
const MAX_CHAIN: usize = 10_000;

fn chain_order(delay: f64, spread: f64) -> f64 {
    ((delay / spread) * (delay / spread)).round().max(1.0)
}

fn check_chain(e: &EdgeInst, diags: &mut Diagnostics) {
    if let (Some((delay, _)), Some((spread, span))) = (e.delay, e.spread) {
        if spread < 0.0 {
            diags.push(
                Diagnostic::error(format!("edge spread must not be negative, found {spread}"))
                    .with_primary(span, "negative spread")
                    .with_help("`spread` is the standard deviation of the delay"),
            );
        } else if chain_order(delay, spread) > MAX_CHAIN as f64 {
            diags.push(
                Diagnostic::error(format!(
                    "a delay of {delay} with spread {spread} needs {} stages (at most {MAX_CHAIN})",
                    chain_order(delay, spread)
                ))
                .with_primary(span, "spread too small for the delay")
                .with_help("the chain has round((delay/spread)^2) stages; use a larger spread or a plain delay"),
            );
        }
    }
}

/// The stages `z_1 .. z_n` of a gamma-distributed delay: `z_1' = k (x - z_1)`,
/// `z_j' = k (z_(j-1) - z_j)`, `k = n / delay`; they start at the source's value at t0. Returns the
/// expression of `z_n`.
fn gamma_chain(
    model: &mut Model,
    e: &EdgeInst,
    src: VarRef,
    time: Handle<rateforge_ir::Param>,
    spread: f64,
) -> Handle<Expr> {
    let delay = model.params[time].value;
    let n = chain_order(delay, spread).min(MAX_CHAIN as f64) as usize;
    let span = e.span;
    let n_lit = model.add_expr(Expr::Lit(n as f64), span);
    let delay_e = model.add_expr(Expr::Param(time), span);
    let rate = model.add_expr(Expr::Binary(BinOp::Div, n_lit, delay_e), span);
    let mut prev = var_expr(model, src, e.source_span);
    for k in 1..=n {
        let mut name = format!("{}/gamma[{k}]", e.label);
        let mut dup = 2;
        while model.lookup(&name).is_some() {
            name = format!("{}#{dup}/gamma[{k}]", e.label);
            dup += 1;
        }
        let z = model
            .add_state(&name, 0.0, span)
            .expect("unique by construction");
        model.states[z].init_from = Some(src);
        let ze = model.add_expr(Expr::State(z), span);
        let diff = model.add_expr(Expr::Binary(BinOp::Sub, prev, ze), span);
        let rhs = model.add_expr(Expr::Binary(BinOp::Mul, rate, diff), span);
        model.add_ode(z, rhs, span);
        prev = model.add_expr(Expr::State(z), span);
    }
    prev
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
        failed.extend(node.failed.iter().map(|o| qualified(&node_path, o)));
        place_node(node, &node_path, ops, &IndexMap::new());
    }
    for (label, (sub, _)) in &circuit.circuits {
        collect(sub, &format!("{prefix}{label}/"), ops, edges, failed);
    }
    for e in &circuit.edges {
        edges.push((e.clone(), prefix.to_string()));
    }
}

/// Places a node's operators under `node_path`; `extra` overrides values by `op/var`.
fn place_node(
    node: &Node,
    node_path: &str,
    ops: &mut Vec<OpInst>,
    extra: &IndexMap<(String, String), VarDecl>,
) {
    for u in &node.operators {
        let mut vars = u.op.variables.clone();
        // A complex variable given a real value stays complex.
        let set = |vars: &mut IndexMap<String, VarDecl>, k: &String, v: &VarDecl| {
            let mut v = v.clone();
            if vars.get(k).is_some_and(|d| d.imag.is_some()) && !v.vector {
                v.imag = v.imag.or(Some(0.0));
            }
            vars.insert(k.clone(), v);
        };
        for (k, v) in &u.overrides {
            set(&mut vars, k, v);
        }
        for ((op, var), v) in extra {
            if *op == u.op.name {
                set(&mut vars, var, v);
            }
        }
        ops.push(OpInst {
            path: qualified(node_path, &u.op.name),
            node_path: node_path.to_string(),
            op: u.op.clone(),
            vars,
        });
    }
}

fn used_names(op: &OpInst) -> HashSet<String> {
    let mut out = HashSet::new();
    let equations: &[Equation] = &op.op.equations;
    for eq in equations {
        out.insert(eq.target.text.clone());
        for (n, _) in eq.rhs.names() {
            out.insert(n.to_string());
        }
    }
    // Noise amplitudes of used states read variables too.
    for (name, decl) in &op.vars {
        if let Some(g) = &decl.noise
            && out.contains(name)
        {
            for (n, _) in g.names() {
                out.insert(n.to_string());
            }
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
            if name == "t" {
                diags.push(
                    Diagnostic::error("`t` is the time and cannot be defined by an equation")
                        .with_primary(eq.target.span, "the time")
                        .with_help("give the state another name, e.g. `d/dt * theta = ...`; `t` reads the time in any equation"),
                );
                continue;
            }
            let mut d = Diagnostic::error(format!(
                "`{name}` is not declared in operator `{}`",
                op.name
            ))
            .with_primary(eq.target.span, "defined here but not declared");
            d = d.with_suggestion(name, inst.vars.keys().map(String::as_str), format!("declare it under `variables:`, e.g. `{name}: output(0.0)` or `{name}: variable(0.0)`"));
            diags.push(d);
            continue;
        };
        if eq.target_index.is_some() {
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
                    if !op.poisoned
                        && !diags
                            .errors()
                            .any(|d| d.message.contains(&format!("`{name}`")))
                    {
                        diags.push(
                            Diagnostic::error(format!("no equation defines `{name}` in operator `{}`", op.name))
                                .with_primary(decl.name_span, "declared as a variable")
                                .with_help(format!("add an equation such as `d/dt * {name} = ...`, or declare it as a constant or an input")),
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

/// Resolves every edge; an edge with a template places the template's operators as an extra node
/// and becomes two edges (source -> edge node input, edge node output -> target).
fn resolve_edges(
    ops: &mut Vec<OpInst>,
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
        let source = resolve_path(ops, &decl.source, prefix, "edge source", diags);
        let target = resolve_path(ops, &decl.target, prefix, "edge target", diags);
        let (Some(source), Some(target)) = (source, target) else {
            continue;
        };
        let label = format!(
            "{}->{}",
            qualified(&ops[source.0].path, &source.1),
            qualified(&ops[target.0].path, &target.1)
        );
        let plain = |source, target, weight| EdgeInst {
            label: label.clone(),
            source,
            target,
            weight,
            delay: decl.delay,
            spread: decl.spread,
            span: decl.span,
            source_span: decl.source.1,
            target_span: decl.target.1,
            target_text: decl.target.0.clone(),
        };
        match &decl.template {
            None => out.push(plain(source, target, Some(decl.weight))),
            Some((Template::Edge(node), tspan)) => {
                let Some(EdgeNodeEnds {
                    input,
                    output,
                    mapped,
                }) = place_edge_node(ops, node, decl, &source, &target, *tspan, diags)
                else {
                    continue;
                };
                // Inputs fed from other variables: internal edges of weight 1, undelayed.
                for (into, (path, span)) in mapped {
                    let Some(from) =
                        resolve_path(ops, &(path.clone(), span), prefix, "edge attribute", diags)
                    else {
                        continue;
                    };
                    let into_text = qualified(&ops[into.0].path, &into.1);
                    out.push(EdgeInst {
                        label: format!("{}->{into_text}", qualified(&ops[from.0].path, &from.1)),
                        source: from,
                        target: into,
                        weight: None,
                        delay: None,
                        spread: None,
                        span: decl.span,
                        source_span: span,
                        target_span: *tspan,
                        target_text: into_text,
                    });
                }
                out.push(EdgeInst {
                    label: format!(
                        "{}->{}",
                        qualified(&ops[source.0].path, &source.1),
                        qualified(&ops[input.0].path, &input.1)
                    ),
                    source,
                    target: input,
                    weight: None,
                    delay: None,
                    spread: None,
                    span: decl.span,
                    source_span: decl.source.1,
                    target_span: *tspan,
                    target_text: decl.target.0.clone(),
                });
                out.push(plain(output, target, Some(decl.weight)));
            }
            Some(_) => {}
        }
    }
    out
}

/// An edge's attributes for its template's operators.
struct EdgeAttributes {
    /// `op/var: number`: values of the edge operators for this edge.
    extra: IndexMap<(String, String), VarDecl>,
    /// `op/var: source`: the input that receives the edge's source.
    mapped_input: Option<(String, String, Span)>,
    /// `op/var: node/op/var`: inputs fed from variables of the circuit (op, var, path, where).
    mapped_vars: Vec<(String, String, String, Span)>,
}

/// Reads an edge's attributes (`op/var`, or `template/op/var` as PyRates writes them): a number
/// sets a value, `source` names the receiving input, a path `node/op/var` feeds the input from
/// that variable; anything else is reported.
fn edge_attributes(node: &Node, decl: &EdgeDecl, diags: &mut Diagnostics) -> EdgeAttributes {
    let mut extra: IndexMap<(String, String), VarDecl> = IndexMap::new();
    let mut mapped_input: Option<(String, String, Span)> = None;
    let mut mapped_vars: Vec<(String, String, String, Span)> = Vec::new();
    let op_names: Vec<String> = node.operators.iter().map(|u| u.op.name.clone()).collect();
    for (key, value, kspan) in &decl.attrs {
        let local = key
            .strip_prefix(node.name.as_str())
            .and_then(|k| k.strip_prefix('/'))
            .unwrap_or(key);
        let Some((op, var)) = local
            .split_once('/')
            .filter(|(o, v)| !o.is_empty() && !v.contains('/'))
        else {
            diags.push(
                Diagnostic::error(format!("unknown edge attribute `{key}`"))
                    .with_primary(*kspan, "not an edge attribute")
                    .with_help("edges with a template take `weight`, `delay`, `spread` and `operator/variable` values"),
            );
            continue;
        };
        let Some(u) = node.operators.iter().find(|u| u.op.name == op) else {
            let mut d = Diagnostic::error(format!(
                "edge template `{}` has no operator `{op}`",
                node.name
            ))
            .with_primary(*kspan, "unknown operator");
            d = d.with_suggestion_as(
                op,
                op_names.iter().map(String::as_str),
                |s| format!("`{s}/{var}`"),
                Some(format!("its operators: {}", op_names.join(", "))),
            );
            diags.push(d);
            continue;
        };
        let Some(decl_var) = u.op.variables.get(var) else {
            diags.push(
                Diagnostic::error(format!("operator `{op}` has no variable `{var}`"))
                    .with_primary(*kspan, "unknown variable")
                    .with_help(format!(
                        "its variables: {}",
                        u.op.variables
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            continue;
        };
        match (value.as_f64(), value.as_str()) {
            (Some(x), _) if x.is_finite() => {
                let mut d = decl_var.clone();
                d.values = vec![x; d.values.len()];
                d.value_span = value.span;
                extra.insert((op.to_string(), var.to_string()), d);
            }
            (_, Some("source")) => mapped_input = Some((op.to_string(), var.to_string(), *kspan)),
            (_, Some(path)) if path.contains('/') => {
                mapped_vars.push((op.to_string(), var.to_string(), path.to_string(), value.span))
            }
            _ => diags.push(
                Diagnostic::error(format!("edge attribute `{key}` must be a number, `source` or a variable path"))
                    .with_primary(value.span, "here")
                    .with_help("a number sets the edge operator's value; `source` names the input that receives the edge's source; `node/op/var` feeds the input from that variable"),
            ),
        }
    }
    EdgeAttributes {
        extra,
        mapped_input,
        mapped_vars,
    }
}

/// Where an edge template's node connects: the input that receives the edge's source, the output
/// that feeds the target, and inputs mapped to other variables of the circuit (`op/var:
/// node/op/var`, e.g. the target's phase in PyRates' `kmo_2coupled`), each with the path named.
struct EdgeNodeEnds {
    input: (usize, String),
    output: (usize, String),
    mapped: Vec<((usize, String), (String, Span))>,
}

/// Places an edge template's operators as a node named `source_node->target_node`.
fn place_edge_node(
    ops: &mut Vec<OpInst>,
    node: &Rc<Node>,
    decl: &EdgeDecl,
    source: &(usize, String),
    target: &(usize, String),
    tspan: Span,
    diags: &mut Diagnostics,
) -> Option<EdgeNodeEnds> {
    let base = format!("{}->{}", ops[source.0].node_path, ops[target.0].node_path);
    let mut node_path = base.clone();
    let mut dup = 2;
    while ops.iter().any(|o| o.node_path == node_path) {
        node_path = format!("{base}#{dup}");
        dup += 1;
    }
    let EdgeAttributes {
        extra,
        mapped_input,
        mapped_vars,
    } = edge_attributes(node, decl, diags);
    let first = ops.len();
    place_node(node, &node_path, ops, &extra);
    let placed = first..ops.len();
    let outputs_of = |ops: &Vec<OpInst>, i: usize| -> Vec<String> {
        ops[i]
            .vars
            .iter()
            .filter(|(_, d)| d.kind == VarKind::Output)
            .map(|(n, _)| n.clone())
            .collect()
    };
    let inputs_of = |ops: &Vec<OpInst>, i: usize| -> Vec<String> {
        ops[i]
            .vars
            .iter()
            .filter(|(_, d)| d.kind == VarKind::Input)
            .map(|(n, _)| n.clone())
            .collect()
    };
    let all_outputs: Vec<String> = placed.clone().flat_map(|i| outputs_of(ops, i)).collect();
    let all_inputs: Vec<String> = placed.clone().flat_map(|i| inputs_of(ops, i)).collect();
    // The placed operator whose input `op/var` an attribute names (`label`: what it is for).
    let named_input =
        |op: &str, var: &str, span: Span, label: &str, diags: &mut Diagnostics| -> Option<usize> {
            let i = placed.clone().find(|&i| ops[i].op.name == op)?;
            if ops[i]
                .vars
                .get(var)
                .is_none_or(|d| d.kind != VarKind::Input)
            {
                diags.push(
                    Diagnostic::error(format!("`{op}/{var}` is not an input of the edge template"))
                        .with_primary(span, label)
                        .with_help("declare it as `input` in the edge operator"),
                );
                return None;
            }
            Some(i)
        };
    let mut mapped = Vec::new();
    for (op, var, path, span) in mapped_vars {
        let i = named_input(&op, &var, span, "cannot be fed from a variable", diags)?;
        mapped.push(((i, var), (path, span)));
    }
    // The receiving input: named by `op/var: source`, else the only input no edge operator feeds.
    let input = match mapped_input {
        Some((op, var, span)) => {
            let i = named_input(&op, &var, span, "cannot receive the source", diags)?;
            (i, var)
        }
        None => {
            let free: Vec<(usize, String)> = placed
                .clone()
                .flat_map(|i| {
                    inputs_of(ops, i)
                        .into_iter()
                        .filter(|v| !all_outputs.contains(v))
                        .map(move |v| (i, v))
                        .filter(|iv| !mapped.iter().any(|(m, _)| m == iv))
                })
                .collect();
            match free.as_slice() {
                [one] => one.clone(),
                _ => {
                    let names: Vec<String> = free
                        .iter()
                        .map(|(i, v)| format!("`{}/{v}`", ops[*i].op.name))
                        .collect();
                    diags.push(
                        Diagnostic::error(format!(
                            "cannot tell which input of edge template `{}` receives the edge's source ({} candidates)",
                            node.name,
                            free.len()
                        ))
                        .with_primary(tspan, "edge template")
                        .with_help(if names.is_empty() {
                            "the edge template's operators need an `input` variable that no other operator of it feeds".to_string()
                        } else {
                            format!("name it in the edge's attributes, e.g. `{}: source` (candidates: {})", names[0].trim_matches('`'), names.join(", "))
                        }),
                    );
                    return None;
                }
            }
        }
    };
    // The output: the only output no other edge operator reads.
    let outs: Vec<(usize, String)> = placed
        .clone()
        .flat_map(|i| {
            outputs_of(ops, i)
                .into_iter()
                .filter(|v| !all_inputs.contains(v))
                .map(move |v| (i, v))
        })
        .collect();
    let output = match outs.as_slice() {
        [one] => one.clone(),
        _ => {
            diags.push(
                Diagnostic::error(format!("edge template `{}` needs exactly one output feeding the target, found {}", node.name, outs.len()))
                    .with_primary(tspan, "edge template")
                    .with_help("mark the variable that feeds the target as `output` in its operator, and only that one"),
            );
            return None;
        }
    };
    Some(EdgeNodeEnds {
        input,
        output,
        mapped,
    })
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
            Diagnostic::error(format!("{what} `{path}` is not a variable path"))
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
        let mut d = Diagnostic::error(format!("{what} `{path}`: there is no operator `{op_path}`"))
            .with_primary(*span, "unknown node or operator");
        d = d.with_suggestion_as(
            op_path,
            known.iter().map(String::as_str),
            |s| format!("`{s}/{var}`"),
            Some(format!("operators here: {}", known.join(", "))),
        );
        diags.push(d);
        return None;
    };
    if !ops[i].vars.contains_key(var) {
        let mut d = Diagnostic::error(format!(
            "{what} `{path}`: operator `{}` has no variable `{var}`",
            ops[i].op.name
        ))
        .with_primary(*span, "unknown variable");
        d = d.with_suggestion_as(
            var,
            ops[i].vars.keys().map(String::as_str),
            |s| format!("`{op_path}/{s}`"),
            Some(format!(
                "its variables: {}",
                ops[i].vars.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        );
        diags.push(d);
        return None;
    }
    Some((i, var.to_string()))
}

/// Whether `target` can receive an edge or coupling; reports why not.
#[allow(clippy::too_many_arguments)]
fn target_ok(
    ops: &[OpInst],
    infos: &[IndexMap<String, VarInfo>],
    node_sources: &[IndexMap<String, Vec<usize>>],
    target: &(usize, String),
    span: Span,
    text: &str,
    what: &str,
    diags: &mut Diagnostics,
    loader: &mut Loader,
) -> bool {
    let (op, var) = target;
    let decl = &ops[*op].vars[var];
    let info = &infos[*op][var];
    if decl.kind != VarKind::Input || matches!(info.role, Role::State | Role::Derived) {
        diags.push(
            Diagnostic::error(format!("{what} target `{text}` is not an input"))
                .with_primary(
                    span,
                    format!(
                        "cannot receive {}",
                        if what == "edge" {
                            "an edge"
                        } else {
                            "a coupling"
                        }
                    ),
                )
                .with_secondary(decl.name_span, "declared here")
                .with_help(format!(
                    "declare it as `{var}: input` in operator `{}`",
                    ops[*op].op.name
                )),
        );
        return false;
    }
    if node_sources[*op].contains_key(var) {
        diags.push(
            Diagnostic::error(format!(
                "input `{text}` receives both {} and the output of another operator",
                if what == "edge" {
                    "an edge"
                } else {
                    "a coupling"
                }
            ))
            .with_primary(span, format!("{what} target"))
            .with_help(format!(
                "connect the {what} to a separate input variable and add the two in the equation"
            )),
        );
        return false;
    }
    if info.role == Role::Dropped {
        loader.warn_once(
            Diagnostic::warning(format!(
                "{what} into `{text}` has no effect: no equation uses it"
            ))
            .with_primary(span, "unused input")
            .with_help("use the input in an equation of its operator, or remove the connection"),
        );
        return false;
    }
    true
}

/// Whether an edge or coupling source is something that has a value over time.
fn source_ok(
    infos: &[IndexMap<String, VarInfo>],
    source: &(usize, String),
    span: Span,
    diags: &mut Diagnostics,
) -> bool {
    match infos[source.0][&source.1].role {
        // Its declaration failed and was reported.
        Role::Failed => false,
        Role::Time => {
            diags.push(
                Diagnostic::error("the time `t` cannot be the source of an edge or coupling")
                    .with_primary(span, "source")
                    .with_help("connect a variable of the model; every operator already sees `t`"),
            );
            false
        }
        _ => true,
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
                _ => match info.refs.as_slice() {
                    &[re, im] if decl.imag.is_some() => Some(Binding::Complex(re, im)),
                    refs => refs.first().map(|r| Binding::Scalar(*r)),
                },
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
    lowerer.temp_prefix = qualified(&scope.op.path, &eq.target.text);
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
                if vector_target { format!("has length {n}") } else { "is a scalar".to_string() }
            ))
            .with_primary(eq.rhs.span, "vector expression")
            .with_secondary(eq.target.span, "defined here")
            .with_help("a vector variable takes a vector of its own length or a scalar (applied to every element)"),
        );
        return;
    }
    let complex_target = scope.op.vars[&eq.target.text].imag.is_some();
    if value.is_complex() && !complex_target && eq.kind == EqKind::Differential {
        lowerer.diags.push(
            Diagnostic::error(format!(
                "`{}` is a real state, and its derivative is complex",
                eq.target.text
            ))
            .with_primary(eq.rhs.span, "complex")
            .with_secondary(eq.target.span, "real state")
            .with_help(format!(
                "declare it complex, e.g. `{}: variable(0.0+0.0j)`, or take `real(...)` of the right-hand side",
                eq.target.text
            )),
        );
        return;
    }
    for (k, target) in info.refs.iter().enumerate() {
        let rhs = match (&value.im, complex_target, k) {
            // The imaginary part of a complex variable; zero for a real right-hand side.
            (Some(im), true, 1) => im[0],
            (None, true, 1) => lowerer.model.add_expr(Expr::Lit(0.0), eq.rhs.span),
            // A real variable takes the real part of a complex value, as numpy's cast does.
            _ => value.elems[if value.vector { k } else { 0 }],
        };
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

// ---- network couplings -------------------------------------------------------------------------

/// A coupling with its source and target resolved to (operator, variable).
type ResolvedCoupling<'a> = (&'a CouplingDecl, (usize, String), (usize, String));

/// A built-in coupling function: name, parameters with defaults, `pre`, `post`.
type CouplingFunction = (
    &'static str,
    &'static [(&'static str, f64)],
    &'static str,
    &'static str,
);

/// The built-in coupling functions (TVB's definitions and defaults).
pub(crate) const COUPLING_FUNCTIONS: &[CouplingFunction] = &[
    (
        "linear",
        &[("a", 0.00390625), ("b", 0.0)],
        "x_j",
        "a*gx + b",
    ),
    ("scaling", &[("a", 0.00390625)], "x_j", "a*gx"),
    ("difference", &[("a", 0.1)], "x_j - x_i", "a*gx"),
    ("kuramoto", &[("a", 1.0)], "sin(x_j - x_i)", "a/n_nodes*gx"),
    (
        "sigmoidal",
        &[
            ("cmin", -1.0),
            ("cmax", 1.0),
            ("midpoint", 0.0),
            ("a", 1.0),
            ("sigma", 230.0),
        ],
        "x_j",
        "cmin + (cmax - cmin)/(1 + exp(-a*((gx - midpoint)/sigma)))",
    ),
    (
        "tanh",
        &[("a", 1.0), ("b", 1.0), ("midpoint", 0.0), ("sigma", 1.0)],
        "a*(1 + tanh((b*x_j - midpoint)/sigma))",
        "gx",
    ),
];

/// Names inside a coupling's `pre` or `post`.
struct CouplingScope<'a> {
    x_i: VarRef,
    params: &'a IndexMap<String, Handle<rateforge_ir::Param>>,
    post: bool,
}

impl Scope for CouplingScope<'_> {
    fn resolve(&self, name: &str) -> Option<Binding> {
        match name {
            "x_i" => Some(Binding::Scalar(self.x_i)),
            "x_j" if !self.post => Some(Binding::Leaf(Expr::CouplingSource)),
            "gx" if self.post => Some(Binding::Leaf(Expr::CouplingSum)),
            "n_nodes" => Some(Binding::Leaf(Expr::NodeCount)),
            "t" => Some(Binding::Time),
            _ => self
                .params
                .get(name)
                .map(|p| Binding::Scalar(VarRef::Param(*p)))
                .or_else(|| constant(name).map(Binding::Constant)),
        }
    }

    fn candidates(&self) -> Vec<String> {
        let mut c: Vec<String> = self.params.keys().cloned().collect();
        c.extend(["x_i", "x_j", "n_nodes"].map(String::from));
        if self.post {
            c.push("gx".to_string());
        }
        c
    }

    fn describe(&self) -> String {
        format!(
            "the coupling's `{}` expression",
            if self.post { "post" } else { "pre" }
        )
    }

    fn declaration_hint(&self) -> String {
        "`pre` may use `x_j`, `x_i`, `n_nodes` and the coupling's parameters; `post` may use `gx`, `n_nodes` and the parameters".to_string()
    }
}

/// Lowers one coupling: its parameters, `pre` and `post`. `None` after an error.
fn coupling(
    lowerer: &mut Lowerer<'_>,
    c: &CouplingDecl,
    source: &(usize, String),
    target: &(usize, String),
    infos: &[IndexMap<String, VarInfo>],
    ops: &[OpInst],
) -> Option<Handle<Coupling>> {
    let x_i = *infos[source.0][&source.1].refs.first()?;
    let (fname, fspan) = &c.function;
    let builtin = COUPLING_FUNCTIONS.iter().find(|(n, ..)| n == fname);
    let (defaults, pre_text, post_text): (Vec<(&str, f64)>, Option<&str>, Option<&str>) =
        match (builtin, fname.as_str()) {
            (Some((_, params, pre, post)), _) => {
                if c.pre.is_some() || c.post.is_some() {
                    lowerer.diags.push(
                        Diagnostic::error(format!(
                            "the `{fname}` coupling has its own `pre` and `post`"
                        ))
                        .with_primary(*fspan, "built-in function")
                        .with_help("use `function: custom` to write `pre` and `post` yourself"),
                    );
                    return None;
                }
                (params.to_vec(), Some(pre), Some(post))
            }
            (None, "custom") => (Vec::new(), None, None),
            (None, _) => {
                let names: Vec<&str> = COUPLING_FUNCTIONS
                    .iter()
                    .map(|(n, ..)| *n)
                    .chain(["custom"])
                    .collect();
                let mut d = Diagnostic::error(format!("unknown coupling function `{fname}`"))
                    .with_primary(*fspan, "not a coupling function");
                d = d.with_suggestion(
                    fname,
                    names.iter().copied(),
                    format!("coupling functions: {}", names.join(", ")),
                );
                lowerer.diags.push(d);
                return None;
            }
        };
    // Parameters: named `source->target/name`.
    let label = format!(
        "{}->{}",
        qualified(&ops[source.0].path, &source.1),
        qualified(&ops[target.0].path, &target.1)
    );
    let mut params: IndexMap<String, Handle<rateforge_ir::Param>> = IndexMap::new();
    for (name, (value, span)) in &c.params {
        if builtin.is_some() && !defaults.iter().any(|(d, _)| d == name) {
            let known: Vec<&str> = defaults.iter().map(|(d, _)| *d).collect();
            let mut d =
                Diagnostic::error(format!("the `{fname}` coupling has no parameter `{name}`"))
                    .with_primary(*span, "unknown parameter");
            d = d.with_suggestion(
                name,
                known.iter().copied(),
                format!("its parameters: {}", known.join(", ")),
            );
            lowerer.diags.push(d);
            continue;
        }
        let h = lowerer
            .model
            .add_param(
                &format!("{label}/{name}"),
                *value,
                ParamKind::Constant,
                *span,
            )
            .ok()?;
        params.insert(name.clone(), h);
    }
    for (name, value) in &defaults {
        if !params.contains_key(*name) {
            let h = lowerer
                .model
                .add_param(
                    &format!("{label}/{name}"),
                    *value,
                    ParamKind::Constant,
                    c.span,
                )
                .ok()?;
            params.insert(name.to_string(), h);
        }
    }
    let parse = |text: &str| parse_expression(text, &Origin::whole(*fspan)).ok();
    let (pre_ast, post_ast): (Option<Ast>, Option<Ast>) = match (pre_text, post_text) {
        (Some(p), Some(q)) => (parse(p), parse(q)),
        _ => (c.pre.clone(), c.post.clone()),
    };
    let (Some(pre_ast), Some(post_ast)) = (pre_ast, post_ast) else {
        lowerer.diags.push(
            Diagnostic::error("a custom coupling needs `pre` and `post`")
                .with_primary(c.span, "coupling")
                .with_help("e.g. `pre: \"sin(x_j - x_i)\"`, `post: \"a*gx\"`, with `a: 1.0`"),
        );
        return None;
    };
    let pre = lower_coupling_expr(
        lowerer,
        &pre_ast,
        &CouplingScope {
            x_i,
            params: &params,
            post: false,
        },
    )?;
    let post = lower_coupling_expr(
        lowerer,
        &post_ast,
        &CouplingScope {
            x_i,
            params: &params,
            post: true,
        },
    )?;
    Some(lowerer.model.couplings.append(Coupling {
        name: label,
        source: x_i,
        pre,
        post,
        span: c.span,
    }))
}

/// Lowers `pre`/`post`: `x_j`, `gx` and `n_nodes` are the coupling's own leaves.
fn lower_coupling_expr(
    lowerer: &mut Lowerer<'_>,
    ast: &Ast,
    scope: &CouplingScope<'_>,
) -> Option<Handle<Expr>> {
    lowerer.lower_scalar(ast, scope)
}

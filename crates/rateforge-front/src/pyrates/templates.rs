//! Template files, references and inheritance.
//!
//! References: `dir/file.yaml/Template` or `dir/file/Template` (relative to the referencing file,
//! or to the current directory at top level); dotted `pkg.sub.file.Template`, searched in the
//! referencing file's directory and its parents, then the model paths, then the current
//! directory; a bare `Template` is in the same file.
//!
//! Inheritance (`base:` naming another template) is resolved recursively with cycle detection.
//! Operators: `equations:` as a string or list replaces the parent's equations; as a mapping it
//! edits them on the syntax tree in this order: `replace` (in the mapping's order), `remove`,
//! `append`, `prepend` — each applied to every inherited equation — then `add` appends new
//! equations. `variables:` are merged over the parent's (the child wins). Nodes and edges:
//! `operators:` replaces the parent's set. Circuits: `nodes`/`circuits` are merged, `edges`
//! appended.

use super::LoadOptions;
use crate::ast::{Ast, AstKind, EqKind, Equation, Pattern, rewrite};
use crate::equation::{Origin, parse_equation, parse_expression, parse_fragment};
use crate::yaml::{self, Node as YNode, Value};
use indexmap::IndexMap;
use rateforge_ir::{Diagnostic, Diagnostics, FileId, SourceMap, Span};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use std::rc::Rc;

/// The four kinds of PyRates template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `OperatorTemplate`: equations and variables.
    Operator,
    /// `NodeTemplate`: a set of operators.
    Node,
    /// `EdgeTemplate`: operators on an edge.
    Edge,
    /// `CircuitTemplate`: nodes or sub-circuits and edges.
    Circuit,
}

impl Kind {
    fn from_class(name: &str) -> Option<Kind> {
        match name {
            "OperatorTemplate" => Some(Kind::Operator),
            "NodeTemplate" => Some(Kind::Node),
            "EdgeTemplate" => Some(Kind::Edge),
            "CircuitTemplate" => Some(Kind::Circuit),
            _ => None,
        }
    }

    /// The class name as written in `base:`.
    pub fn class(self) -> &'static str {
        match self {
            Kind::Operator => "OperatorTemplate",
            Kind::Node => "NodeTemplate",
            Kind::Edge => "EdgeTemplate",
            Kind::Circuit => "CircuitTemplate",
        }
    }

    /// The class name with its article, for messages.
    pub fn article(self) -> &'static str {
        match self {
            Kind::Operator => "an OperatorTemplate",
            Kind::Node => "a NodeTemplate",
            Kind::Edge => "an EdgeTemplate",
            Kind::Circuit => "a CircuitTemplate",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Operator => &["base", "description", "equations", "variables"],
            Kind::Node | Kind::Edge => &["base", "description", "operators"],
            Kind::Circuit => &[
                "base",
                "description",
                "nodes",
                "circuits",
                "edges",
                "history",
                "network",
            ],
        }
    }
}

/// How a variable is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VarKind {
    Constant,
    Input,
    Output,
    Variable,
}

/// A variable declaration: kind, default value(s) and where it is written.
#[derive(Clone, Debug)]
pub(crate) struct VarDecl {
    pub kind: VarKind,
    /// One value for a scalar, one per element for a vector.
    pub values: Vec<f64>,
    pub vector: bool,
    /// For a complex variable, the imaginary part of its default (`values[0]` is the real part);
    /// complex variables are scalars.
    pub imag: Option<f64>,
    /// `unit:` (or `units:`) of the documentation form.
    pub unit: Option<String>,
    pub name_span: Span,
    pub value_span: Span,
    /// `bounds: [lo, hi]`: the state is clamped to this range.
    pub bounds: Option<((f64, f64), Span)>,
    /// `noise: g`: the amplitude of `g dW` (a number or an expression of the operator's variables).
    pub noise: Option<Ast>,
}

#[derive(Debug)]
pub(crate) struct Operator {
    pub name: String,
    pub span: Span,
    pub equations: Vec<Equation>,
    pub variables: IndexMap<String, VarDecl>,
    /// Building it raised errors (some equations may be missing): lowering does not report the
    /// consequences again.
    pub poisoned: bool,
    /// Variables whose declaration failed (uses are not reported as unknown).
    pub failed_vars: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct OpUse {
    pub op: Rc<Operator>,
    pub overrides: IndexMap<String, VarDecl>,
    pub span: Span,
}

/// A node or edge template: a set of operators.
#[derive(Debug)]
pub(crate) struct Node {
    pub name: String,
    pub span: Span,
    pub operators: Vec<OpUse>,
    /// Operator references that failed to resolve (edges naming them are not reported again).
    pub failed: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct EdgeDecl {
    pub source: (String, Span),
    pub target: (String, Span),
    pub template: Option<(Template, Span)>,
    pub weight: (f64, Span),
    pub delay: Option<(f64, Span)>,
    pub spread: Option<(f64, Span)>,
    /// Other attributes (edge templates): `op/var: number` sets a value of an edge operator,
    /// `op/var: source` names the input that receives the edge's source.
    pub attrs: Vec<(String, YNode, Span)>,
    pub span: Span,
}

/// A connectivity named in a model file (paths resolved against the file's directory).
#[derive(Clone, Debug)]
pub struct ConnectivitySource {
    /// A TVB connectivity zip, a directory holding `weights.*` and `tract_lengths.*`, or a
    /// weights file (`.npy`, `.csv`, `.txt`).
    pub weights: PathBuf,
    /// Tract lengths (divided by the speed to get delays).
    pub tract_lengths: Option<PathBuf>,
    /// Delays in time units (instead of tract lengths).
    pub delays: Option<PathBuf>,
    /// Where it is named.
    pub span: Span,
}

/// One coupling of a `network:` section.
#[derive(Debug)]
pub(crate) struct CouplingDecl {
    pub source: (String, Span),
    pub target: (String, Span),
    pub function: (String, Span),
    pub params: IndexMap<String, (f64, Span)>,
    pub pre: Option<Ast>,
    pub post: Option<Ast>,
    pub span: Span,
}

/// A `network:` section: identical nodes coupled through a connectivity.
#[derive(Debug)]
pub(crate) struct NetworkDecl {
    pub node: (Template, Span),
    pub connectivity: Option<ConnectivitySource>,
    pub speed: (f64, Span),
    pub couplings: Vec<CouplingDecl>,
    /// `bold: {driver: ..., tr: ...}`: its entries and where it is written.
    pub bold: Option<(Vec<crate::observe::Entry>, Span)>,
    pub span: Span,
}

#[derive(Debug)]
pub(crate) struct Circuit {
    pub name: String,
    /// `history: zero` or `initial`.
    pub history: Option<(rateforge_ir::History, Span)>,
    /// A `network:` section (instead of nodes and edges).
    pub network: Option<Rc<NetworkDecl>>,
    /// Labels whose template failed to resolve (edges naming them are not reported again).
    pub failed: Vec<String>,
    pub description: Option<String>,
    pub nodes: IndexMap<String, (Rc<Node>, Span)>,
    pub circuits: IndexMap<String, (Rc<Circuit>, Span)>,
    pub edges: Vec<Rc<EdgeDecl>>,
}

#[derive(Clone, Debug)]
pub(crate) enum Template {
    Operator(Rc<Operator>),
    Node(Rc<Node>),
    Edge(Rc<Node>),
    Circuit(Rc<Circuit>),
}

impl Template {
    fn kind(&self) -> Kind {
        match self {
            Template::Operator(_) => Kind::Operator,
            Template::Node(_) => Kind::Node,
            Template::Edge(_) => Kind::Edge,
            Template::Circuit(_) => Kind::Circuit,
        }
    }
}

type Key = (PathBuf, String);

struct FileEntry {
    id: FileId,
    root: Option<Rc<YNode>>,
    display: PathBuf,
}

pub(crate) struct Loader {
    pub sources: SourceMap,
    pub diags: Diagnostics,
    model_paths: Vec<PathBuf>,
    /// Files given as text ([`Loader::add_source`]), by their path without `.` components; they
    /// are found before the file system.
    in_memory: HashMap<PathBuf, String>,
    files: IndexMap<PathBuf, FileEntry>,
    cache: HashMap<Key, Option<Template>>,
    active: Vec<Key>,
    warned: HashSet<String>,
}

/// A path without `.` components (`./a/./b.yaml` is `a/b.yaml`).
fn lexical(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Whether `s` is a valid name: a letter or `_`, then letters, digits or `_`.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn shown(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(60)
        .collect();
    if s.chars().count() > 60 {
        format!("{clean}...")
    } else {
        clean
    }
}

impl Loader {
    pub fn new(options: &LoadOptions) -> Self {
        Loader {
            sources: SourceMap::new(),
            diags: Diagnostics::new(),
            model_paths: options.model_paths.clone(),
            in_memory: HashMap::new(),
            files: IndexMap::new(),
            cache: HashMap::new(),
            active: Vec::new(),
            warned: HashSet::new(),
        }
    }

    /// Serves `text` as the file at `path` (relative to the current directory), before the file
    /// system.
    pub fn add_source(&mut self, path: &Path, text: &str) {
        self.in_memory.insert(lexical(path), text.to_string());
    }

    /// Whether a model file exists (given as text, or in the file system).
    fn exists(&self, path: &Path) -> bool {
        self.in_memory.contains_key(&lexical(path)) || path.is_file()
    }

    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.files.values().map(|f| f.display.clone()).collect()
    }

    /// Emits a warning once per distinct message.
    pub fn warn_once(&mut self, d: Diagnostic) {
        let key = format!("{}@{:?}", d.message, d.primary_span());
        if self.warned.insert(key) {
            self.diags.push(d);
        }
    }

    /// Reads and parses a file once; returns its canonical path.
    fn load_file(&mut self, path: &Path, span: Span) -> Option<PathBuf> {
        if let Some(text) = self.in_memory.get(&lexical(path)).cloned() {
            let key = lexical(path);
            if !self.files.contains_key(&key) {
                self.insert_file(key.clone(), path.to_path_buf(), text, span);
            }
            return Some(key);
        }
        let canon = match path.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(format!("cannot open model file `{}`: {e}", path.display()))
                        .with_primary(span, "referenced here")
.with_help("check the path; references in model files are relative to the referencing file"),
                );
                return None;
            }
        };
        if self.files.contains_key(&canon) {
            return Some(canon);
        }
        let text = match std::fs::read(&canon) {
            // The model file named by the user: the place of the first invalid byte is shown.
            Ok(bytes) if !span.is_defined() => {
                match crate::utf8_text(&mut self.sources, &pretty_path(path), bytes) {
                    Ok(t) => t,
                    Err(d) => {
                        self.diags.push(d);
                        return None;
                    }
                }
            }
            // A referenced file is not quoted (it may not be a model file at all).
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "model file `{}` is not valid UTF-8 text",
                            path.display()
                        ))
                        .with_primary(span, "referenced here")
                        .with_help("save the file as UTF-8 text"),
                    );
                    return None;
                }
            },
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(format!("cannot read model file `{}`: {e}", path.display()))
                        .with_primary(span, "referenced here")
                        .with_help("check that the file exists and is readable"),
                );
                return None;
            }
        };
        self.insert_file(canon.clone(), pretty_path(path), text, span);
        Some(canon)
    }

    /// Parses a model file's text and keeps it under `key`, shown as `display`.
    fn insert_file(&mut self, key: PathBuf, display: PathBuf, text: String, span: Span) {
        // A file reached through a reference that is neither YAML by name nor a mapping is not
        // quoted in the diagnostics (`base: ../../etc/passwd/root` must not print the file).
        let yaml_name = matches!(
            display.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let not_a_model = |what: String| {
            Diagnostic::error(format!("`{}` is not a model file: {what}", display.display()))
                .with_primary(span, "referenced here")
                .with_help("references name YAML model files: `dir/file.yaml/Template`, `dir/file/Template` or `package.file.Template`")
        };
        let id = self.sources.add(display.display().to_string(), text);
        let text = &self.sources.get(id).expect("just added").text;
        let parsed = yaml::parse(text, id);
        if span.is_defined() && !yaml_name {
            let problem = match &parsed {
                Err(_) => Some("it is not YAML".to_string()),
                Ok(root) if root.as_map().is_none() => {
                    Some(format!("it holds {}, not templates", root.kind()))
                }
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                self.diags.push(not_a_model(problem));
                self.files.insert(
                    key,
                    FileEntry {
                        id,
                        root: None,
                        display,
                    },
                );
                return;
            }
        }
        let root = match parsed {
            Ok(root) => {
                if root.as_map().is_some() {
                    Some(Rc::new(root))
                } else if matches!(root.value, Value::Null) {
                    self.diags.push(
                        Diagnostic::error(format!("model file `{}` is empty", display.display()))
                            .with_primary(Span::new(id, 0..0), "no templates in this file")
                            .with_secondary(span, "referenced here")
                            .with_help("a model file maps template names to templates, e.g. `my_op: {base: OperatorTemplate, ...}`"),
                    );
                    None
                } else {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "model file must be a mapping of template names, found {}",
                            root.kind()
                        ))
                        .with_primary(root.span, "expected `name: {base: ..., ...}` entries")
.with_help("a model file maps template names to templates, e.g. `my_op: {base: OperatorTemplate, ...}`"),
                    );
                    None
                }
            }
            Err(d) => {
                self.diags.push(d);
                None
            }
        };
        self.files.insert(key, FileEntry { id, root, display });
    }

    fn root(&self, file: &Path) -> Option<Rc<YNode>> {
        self.files.get(file).and_then(|f| f.root.clone())
    }

    /// The templates of a file (`base:` read only one level deep for the kind of each).
    pub fn list(&mut self, path: &Path) -> Vec<(String, Kind)> {
        let Some(file) = self.load_file(path, Span::UNDEFINED) else {
            return Vec::new();
        };
        let Some(root) = self.root(&file) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in root.as_map().unwrap_or(&[]) {
            let Some(name) = k.as_str() else { continue };
            if v.get("base").is_none() || !is_identifier(name) {
                continue;
            }
            if let Some(t) = self.template(&(file.clone(), name.to_string()), k.span) {
                out.push((name.to_string(), t.kind()));
            }
        }
        out
    }

    /// Resolves the model argument of the command line or API.
    pub fn top_level(&mut self, reference: &str) -> Option<Template> {
        let as_path = Path::new(reference);
        // A path that names something other than a file, or a model file that is not there.
        if !self.exists(as_path) {
            let help = "give a model file (`dir/file.yaml`, `dir/file.yaml/Template`) or a dotted `package.file.Template`";
            let problem = match std::fs::metadata(as_path) {
                Ok(m) if m.is_dir() => Some("is a directory, not a model file"),
                Ok(_) => Some("is not a regular file"),
                Err(_)
                    if matches!(
                        as_path.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml")
                    ) =>
                {
                    Some("does not exist")
                }
                Err(_) => None,
            };
            if let Some(problem) = problem {
                self.diags.push(
                    Diagnostic::error(format!("`{}` {problem}", shown(reference))).with_help(help),
                );
                return None;
            }
        }
        if self.exists(as_path) {
            let file = self.load_file(as_path, Span::UNDEFINED)?;
            // A file that did not parse was reported already.
            self.root(&file)?;
            let file_start = Span::new(self.files[&file].id, 0..0);
            // A template whose name is not an identifier is never picked: report it (as a
            // reference to it would), rather than silently running another template of the file.
            if let Some(root) = self.root(&file) {
                let bad: Vec<String> = root
                    .as_map()
                    .unwrap_or(&[])
                    .iter()
                    .filter(|(_, v)| v.get("base").is_some())
                    .filter_map(|(k, _)| k.as_str().map(str::to_string))
                    .filter(|n| !is_identifier(n))
                    .collect();
                if !bad.is_empty() {
                    for name in bad {
                        let _ = self.template(&(file.clone(), name), Span::UNDEFINED);
                    }
                    return None;
                }
            }
            let listed: Vec<(String, Kind)> = self.list(as_path);
            let pick = |kind| {
                listed
                    .iter()
                    .filter(|(_, k)| *k == kind)
                    .map(|(n, _)| n.clone())
                    .collect::<Vec<_>>()
            };
            let circuits = pick(Kind::Circuit);
            let nodes = pick(Kind::Node);
            let choice = match (circuits.as_slice(), nodes.as_slice()) {
                ([one], _) => one.clone(),
                ([], [one]) => one.clone(),
                _ => {
                    let mut names = circuits.clone();
                    if names.is_empty() {
                        names = nodes.clone();
                    }
                    let mut d = Diagnostic::error(format!(
                        "`{reference}` has {} circuit templates; say which one to use",
                        circuits.len()
                    ))
                    .with_primary(file_start, "in this file");
                    d = if names.is_empty() {
                        d.with_help("the file has no circuit or node template to run")
                    } else {
                        d.with_help(format!(
                            "give the model as `{reference}/TEMPLATE`, with TEMPLATE one of: {}",
                            names.join(", ")
                        ))
                    };
                    self.diags.push(d);
                    return None;
                }
            };
            return self.template(&(file, choice), Span::UNDEFINED);
        }
        if !reference.contains('/') && !reference.contains('.') {
            self.diags.push(
                Diagnostic::error(format!("`{}` is not a model file or template reference", shown(reference)))
                    .with_help("give `path/file.yaml/Template`, `path/file/Template` or `package.file.Template`"),
            );
            return None;
        }
        self.resolve(reference, None, Span::UNDEFINED)
    }

    /// Resolves a template reference written in `from` (or on the command line).
    pub fn resolve(
        &mut self,
        reference: &str,
        from: Option<&Path>,
        span: Span,
    ) -> Option<Template> {
        let key = self.locate(reference, from, span)?;
        self.template(&key, span)
    }

    fn locate(&mut self, reference: &str, from: Option<&Path>, span: Span) -> Option<Key> {
        let reference = reference.trim();
        let here = from.and_then(Path::parent).map(Path::to_path_buf);
        let cwd = PathBuf::from(".");
        if let Some((file_part, name)) = reference.rsplit_once('/') {
            let base = if Path::new(file_part).is_absolute() {
                PathBuf::new()
            } else {
                here.clone().unwrap_or(cwd)
            };
            let p = base.join(file_part);
            let has_ext = matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
            let mut candidates = vec![p.clone()];
            if !has_ext {
                candidates.push(p.with_extension("yaml"));
                candidates.push(p.with_extension("yml"));
            }
            let Some(found) = candidates.iter().find(|c| self.exists(c)) else {
                self.diags.push(
                    Diagnostic::error(format!("cannot find model file `{}`", shown(file_part)))
                        .with_primary(span, "in this reference")
                        .with_help(format!(
                            "looked for {}",
                            candidates
                                .iter()
                                .map(|c| format!("`{}`", c.display()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                );
                return None;
            };
            let file = self.load_file(found, span)?;
            return Some((file, name.to_string()));
        }
        if let Some((package, name)) = reference.rsplit_once('.') {
            let rel: PathBuf = package.split('.').collect();
            let mut bases: Vec<PathBuf> = Vec::new();
            if let Some(h) = &here {
                let mut dir = Some(h.as_path());
                while let Some(d) = dir {
                    bases.push(d.to_path_buf());
                    dir = d.parent().filter(|p| !p.as_os_str().is_empty());
                }
            }
            bases.extend(self.model_paths.iter().cloned());
            bases.push(cwd);
            for base in &bases {
                for ext in ["yaml", "yml"] {
                    let candidate = base.join(&rel).with_extension(ext);
                    if self.exists(&candidate) {
                        let file = self.load_file(&candidate, span)?;
                        return Some((file, name.to_string()));
                    }
                }
            }
            self.diags.push(
                Diagnostic::error(format!("cannot find the file of template reference `{}`", shown(reference)))
                    .with_primary(span, "in this reference")
                    .with_help(format!(
                        "looked for `{}.yaml` beside the referencing file and in its parent directories, {}in the current directory; add the directory that contains it with `--model-path`",
                        rel.display(),
                        if self.model_paths.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "in {}, ",
                                self.model_paths.iter().map(|b| format!("`{}`", b.display())).collect::<Vec<_>>().join(", ")
                            )
                        }
                    )),
            );
            return None;
        }
        match from {
            Some(f) => Some((f.to_path_buf(), reference.to_string())),
            None => {
                self.diags.push(
                    Diagnostic::error(format!("`{}` does not name a file", shown(reference)))
                        .with_help("give `path/file.yaml/Template`"),
                );
                None
            }
        }
    }

    /// The template `key`, built once; `span` is where it is referenced.
    pub fn template(&mut self, key: &Key, span: Span) -> Option<Template> {
        if let Some(t) = self.cache.get(key) {
            return t.clone();
        }
        if let Some(pos) = self.active.iter().position(|k| k == key) {
            let chain: Vec<String> = self.active[pos..]
                .iter()
                .map(|(_, n)| format!("`{n}`"))
                .collect();
            self.diags.push(
                Diagnostic::error(format!("template `{}` inherits from itself: {} -> `{}`", key.1, chain.join(" -> "), key.1))
                    .with_primary(span, "cycle closes here")
                    .with_help("a template's `base:` chain must end in OperatorTemplate, NodeTemplate, EdgeTemplate or CircuitTemplate"),
            );
            return None;
        }
        self.active.push(key.clone());
        let result = self.build(key, span);
        self.active.pop();
        self.cache.insert(key.clone(), result.clone());
        result
    }

    fn build(&mut self, key: &Key, span: Span) -> Option<Template> {
        let (file, name) = key;
        let root = self.root(file)?;
        let entries = root.as_map().unwrap_or(&[]);
        let Some((name_node, body)) = entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name.as_str()))
        else {
            let names: Vec<&str> = entries
                .iter()
                .filter(|(_, v)| v.get("base").is_some())
                .filter_map(|(k, _)| k.as_str())
                .collect();
            let display = self.files[file].display.display().to_string();
            let mut d = Diagnostic::error(format!(
                "template `{}` not found in `{display}`",
                shown(name)
            ))
            .with_primary(span, "referenced here");
            let otherwise = if names.is_empty() {
                "the file defines no templates".to_string()
            } else {
                format!("templates in the file: {}", names.join(", "))
            };
            d = d.with_suggestion(name, names.iter().copied(), otherwise);
            self.diags.push(d);
            return None;
        };
        if !is_identifier(name) {
            self.diags.push(
                Diagnostic::error(format!("invalid template name `{}`", shown(name)))
                    .with_primary(name_node.span, "not a valid name")
                    .with_help("template names start with a letter or `_` and contain only letters, digits and `_`"),
            );
            return None;
        }
        let Some(map) = body.as_map() else {
            self.diags.push(
                Diagnostic::error(format!(
                    "template `{name}` must be a mapping, found {}",
                    body.kind()
                ))
                .with_primary(body.span, "expected `base: ...` and the template's fields")
                .with_help(
                    "e.g. `my_op: {base: OperatorTemplate, equations: ..., variables: ...}`",
                ),
            );
            return None;
        };
        let Some(base) = body.get("base") else {
            self.diags.push(
                Diagnostic::error(format!("template `{name}` has no `base`"))
                    .with_primary(name_node.span, "missing `base:`")
                    .with_help("add `base: OperatorTemplate` (or NodeTemplate, EdgeTemplate, CircuitTemplate, or a template to inherit from)"),
            );
            return None;
        };
        let Some(base_ref) = base.as_str() else {
            self.diags.push(
                Diagnostic::error(format!(
                    "`base` must be a template name, found {}",
                    base.kind()
                ))
                .with_primary(base.span, "expected a string")
.with_help("write `base: OperatorTemplate` (or NodeTemplate, EdgeTemplate, CircuitTemplate) or the name of a template to inherit from"),
            );
            return None;
        };
        let (kind, parent) = match Kind::from_class(base_ref.trim()) {
            Some(kind) => (kind, None),
            None => {
                let parent = self.resolve(base_ref, Some(file), base.span)?;
                (parent.kind(), Some(parent))
            }
        };
        let errors_before = self.diags.error_count();
        // Unknown keys.
        for (k, _) in map {
            let Some(text) = k.key_text() else { continue };
            if !kind.keys().contains(&text.as_str()) {
                let mut d = Diagnostic::error(format!(
                    "unknown field `{}` in {} `{name}`",
                    shown(&text),
                    kind.class()
                ))
                .with_primary(k.span, "not a field of this kind of template");
                d = d.with_suggestion(
                    &text,
                    kind.keys().iter().copied(),
                    format!(
                        "a {} has the fields {}",
                        kind.class(),
                        kind.keys().join(", ")
                    ),
                );
                self.diags.push(d);
            }
        }
        let file = file.clone();
        let name = name.clone();
        let span = name_node.span;
        match kind {
            Kind::Operator => {
                let parent = match parent {
                    Some(Template::Operator(p)) => Some(p),
                    _ => None,
                };
                Some(Template::Operator(Rc::new(self.operator(
                    &name,
                    span,
                    body,
                    parent.as_deref(),
                    errors_before,
                ))))
            }
            Kind::Node | Kind::Edge => {
                let parent = match parent {
                    Some(Template::Node(p) | Template::Edge(p)) => Some(p),
                    _ => None,
                };
                let node = Rc::new(self.node(&file, &name, span, body, parent.as_deref()));
                Some(if kind == Kind::Node {
                    Template::Node(node)
                } else {
                    Template::Edge(node)
                })
            }
            Kind::Circuit => {
                let parent = match parent {
                    Some(Template::Circuit(p)) => Some(p),
                    _ => None,
                };
                Some(Template::Circuit(Rc::new(self.circuit(
                    &file,
                    &name,
                    span,
                    body,
                    parent.as_deref(),
                ))))
            }
        }
    }

    // ---- operators -----------------------------------------------------------------------

    fn operator(
        &mut self,
        name: &str,
        span: Span,
        body: &YNode,
        parent: Option<&Operator>,
        errors_before: usize,
    ) -> Operator {
        let mut failed_vars: Vec<String> =
            parent.map(|p| p.failed_vars.clone()).unwrap_or_default();
        let mut equations: Vec<Equation> = parent.map(|p| p.equations.clone()).unwrap_or_default();
        let mut variables = parent.map(|p| p.variables.clone()).unwrap_or_default();
        if let Some(eqs) = body.get("equations") {
            match &eqs.value {
                Value::Str(_) => equations = self.equation_list(std::slice::from_ref(eqs)),
                Value::Seq(items) => equations = self.equation_list(items),
                Value::Map(edits) => {
                    if parent.is_none() {
                        self.diags.push(
                            Diagnostic::error(format!("operator `{name}` edits equations but inherits none"))
                                .with_primary(eqs.span, "`replace`/`remove`/`append`/`prepend`/`add` edit a parent's equations")
                                .with_help("give the equations as a list, or set `base:` to the operator to edit"),
                        );
                    }
                    self.edit_equations(name, &mut equations, edits);
                }
                Value::Null => equations.clear(),
                _ => self.diags.push(
                    Diagnostic::error(format!(
                        "`equations` must be a string, a list or a mapping of edits, found {}",
                        eqs.kind()
                    ))
                    .with_primary(eqs.span, "here")
.with_help("write a list of equations, e.g. `equations: [\"d/dt * x = -x/tau\"]`, or edits such as `replace: {a: b}`"),
                ),
            }
        }
        if let Some(vars) = body.get("variables") {
            match &vars.value {
                Value::Map(entries) => {
                    for (k, v) in entries {
                        let Some(var_name) = self.var_name(k) else {
                            if let Some(t) = k.key_text() {
                                failed_vars.push(t);
                            }
                            continue;
                        };
                        match self.var_decl(&var_name, k.span, v) {
                            Some(decl) => {
                                failed_vars.retain(|f| *f != var_name);
                                variables.insert(var_name, decl);
                            }
                            None => failed_vars.push(var_name),
                        }
                    }
                }
                Value::Null => {}
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "`variables` must be a mapping of names to values, found {}",
                            vars.kind()
                        ))
                        .with_primary(vars.span, "here")
                        .with_help("e.g. `variables: {tau: 1.0, r: output(0.0), I_ext: input}`"),
                    );
                    // No declaration could be read: the equations' names are not reported again.
                    for eq in &equations {
                        failed_vars.push(eq.target.text.clone());
                        failed_vars.extend(eq.rhs.names().into_iter().map(|(n, _)| n.to_string()));
                    }
                }
            }
        }
        let poisoned =
            parent.is_some_and(|p| p.poisoned) || self.diags.error_count() > errors_before;
        Operator {
            name: name.to_string(),
            span,
            equations,
            variables,
            poisoned,
            failed_vars,
        }
    }

    fn equation_list(&mut self, items: &[YNode]) -> Vec<Equation> {
        let mut out = Vec::new();
        for item in items {
            match item.as_str() {
                Some(text) => match parse_equation(text, &item.origin()) {
                    Ok(eq) => {
                        if let Some(op_span) = eq.compound_assign {
                            self.warn_once(
                                Diagnostic::warning("compound assignment is treated as `=`")
                                    .with_primary(op_span, "read as `=`")
                                    .with_note("PyRates accepts `+=`, `-=`, `*=`, `/=` but assigns with `=`; rateforge does the same"),
                            );
                        }
                        out.push(eq);
                    }
                    Err(d) => self.diags.push(d),
                },
                None => self.diags.push(
                    Diagnostic::error(format!(
                        "an equation must be a string, found {}",
                        item.kind()
                    ))
                    .with_primary(
                        item.span,
                        "expected a quoted equation such as \"d/dt * x = -x/tau\"",
                    )
                    .with_help("quote each equation, e.g. `- \"d/dt * x = -x/tau\"`"),
                ),
            }
        }
        out
    }

    fn edit_equations(
        &mut self,
        op: &str,
        equations: &mut Vec<Equation>,
        edits: &[(YNode, YNode)],
    ) {
        const EDITS: [&str; 5] = ["replace", "remove", "append", "prepend", "add"];
        let mut by_key: HashMap<&str, &YNode> = HashMap::new();
        for (k, v) in edits {
            match k.as_str() {
                Some(key) if EDITS.contains(&key) => {
                    by_key.insert(EDITS.iter().find(|e| **e == key).copied().unwrap_or(""), v);
                }
                _ => {
                    let text = k.key_text().unwrap_or_default();
                    let mut d =
                        Diagnostic::error(format!("unknown equation edit `{}`", shown(&text)))
                            .with_primary(k.span, "not an edit");
                    d = d.with_suggestion(
                        &text,
                        EDITS,
                        "equation edits are `replace`, `remove`, `append`, `prepend` and `add`",
                    );
                    self.diags.push(d);
                }
            }
        }
        if let Some(rep) = by_key.get("replace") {
            match rep.as_map() {
                Some(pairs) => {
                    for (old, new) in pairs {
                        self.replace(op, equations, old, new);
                    }
                }
                None => self.diags.push(
                    Diagnostic::error(format!(
                        "`replace` must map old text to new text, found {}",
                        rep.kind()
                    ))
                    .with_primary(rep.span, "here")
                    .with_help("e.g. `replace: {m_in: (m_in + u)}`"),
                ),
            }
        }
        if let Some(rem) = by_key.get("remove") {
            for item in self.string_items(rem, "remove") {
                let Some(frag) = self.fragment(&item) else {
                    continue;
                };
                let pattern = Pattern {
                    lead: frag.lead,
                    expr: frag.expr,
                };
                let mut count = 0;
                for eq in equations.iter_mut() {
                    let rhs = eq.rhs.clone();
                    match rewrite(rhs, &pattern, None, &mut count) {
                        Some(new) => eq.rhs = new,
                        None => self.diags.push(
                            Diagnostic::error(
                                "`remove` would leave an equation without a right-hand side",
                            )
                            .with_primary(item.span, "removes everything")
                            .with_secondary(eq.span, "in this equation")
.with_help("remove only terms that leave something behind, or replace the equation with `equations: [...]`"),
                        ),
                    }
                }
                if count == 0 {
                    self.warn_once(
                        Diagnostic::warning(format!(
                            "`remove` pattern matches nothing in the equations of `{op}`"
                        ))
                        .with_primary(item.span, "no match"),
                    );
                }
            }
        }
        for which in ["append", "prepend"] {
            let Some(node) = by_key.get(which) else {
                continue;
            };
            for item in self.string_items(node, which) {
                let Some(frag) = self.fragment(&item) else {
                    continue;
                };
                let op_ = if which == "append" {
                    frag.lead
                } else {
                    frag.trail
                };
                let Some(binop) = op_ else {
                    let example = if which == "append" {
                        "+ I_ext"
                    } else {
                        "I_ext +"
                    };
                    self.diags.push(
                        Diagnostic::error(format!(
                            "`{which}` needs an operator joining it to the equation"
                        ))
                        .with_primary(item.span, "no operator")
                        .with_help(format!("e.g. `{which}: \"{example}\"`")),
                    );
                    continue;
                };
                for eq in equations.iter_mut() {
                    let rhs = std::mem::replace(
                        &mut eq.rhs,
                        Ast::new(AstKind::Num(0.0), Span::UNDEFINED),
                    );
                    let span = rhs.span;
                    let (a, b) = if which == "append" {
                        (rhs, frag.expr.clone())
                    } else {
                        (frag.expr.clone(), rhs)
                    };
                    eq.rhs = Ast::new(AstKind::Binary(binop, Box::new(a), Box::new(b)), span);
                }
            }
        }
        if let Some(add) = by_key.get("add") {
            let items: Vec<YNode> = match &add.value {
                Value::Seq(items) => items.clone(),
                _ => vec![(*add).clone()],
            };
            equations.extend(self.equation_list(&items));
        }
    }

    fn string_items(&mut self, node: &YNode, what: &str) -> Vec<YNode> {
        let items = match &node.value {
            Value::Seq(items) => items.clone(),
            _ => vec![node.clone()],
        };
        items
            .into_iter()
            .filter(|i| {
                let ok = i.as_str().is_some();
                if !ok {
                    self.diags.push(
                        Diagnostic::error(format!("`{what}` expects text, found {}", i.kind()))
                            .with_primary(i.span, "here")
                            .with_help(format!(
                                "write the fragment as a string, e.g. `{what}: \"+ I_ext\"`"
                            )),
                    );
                }
                ok
            })
            .collect()
    }

    fn fragment(&mut self, item: &YNode) -> Option<crate::equation::Fragment> {
        let text = item.as_str()?;
        match parse_fragment(text, &item.origin()) {
            Ok(f) => Some(f),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    fn expr_of(&mut self, node: &YNode) -> Option<Ast> {
        let (text, origin) = match &node.value {
            Value::Str(s) => (s.clone(), node.origin()),
            Value::Int(_) | Value::Float(_) => (node.key_text()?, Origin::whole(node.span)),
            _ => {
                self.diags.push(
                    Diagnostic::error(format!("expected an expression, found {}", node.kind()))
                        .with_primary(node.span, "here")
.with_help("patterns and replacements are expressions written as strings, e.g. `replace: {m_in: (m_in + u)}`"),
                );
                return None;
            }
        };
        match parse_expression(&text, &origin) {
            Ok(a) => Some(a),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    fn replace(&mut self, op: &str, equations: &mut [Equation], old: &YNode, new: &YNode) {
        let (Some(pat), Some(rep)) = (self.expr_of(old), self.expr_of(new)) else {
            return;
        };
        let pattern = Pattern {
            lead: None,
            expr: pat,
        };
        let mut count = 0;
        for eq in equations.iter_mut() {
            // The left-hand side is renamed when both sides are plain names.
            if let AstKind::Name(from) = &pattern.expr.kind
                && *from == eq.target.text
            {
                match &rep.kind {
                    AstKind::Name(to) => {
                        eq.target.text = to.clone();
                        eq.target.span = rep.span;
                        count += 1;
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "cannot replace `{from}` on the left-hand side by an expression"
                            ))
                            .with_primary(new.span, "not a variable name")
                            .with_secondary(eq.target.span, "defined here")
.with_help("a replacement for a name defined by an equation must itself be a name"),
                        );
                        continue;
                    }
                }
            }
            let rhs = eq.rhs.clone();
            if let Some(new_rhs) = rewrite(rhs, &pattern, Some(&rep), &mut count) {
                eq.rhs = new_rhs;
            }
        }
        if count == 0 {
            self.warn_once(
                Diagnostic::warning(format!(
                    "`replace` pattern matches nothing in the equations of `{op}`"
                ))
                .with_primary(old.span, "no match")
                .with_note(
                    "patterns match whole names and sub-expressions, never parts of longer names",
                ),
            );
        }
    }

    fn var_name(&mut self, key: &YNode) -> Option<String> {
        let Some(text) = key.key_text() else {
            self.diags.push(
                Diagnostic::error(format!(
                    "a variable name must be text, found {}",
                    key.kind()
                ))
                .with_primary(key.span, "here")
                .with_help("variable names start with a letter or `_`"),
            );
            return None;
        };
        if !is_identifier(&text) {
            self.diags.push(
                Diagnostic::error(format!("invalid variable name `{}`", shown(&text)))
                    .with_primary(key.span, "not a valid name")
                    .with_help(
                        "names start with a letter or `_` and contain only letters, digits and `_`",
                    ),
            );
            return None;
        }
        // `E` names many models' excitatory population (TVB's Wilson-Cowan): a variable of that
        // name shadows Euler's number in its operator. `pi` stays reserved.
        if text == "E" {
            self.warn_once(
                Diagnostic::warning("`E` is declared as a variable: in this operator it is the variable, not Euler's number")
                    .with_primary(key.span, "shadows the constant")
                    .with_help("write `exp(1)` where Euler's number is meant"),
            );
        }
        if matches!(text.as_str(), "pi" | "PI") {
            self.diags.push(
                Diagnostic::error(format!(
                    "`{text}` is a constant and cannot be declared as a variable"
                ))
                .with_primary(key.span, "reserved name")
                .with_help("rename the variable"),
            );
            return None;
        }
        if text.contains("_buffer") || text.contains("_delays") || text.contains("_hist") {
            self.warn_once(
                Diagnostic::warning(format!(
                    "`{text}` uses a name PyRates reserves for delay buffers"
                ))
                .with_primary(key.span, "PyRates rejects this name")
                .with_note("rateforge accepts it, but the file will not load in PyRates"),
            );
        }
        Some(text)
    }

    /// Reads a variable's default: a number, `input`, `input(v)`, `output(v)`, `variable(v)`,
    /// `state_var`, `variable(v, n)` (a vector), `{default: ...}`, `{vtype: ..., value: ...}` or a
    /// list of numbers (a constant vector).
    pub fn var_decl(&mut self, name: &str, name_span: Span, v: &YNode) -> Option<VarDecl> {
        let decl =
            |kind, values: Vec<f64>, vector| plain_decl(kind, values, vector, name_span, v.span);
        match &v.value {
            Value::Int(_) | Value::Float(_) => {
                Some(decl(VarKind::Constant, vec![v.as_f64()?], false))
            }
            Value::Bool(b) => {
                self.diags.push(
                    Diagnostic::error(format!("the value of `{name}` is the boolean `{b}`"))
                        .with_primary(v.span, "not a number")
                        .with_help(format!(
                            "write a number, e.g. `{name}: {}`",
                            if *b { "1.0" } else { "0.0" }
                        )),
                );
                None
            }
            Value::Str(s) => self.typed_decl(name, name_span, v, s),
            Value::Map(_) => self.mapping_decl(name, name_span, v),
            Value::Seq(items) => {
                let values: Option<Vec<f64>> = items.iter().map(YNode::as_f64).collect();
                match values {
                    Some(vals) if !vals.is_empty() => Some(decl(VarKind::Constant, vals, true)),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "the value of `{name}` must be a list of numbers"
                            ))
                            .with_primary(v.span, "here")
.with_help(format!("write e.g. `{name}: [0.1, 0.2, 0.3]`, or `{name}: variable(0.0, 3)` for a vector state")),
                        );
                        None
                    }
                }
            }
            Value::Null => {
                self.diags.push(
                    Diagnostic::error(format!("variable `{name}` has no value"))
                        .with_primary(name_span, "declared without a value")
                        .with_help(format!(
                            "give a number or a type, e.g. `{name}: 0.0` or `{name}: input`"
                        )),
                );
                None
            }
        }
    }

    /// A variable declared by a string: a number, a complex number, or a type with arguments
    /// (`input(0.5)`, `variable(complex)`, `output(0.5+0.1j)`, `variable(0.0, 3)`).
    fn typed_decl(&mut self, name: &str, name_span: Span, v: &YNode, s: &str) -> Option<VarDecl> {
        let decl =
            |kind, values: Vec<f64>, vector| plain_decl(kind, values, vector, name_span, v.span);
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(x) = compact.parse::<f64>()
            && x.is_finite()
        {
            return Some(decl(VarKind::Constant, vec![x], false));
        }
        if let Some((re, im)) = parse_complex(&compact) {
            let mut d = decl(VarKind::Constant, vec![re], false);
            d.imag = Some(im);
            return Some(d);
        }
        let lower = compact.to_ascii_lowercase();
        let (kind, rest) = if let Some(r) = lower.strip_prefix("input") {
            (VarKind::Input, r)
        } else if let Some(r) = lower.strip_prefix("output") {
            (VarKind::Output, r)
        } else if let Some(r) = lower.strip_prefix("variable") {
            (VarKind::Variable, r)
        } else if let Some(r) = lower.strip_prefix("state_var") {
            (VarKind::Variable, r)
        } else {
            let mut d =
                Diagnostic::error(format!("cannot read the value of `{name}`: `{}`", shown(s)))
                    .with_primary(v.span, "not a number or variable type");
            if compact.ends_with(['j', 'J']) {
                d = d.with_note("complex numbers are written as in Python: `0.5+0.1j`, `1j`");
            }
            self.diags.push(d.with_help(
                "use a number, `input`, `input(0.0)`, `output(0.0)`, `variable(0.0)` or `state_var`",
            ));
            return None;
        };
        self.parse_args(name, s, rest, v.span)
            .map(|(values, vector, imag)| VarDecl {
                imag,
                ..decl(kind, values, vector)
            })
    }

    /// A variable declared by a mapping: `{default: ..., bounds: ..., noise: ...}` or PyRates'
    /// `{vtype: ..., value: ..., shape: ...}`.
    fn mapping_decl(&mut self, name: &str, name_span: Span, v: &YNode) -> Option<VarDecl> {
        let decl =
            |kind, values: Vec<f64>, vector| plain_decl(kind, values, vector, name_span, v.span);
        if let Some(default) = v.get("default") {
            for (k, _) in v.as_map().unwrap_or(&[]) {
                let key = k.key_text().unwrap_or_default();
                if !matches!(
                    key.as_str(),
                    "default" | "description" | "unit" | "units" | "doc" | "bounds" | "noise"
                ) {
                    let w = Diagnostic::warning(format!(
                        "field `{}` of variable `{name}` is ignored",
                        shown(&key)
                    ))
                    .with_primary(k.span, "ignored")
                    .with_suggestion_as(
                        &key,
                        ["bounds", "noise", "description", "unit"],
                        |s| format!("`{s}`"),
                        None,
                    );
                    self.warn_once(w);
                }
            }
            let mut d = self.var_decl(name, name_span, default)?;
            d.value_span = default.span;
            if let Some(b) = v.get("bounds") {
                d.bounds = self.bounds(name, b).map(|r| (r, b.span));
            }
            if let Some(g) = v.get("noise") {
                d.noise = self.expr_of(g);
            }
            d.unit = v
                .get("unit")
                .or_else(|| v.get("units"))
                .and_then(|u| u.as_str())
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty());
            return Some(d);
        }
        if let Some(vtype) = v.get("vtype") {
            let kind = match vtype.as_str().map(str::trim) {
                Some("state_var") => VarKind::Variable,
                Some("input") => VarKind::Input,
                Some("constant") => VarKind::Constant,
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!("unknown `vtype` of `{name}`"))
                            .with_primary(vtype.span, "expected `state_var`, `input` or `constant`")
                            .with_help("use `vtype: state_var`, `input` or `constant`"),
                    );
                    return None;
                }
            };
            let value = v.get("value").and_then(YNode::as_f64).unwrap_or(0.0);
            let len = v.get("shape").and_then(|s| match &s.value {
                Value::Seq(dims) if dims.len() == 1 => dims[0].as_f64(),
                Value::Int(n) => Some(*n as f64),
                _ => None,
            });
            return Some(match len {
                Some(n) if n >= 1.0 => decl(kind, vec![value; n as usize], true),
                _ => decl(kind, vec![value], false),
            });
        }
        self.diags.push(
            Diagnostic::error(format!("cannot read the value of `{name}`"))
                .with_primary(v.span, "a mapping needs a `default:` entry")
                .with_help("e.g. `tau: {default: 1.0, description: time constant, unit: s}`"),
        );
        None
    }

    /// `bounds: [lo, hi]`, either side a number, `inf`/`-inf` or null (no bound).
    fn bounds(&mut self, name: &str, b: &YNode) -> Option<(f64, f64)> {
        let side = |n: &YNode, default: f64| -> Option<f64> {
            match &n.value {
                Value::Null => Some(default),
                Value::Int(_) | Value::Float(_) => n.as_f64().filter(|x| !x.is_nan()),
                Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "inf" | "+inf" | ".inf" | "infinity" => Some(f64::INFINITY),
                    "-inf" | "-.inf" | "-infinity" => Some(f64::NEG_INFINITY),
                    "none" | "null" => Some(default),
                    t => t.parse::<f64>().ok().filter(|x| !x.is_nan()),
                },
                _ => None,
            }
        };
        let parsed = match &b.value {
            Value::Seq(items) if items.len() == 2 => {
                side(&items[0], f64::NEG_INFINITY).zip(side(&items[1], f64::INFINITY))
            }
            _ => None,
        };
        match parsed {
            Some((lo, hi)) if lo <= hi => Some((lo, hi)),
            Some((lo, hi)) => {
                self.diags.push(
                    Diagnostic::error(format!("the bounds of `{name}` are empty: [{lo}, {hi}]"))
                        .with_primary(b.span, "lower bound above upper bound")
                        .with_help("write `bounds: [low, high]` with low <= high"),
                );
                None
            }
            None => {
                self.diags.push(
                    Diagnostic::error(format!("cannot read the bounds of `{name}`"))
                        .with_primary(b.span, "expected `[low, high]`")
                        .with_help(
                            "e.g. `bounds: [0.0, inf]`; use `inf`, `-inf` or null for no bound",
                        ),
                );
                None
            }
        }
    }

    fn parse_args(
        &mut self,
        name: &str,
        original: &str,
        rest: &str,
        span: Span,
    ) -> Option<(Vec<f64>, bool, Option<f64>)> {
        if rest.is_empty() {
            return Some((vec![0.0], false, None));
        }
        let inner = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')'));
        let bad = |this: &mut Self, why: &str| {
            this.diags.push(
                Diagnostic::error(format!("cannot read the value of `{name}`: `{}`", shown(original)))
                    .with_primary(span, why.to_string())
                    .with_help("write e.g. `input(0.0)`, `variable(-2.0)` or `variable(0.5, 3)` for a vector of 3"),
            );
            None
        };
        let Some(inner) = inner else {
            return bad(self, "expected `(value)` after the type");
        };
        let parts: Vec<&str> = inner.split(',').collect();
        let mut imag = None;
        let value = match parts[0] {
            "" | "float" | "float32" | "float64" | "double" | "int" | "int32" | "int64" => 0.0,
            "complex" | "complex64" | "complex128" => {
                imag = Some(0.0);
                0.0
            }
            p => match p.parse::<f64>() {
                Ok(x) if x.is_finite() => x,
                _ if let Some((re, im)) = parse_complex(p) => {
                    imag = Some(im);
                    re
                }
                _ if p.ends_with('j') => {
                    return bad(
                        self,
                        "not a complex number: write it as Python does, e.g. `0.5+0.1j`, with finite parts",
                    );
                }
                Ok(x) if x.is_infinite() && !p.to_ascii_lowercase().contains("inf") => {
                    return bad(
                        self,
                        "the number is out of range (a float64 holds at most about 1.8e308)",
                    );
                }
                Ok(_) => return bad(self, "the value must be a finite number"),
                _ => return bad(self, "the value is not a number"),
            },
        };
        match parts.len() {
            1 => Some((vec![value], false, imag)),
            2 if imag.is_some() => {
                self.diags.push(
                    Diagnostic::error(format!("variable `{name}` is a complex vector"))
                        .with_primary(span, "complex vectors are not supported")
                        .with_help("declare one complex scalar per element, or split the vector into real and imaginary parts"),
                );
                None
            }
            2 => match parts[1].parse::<usize>() {
                Ok(n) if (1..=1 << 20).contains(&n) => Some((vec![value; n], true, None)),
                _ => bad(self, "the length of a vector must be a positive integer"),
            },
            _ => bad(self, "too many values in parentheses"),
        }
    }

    // ---- nodes ---------------------------------------------------------------------------

    fn node(
        &mut self,
        file: &Path,
        name: &str,
        span: Span,
        body: &YNode,
        parent: Option<&Node>,
    ) -> Node {
        let mut failed = parent.map(|p| p.failed.clone()).unwrap_or_default();
        let mut operators: Vec<OpUse> = match parent {
            Some(p) => p
                .operators
                .iter()
                .map(|u| OpUse {
                    op: u.op.clone(),
                    overrides: u.overrides.clone(),
                    span: u.span,
                })
                .collect(),
            None => Vec::new(),
        };
        if let Some(ops) = body.get("operators") {
            operators.clear();
            failed.clear();
            let entries: Vec<(YNode, Option<YNode>)> = match &ops.value {
                Value::Str(_) => vec![(ops.clone(), None)],
                Value::Seq(items) => items.iter().map(|i| (i.clone(), None)).collect(),
                Value::Map(m) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect(),
                Value::Null => Vec::new(),
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "`operators` must be a list of operator templates, found {}",
                            ops.kind()
                        ))
                        .with_primary(ops.span, "here")
                        .with_help("write e.g. `operators: [rpo_e, pro]`"),
                    );
                    Vec::new()
                }
            };
            for (r, overrides) in entries {
                let Some(reference) = r.as_str() else {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "expected an operator template name, found {}",
                            r.kind()
                        ))
                        .with_primary(r.span, "here")
                        .with_help(
                            "write the operator template's name, e.g. `operators: [rpo_e, pro]`",
                        ),
                    );
                    continue;
                };
                let Some(t) = self.resolve(reference, Some(file), r.span) else {
                    failed.push(
                        reference
                            .rsplit(['.', '/'])
                            .next()
                            .unwrap_or(reference)
                            .to_string(),
                    );
                    continue;
                };
                let Template::Operator(op) = t else {
                    failed.push(
                        reference
                            .rsplit(['.', '/'])
                            .next()
                            .unwrap_or(reference)
                            .to_string(),
                    );
                    self.diags.push(
                        Diagnostic::error(format!(
                            "`{}` is {}, not an operator template",
                            shown(reference),
                            t.kind().article()
                        ))
                        .with_primary(r.span, "expected an OperatorTemplate")
                        .with_help("a node lists operator templates (`base: OperatorTemplate`)"),
                    );
                    continue;
                };
                if let Some(prev) = operators.iter().find(|u| u.op.name == op.name) {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "operator `{}` appears twice in node `{name}`",
                            op.name
                        ))
                        .with_primary(r.span, "second use")
                        .with_secondary(prev.span, "first use")
.with_help("each operator may appear once per node; inherit it under another name to use it twice"),
                    );
                    continue;
                }
                let mut over = IndexMap::new();
                if let Some(ov) = overrides {
                    match &ov.value {
                        Value::Null => {}
                        Value::Map(m) => {
                            for (k, v) in m {
                                let Some(var) = self.var_name(k) else {
                                    continue;
                                };
                                if !op.variables.contains_key(&var) {
                                    let d = Diagnostic::error(format!(
                                        "operator `{}` has no variable `{var}`",
                                        op.name
                                    ))
                                    .with_primary(k.span, "not declared by the operator")
                                    .with_suggestion_as(
                                        &var,
                                        op.variables.keys().map(String::as_str),
                                        |s| format!("`{s}`"),
                                        None,
                                    );
                                    self.diags.push(d);
                                    continue;
                                }
                                if let Some(decl) = self.var_decl(&var, k.span, v) {
                                    over.insert(var, decl);
                                }
                            }
                        }
                        _ => self.diags.push(
                            Diagnostic::error(format!(
                                "values for operator `{}` must be a mapping, found {}",
                                op.name,
                                ov.kind()
                            ))
                            .with_primary(ov.span, "here")
                            .with_help("write e.g. `operators: {my_op: {tau: 2.0}}`"),
                        ),
                    }
                }
                operators.push(OpUse {
                    op,
                    overrides: over,
                    span: r.span,
                });
            }
        }
        Node {
            name: name.to_string(),
            span,
            operators,
            failed,
        }
    }

    // ---- circuits ------------------------------------------------------------------------

    fn circuit(
        &mut self,
        file: &Path,
        name: &str,
        span: Span,
        body: &YNode,
        parent: Option<&Circuit>,
    ) -> Circuit {
        let mut nodes = parent.map(|p| p.nodes.clone()).unwrap_or_default();
        let mut circuits = parent.map(|p| p.circuits.clone()).unwrap_or_default();
        let mut edges = parent.map(|p| p.edges.clone()).unwrap_or_default();
        let mut failed = parent.map(|p| p.failed.clone()).unwrap_or_default();
        let description = body
            .get("description")
            .and_then(YNode::as_str)
            .map(str::to_string);
        for (field, want) in [("nodes", Kind::Node), ("circuits", Kind::Circuit)] {
            let Some(entries) = body.get(field) else {
                continue;
            };
            let pairs = match &entries.value {
                Value::Map(m) => m.clone(),
                Value::Null => Vec::new(),
                _ => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "`{field}` must map labels to templates, found {}",
                            entries.kind()
                        ))
                        .with_primary(entries.span, "here")
                        .with_help(format!("e.g. `{field}: {{p: my_template}}`")),
                    );
                    continue;
                }
            };
            for (k, v) in pairs {
                let Some(label) = k.key_text() else { continue };
                if !is_identifier(&label) {
                    self.diags.push(
                        Diagnostic::error(format!("invalid label `{}`", shown(&label)))
                            .with_primary(k.span, "not a valid name")
                            .with_help("labels start with a letter or `_` and contain only letters, digits and `_`"),
                    );
                    continue;
                }
                let Some(reference) = v.as_str() else {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "the template of `{label}` must be a name, found {}",
                            v.kind()
                        ))
                        .with_primary(v.span, "here")
                        .with_help(format!("write e.g. `{label}: my_node`")),
                    );
                    continue;
                };
                let Some(t) = self.resolve(reference, Some(file), v.span) else {
                    failed.push(label);
                    continue;
                };
                match (t, want) {
                    (Template::Node(n), Kind::Node) => {
                        nodes.insert(label, (n, v.span));
                    }
                    (Template::Circuit(c), Kind::Circuit) => {
                        circuits.insert(label, (c, v.span));
                    }
                    (t, _) => {
                        failed.push(label.clone());
                        self.diags.push(
                            Diagnostic::error(format!(
                                "`{}` is {}, but `{field}` needs {}s",
                                shown(reference),
                                t.kind().article(),
                                want.class()
                            ))
                            .with_primary(v.span, format!("expected a {}", want.class()))
                            .with_help(format!("`{field}` maps labels to {}s", want.class())),
                        );
                    }
                }
            }
        }
        if !nodes.is_empty() && !circuits.is_empty() {
            self.diags.push(
                Diagnostic::error(format!("circuit `{name}` has both `nodes` and `circuits`"))
                    .with_primary(span, "use one of them")
                    .with_help("a circuit contains either nodes or sub-circuits; wrap the nodes in a circuit of their own"),
            );
        }
        for label in nodes.keys() {
            if circuits.contains_key(label) {
                self.diags.push(
                    Diagnostic::error(format!("label `{label}` is used twice in circuit `{name}`"))
                        .with_primary(span, "here")
                        .with_help("nodes and sub-circuits need distinct labels"),
                );
            }
        }
        if let Some(list) = body.get("edges") {
            match &list.value {
                Value::Seq(items) => {
                    for item in items {
                        if let Some(e) = self.edge(file, item) {
                            edges.push(Rc::new(e));
                        }
                    }
                }
                Value::Null => {}
                _ => self.diags.push(
                    Diagnostic::error(format!("`edges` must be a list, found {}", list.kind()))
                        .with_primary(list.span, "here")
                        .with_help("e.g. `edges: [[p/op/r, p/op/r_in, null, {weight: 15.0}]]`"),
                ),
            }
        }
        let history = match body.get("history") {
            Some(h) => match h.as_str().map(str::trim) {
                Some("zero") => Some((rateforge_ir::History::Zero, h.span)),
                Some("initial") => Some((rateforge_ir::History::Initial, h.span)),
                _ => {
                    self.diags.push(
                        Diagnostic::error("`history` must be `zero` or `initial`")
                            .with_primary(h.span, "unknown history")
                            .with_help("`initial` (the default): delayed values before the start equal the initial value; `zero`: they are 0, as in PyRates"),
                    );
                    None
                }
            },
            None => parent.and_then(|p| p.history),
        };
        let network = match body.get("network") {
            Some(n) => self.network(file, n).map(Rc::new),
            None => parent.and_then(|p| p.network.clone()),
        };
        if let Some(net) = &network
            && (!nodes.is_empty() || !circuits.is_empty() || !edges.is_empty())
        {
            self.diags.push(
                Diagnostic::error(format!("circuit `{name}` has a `network` and also nodes, circuits or edges"))
                    .with_primary(net.span, "network")
                    .with_help("a network replicates one node template (`network: {node: ...}`); put the node's structure in that template"),
            );
        }
        Circuit {
            name: name.to_string(),
            history,
            network,
            failed,
            description,
            nodes,
            circuits,
            edges,
        }
    }

    // ---- networks ------------------------------------------------------------------------

    /// Wraps `top` in a network with the couplings of the command line (replacing the couplings
    /// of a network model).
    pub fn with_couplings(&mut self, top: Template, texts: &[String]) -> Option<Template> {
        let couplings: Vec<CouplingDecl> = texts
            .iter()
            .enumerate()
            .filter_map(|(k, t)| self.cli_coupling(k, t))
            .collect();
        if couplings.len() != texts.len() {
            return None;
        }
        let (name, node, connectivity, speed, span, description, bold) = match &top {
            Template::Circuit(c) => match &c.network {
                Some(net) => (
                    c.name.clone(),
                    net.node.clone(),
                    net.connectivity.clone(),
                    net.speed,
                    net.span,
                    c.description.clone(),
                    net.bold.clone(),
                ),
                None => (
                    c.name.clone(),
                    (top.clone(), Span::UNDEFINED),
                    None,
                    (1.0, Span::UNDEFINED),
                    Span::UNDEFINED,
                    c.description.clone(),
                    None,
                ),
            },
            Template::Node(n) => (
                n.name.clone(),
                (top.clone(), n.span),
                None,
                (1.0, Span::UNDEFINED),
                Span::UNDEFINED,
                None,
                None,
            ),
            Template::Operator(_) | Template::Edge(_) => return Some(top),
        };
        let history = match &top {
            Template::Circuit(c) => c.history,
            _ => None,
        };
        let network = NetworkDecl {
            node,
            connectivity,
            speed,
            couplings,
            bold,
            span,
        };
        Some(Template::Circuit(Rc::new(Circuit {
            name,
            history,
            network: Some(Rc::new(network)),
            failed: Vec::new(),
            description,
            nodes: IndexMap::new(),
            circuits: IndexMap::new(),
            edges: Vec::new(),
        })))
    }

    /// `SOURCE->TARGET[:FUNCTION][:NAME=VALUE]...`, with `pre=EXPR` and `post=EXPR` for `custom`.
    fn cli_coupling(&mut self, k: usize, text: &str) -> Option<CouplingDecl> {
        let file = self.sources.add(format!("<--coupling {}>", k + 1), text);
        let at = |a: usize, b: usize| Span::new(file, a..b);
        let whole = at(0, text.len());
        let help = "write `--coupling SOURCE->TARGET[:FUNCTION][:NAME=VALUE]...`, e.g. `op/r->op/c_r:linear:a=20`";
        let Some(arrow) = text.find("->") else {
            self.diags.push(
                Diagnostic::error("a coupling needs `SOURCE->TARGET`")
                    .with_primary(whole, "no `->`")
                    .with_help(help),
            );
            return None;
        };
        let source = (text[..arrow].trim().to_string(), at(0, arrow));
        let mut parts: Vec<(usize, &str)> = Vec::new();
        let mut start = arrow + 2;
        for piece in text[arrow + 2..].split(':') {
            parts.push((start, piece));
            start += piece.len() + 1;
        }
        let (t0, tgt) = parts[0];
        let target = (tgt.trim().to_string(), at(t0, t0 + tgt.len()));
        let mut function = ("linear".to_string(), whole);
        let (mut params, mut pre, mut post) = (IndexMap::new(), None, None);
        for (i, &(off, piece)) in parts.iter().enumerate().skip(1) {
            match piece.split_once('=') {
                None if i == 1 => function = (piece.trim().to_string(), at(off, off + piece.len())),
                None => {
                    self.diags.push(
                        Diagnostic::error(format!("`{piece}` is not `NAME=VALUE`"))
                            .with_primary(at(off, off + piece.len()), "here")
                            .with_help(help),
                    );
                    return None;
                }
                Some((name, value)) => {
                    let name = name.trim();
                    let voff = off + piece.find('=').unwrap_or(0) + 1;
                    let vspan = at(voff, voff + value.len());
                    match name {
                        "pre" | "post" => {
                            let ast = parse_expression(value, &Origin::exact(file, voff))
                                .map_err(|d| self.diags.push(d))
                                .ok()?;
                            if name == "pre" {
                                pre = Some(ast)
                            } else {
                                post = Some(ast)
                            }
                        }
                        _ => match value.trim().parse::<f64>() {
                            Ok(x) if x.is_finite() && is_identifier(name) => {
                                params.insert(name.to_string(), (x, vspan));
                            }
                            _ => {
                                self.diags.push(
                                    Diagnostic::error(format!("coupling parameter `{name}` needs a number, found `{value}`"))
                                        .with_primary(vspan, "not a number")
                                        .with_help(help),
                                );
                                return None;
                            }
                        },
                    }
                }
            }
        }
        Some(CouplingDecl {
            source,
            target,
            function,
            params,
            pre,
            post,
            span: whole,
        })
    }

    /// `network: {node, connectivity, speed, couplings, bold}`.
    fn network(&mut self, file: &Path, n: &YNode) -> Option<NetworkDecl> {
        const KEYS: [&str; 5] = ["node", "connectivity", "speed", "couplings", "bold"];
        let Some(map) = n.as_map() else {
            self.diags.push(
                Diagnostic::error(format!("`network` must be a mapping, found {}", n.kind()))
                    .with_primary(n.span, "here")
                    .with_help("e.g. `network: {node: my_node, connectivity: connectivity_68.zip, speed: 2.0, couplings: [...]}`"),
            );
            return None;
        };
        for (k, _) in map {
            let key = k.key_text().unwrap_or_default();
            if !KEYS.contains(&key.as_str()) {
                let mut d =
                    Diagnostic::error(format!("unknown field `{}` in `network`", shown(&key)))
                        .with_primary(k.span, "not a network field");
                d = d.with_suggestion(
                    &key,
                    KEYS,
                    "a network has `node`, `connectivity`, `speed`, `couplings` and `bold`",
                );
                self.diags.push(d);
            }
        }
        let Some(node_ref) = n.get("node") else {
            self.diags.push(
                Diagnostic::error("`network` has no `node`")
                    .with_primary(n.span, "which template is replicated at every node?")
                    .with_help("add `node: my_node` naming a NodeTemplate or CircuitTemplate"),
            );
            return None;
        };
        let node = match node_ref.as_str() {
            Some(r) => match self.resolve(r, Some(file), node_ref.span)? {
                t @ (Template::Node(_) | Template::Circuit(_)) => (t, node_ref.span),
                other => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "the network node `{}` is {}",
                            shown(r),
                            other.kind().article()
                        ))
                        .with_primary(node_ref.span, "expected a NodeTemplate or CircuitTemplate")
                        .with_help("put the operators in a node template and name that"),
                    );
                    return None;
                }
            },
            None => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "`node` must be a template name, found {}",
                        node_ref.kind()
                    ))
                    .with_primary(node_ref.span, "here")
                    .with_help("e.g. `node: mpr_node`"),
                );
                return None;
            }
        };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let connectivity = n
            .get("connectivity")
            .and_then(|c| self.connectivity(&dir, c));
        let speed = match n.get("speed") {
            None => (1.0, n.span),
            Some(s) => match s.as_f64() {
                Some(v) if v.is_finite() && v > 0.0 => (v, s.span),
                _ => {
                    self.diags.push(
                        Diagnostic::error("the conduction `speed` must be a positive number")
                            .with_primary(s.span, "not a positive number")
                            .with_help("tract lengths are divided by the speed to get delays, e.g. `speed: 2.0` (mm/ms)"),
                    );
                    (1.0, s.span)
                }
            },
        };
        let mut couplings = Vec::new();
        match n.get("couplings").map(|c| &c.value) {
            None | Some(Value::Null) => {}
            Some(Value::Seq(items)) => {
                for item in items {
                    if let Some(c) = self.coupling(item) {
                        couplings.push(c);
                    }
                }
            }
            Some(_) => {
                let c = n.get("couplings").expect("present");
                self.diags.push(
                    Diagnostic::error(format!("`couplings` must be a list, found {}", c.kind()))
                        .with_primary(c.span, "here")
                        .with_help("e.g. `couplings: [{source: op/r, target: op/c, function: linear, a: 0.1}]`"),
                );
            }
        }
        let bold = n.get("bold").and_then(|b| self.bold(b));
        Some(NetworkDecl {
            node,
            connectivity,
            speed,
            couplings,
            bold,
            span: n.span,
        })
    }

    /// `bold: {driver: op/x, tr: 0.72, ...}` as entries (checked when the model is lowered).
    fn bold(&mut self, b: &YNode) -> Option<(Vec<crate::observe::Entry>, Span)> {
        let Some(map) = b.as_map() else {
            self.diags.push(
                Diagnostic::error(format!("`bold` must be a mapping, found {}", b.kind()))
                    .with_primary(b.span, "here")
                    .with_help("e.g. `bold: {driver: rww_op/S, tr: 0.72, fcd_window: 44}`"),
            );
            return None;
        };
        let mut entries = Vec::new();
        for (k, v) in map {
            let (Some(key), Some(text)) = (k.key_text(), v.key_text()) else {
                self.diags.push(
                    Diagnostic::error(format!(
                        "a `bold` field is a name and a value, found {}",
                        v.kind()
                    ))
                    .with_primary(v.span, "not a number, name or boolean")
                    .with_help("e.g. `tr: 0.72` or `driver: rww_op/S`"),
                );
                continue;
            };
            entries.push(crate::observe::Entry {
                key,
                key_span: k.span,
                text,
                span: v.span,
            });
        }
        Some((entries, b.span))
    }

    fn connectivity(&mut self, dir: &Path, c: &YNode) -> Option<ConnectivitySource> {
        let path = |this: &mut Self, n: &YNode| -> Option<PathBuf> {
            match n.as_str() {
                Some(s) => {
                    let p = Path::new(s.trim());
                    Some(relative_to_cwd(&if p.is_absolute() {
                        p.to_path_buf()
                    } else {
                        dir.join(p)
                    }))
                }
                None => {
                    this.diags.push(
                        Diagnostic::error(format!(
                            "a connectivity file must be a path, found {}",
                            n.kind()
                        ))
                        .with_primary(n.span, "here")
                        .with_help("paths are relative to the model file"),
                    );
                    None
                }
            }
        };
        match &c.value {
            Value::Str(_) => Some(ConnectivitySource {
                weights: path(self, c)?,
                tract_lengths: None,
                delays: None,
                span: c.span,
            }),
            Value::Map(entries) => {
                for (k, _) in entries {
                    let key = k.key_text().unwrap_or_default();
                    if !matches!(key.as_str(), "weights" | "tract_lengths" | "delays") {
                        self.diags.push(
                            Diagnostic::error(format!("unknown field `{}` in `connectivity`", shown(&key)))
                                .with_primary(k.span, "not a connectivity field")
                                .with_help("a connectivity has `weights` and either `tract_lengths` or `delays`"),
                        );
                    }
                }
                let Some(w) = c.get("weights") else {
                    self.diags.push(
                        Diagnostic::error("`connectivity` has no `weights`")
                            .with_primary(c.span, "here")
                            .with_help(
                                "e.g. `connectivity: {weights: w.npy, tract_lengths: l.npy}`",
                            ),
                    );
                    return None;
                };
                let weights = path(self, w)?;
                let tract_lengths = match c.get("tract_lengths") {
                    Some(t) => Some(path(self, t)?),
                    None => None,
                };
                let delays = match c.get("delays") {
                    Some(t) => Some(path(self, t)?),
                    None => None,
                };
                if tract_lengths.is_some() && delays.is_some() {
                    self.diags.push(
                        Diagnostic::error("give either `tract_lengths` or `delays`, not both")
                            .with_primary(c.span, "here")
                            .with_help(
                                "tract lengths are divided by the speed; delays are in time units",
                            ),
                    );
                }
                Some(ConnectivitySource {
                    weights,
                    tract_lengths,
                    delays,
                    span: c.span,
                })
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(format!("`connectivity` must be a path or a mapping, found {}", c.kind()))
                        .with_primary(c.span, "here")
                        .with_help("a TVB connectivity zip, a directory with weights and tract lengths, or `{weights: ..., tract_lengths: ...}`"),
                );
                None
            }
        }
    }

    /// `{source, target, function, <parameters>, pre, post}`.
    fn coupling(&mut self, item: &YNode) -> Option<CouplingDecl> {
        let Some(map) = item.as_map() else {
            self.diags.push(
                Diagnostic::error(format!(
                    "a coupling must be a mapping, found {}",
                    item.kind()
                ))
                .with_primary(item.span, "here")
                .with_help("e.g. `{source: op/r, target: op/c_r, function: linear, a: 20.0}`"),
            );
            return None;
        };
        let text = |this: &mut Self, key: &str| -> Option<(String, Span)> {
            match item.get(key) {
                Some(n) => match n.as_str() {
                    Some(s) => Some((s.trim().to_string(), n.span)),
                    None => {
                        this.diags.push(
                            Diagnostic::error(format!(
                                "coupling `{key}` must be text, found {}",
                                n.kind()
                            ))
                            .with_primary(n.span, "here")
                            .with_help("paths look like `operator/variable` inside the node"),
                        );
                        None
                    }
                },
                None => {
                    this.diags.push(
                        Diagnostic::error(format!("a coupling needs a `{key}`"))
                            .with_primary(item.span, format!("no `{key}`"))
                            .with_help(
                                "e.g. `{source: op/r, target: op/c_r, function: linear, a: 20.0}`",
                            ),
                    );
                    None
                }
            }
        };
        let source = text(self, "source");
        let target = text(self, "target");
        let function = match item.get("function") {
            Some(_) => text(self, "function"),
            None => Some(("linear".to_string(), item.span)),
        };
        let mut params = IndexMap::new();
        let (mut pre, mut post) = (None, None);
        for (k, v) in map {
            let key = k.key_text().unwrap_or_default();
            match key.as_str() {
                "source" | "target" | "function" => {}
                "pre" => pre = self.expr_of(v),
                "post" => post = self.expr_of(v),
                _ if is_identifier(&key) => match v.as_f64() {
                    Some(x) if x.is_finite() => {
                        params.insert(key, (x, v.span));
                    }
                    _ => self.diags.push(
                        Diagnostic::error(format!("coupling parameter `{key}` must be a number, found {}", v.kind()))
                            .with_primary(v.span, "not a number")
                            .with_help("coupling parameters are numbers, e.g. `a: 20.0`"),
                    ),
                },
                _ => self.diags.push(
                    Diagnostic::error(format!("invalid coupling parameter name `{}`", shown(&key)))
                        .with_primary(k.span, "not a valid name")
                        .with_help("names start with a letter or `_` and contain only letters, digits and `_`"),
                ),
            }
        }
        Some(CouplingDecl {
            source: source?,
            target: target?,
            function: function?,
            params,
            pre,
            post,
            span: item.span,
        })
    }

    fn edge(&mut self, file: &Path, item: &YNode) -> Option<EdgeDecl> {
        let (src, tgt, tpl, attrs) = self.edge_entries(item)?;
        let path = |this: &mut Self, n: &YNode, what: &str| -> Option<(String, Span)> {
            match n.as_str() {
                Some(s) => Some((s.trim().to_string(), n.span)),
                None => {
                    this.diags.push(
                        Diagnostic::error(format!(
                            "edge {what} must be a variable path such as `node/op/var`, found {}",
                            n.kind()
                        ))
                        .with_primary(n.span, "here")
                        .with_help("write the path as a string, e.g. `pc/pro/m`"),
                    );
                    None
                }
            }
        };
        let source = path(self, &src, "source");
        let target = path(self, &tgt, "target");
        let template = self.edge_template(file, tpl.as_ref());
        let EdgeAttrs {
            weight,
            delay,
            spread,
            attrs: attrs_out,
        } = self.edge_attributes(item, attrs.as_ref(), template.is_some());
        if let (Some((_, s)), None) = (spread, delay) {
            self.diags.push(
                Diagnostic::error("an edge with a `spread` needs a `delay`")
                    .with_primary(s, "spread without a mean delay")
                    .with_help(
                        "`spread` is the standard deviation of a distributed delay around `delay`",
                    ),
            );
        }
        Some(EdgeDecl {
            source: source?,
            target: target?,
            template,
            weight,
            delay,
            spread,
            attrs: attrs_out,
            span: item.span,
        })
    }

    /// The entries of an edge: `[source, target, template, attributes]` (the template or the
    /// attributes may be left out) or a mapping with those keys.
    #[allow(clippy::type_complexity)]
    fn edge_entries(
        &mut self,
        item: &YNode,
    ) -> Option<(YNode, YNode, Option<YNode>, Option<YNode>)> {
        let help = "an edge is `[source, target, template or null, {weight: w}]`";
        let entries = match &item.value {
            Value::Seq(parts) if parts.len() == 4 => (
                parts[0].clone(),
                parts[1].clone(),
                Some(parts[2].clone()),
                Some(parts[3].clone()),
            ),
            Value::Seq(parts) if parts.len() == 3 => {
                if parts[2].as_map().is_some() {
                    (
                        parts[0].clone(),
                        parts[1].clone(),
                        None,
                        Some(parts[2].clone()),
                    )
                } else {
                    (
                        parts[0].clone(),
                        parts[1].clone(),
                        Some(parts[2].clone()),
                        None,
                    )
                }
            }
            Value::Seq(parts) if parts.len() == 2 => {
                (parts[0].clone(), parts[1].clone(), None, None)
            }
            Value::Map(_) => {
                let Some(s) = item.get("source") else {
                    self.diags.push(
                        Diagnostic::error("edge has no `source`")
                            .with_primary(item.span, "here")
                            .with_help(help),
                    );
                    return None;
                };
                let Some(t) = item.get("target") else {
                    self.diags.push(
                        Diagnostic::error("edge has no `target`")
                            .with_primary(item.span, "here")
                            .with_help(help),
                    );
                    return None;
                };
                for (k, _) in item.as_map().unwrap_or(&[]) {
                    let key = k.key_text().unwrap_or_default();
                    if !matches!(key.as_str(), "source" | "target" | "template" | "variables") {
                        self.diags.push(
                            Diagnostic::error(format!("unknown field `{}` in edge", shown(&key)))
                                .with_primary(k.span, "not an edge field")
                                .with_help("an edge mapping has `source`, `target`, `template` and `variables`"),
                        );
                    }
                }
                (
                    s.clone(),
                    t.clone(),
                    item.get("template").cloned(),
                    item.get("variables").cloned(),
                )
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "cannot read edge: expected a list of 4 entries, found {}",
                        item.kind()
                    ))
                    .with_primary(item.span, "here")
                    .with_help(help),
                );
                return None;
            }
        };
        Some(entries)
    }

    /// The edge template an edge names (`None` for null, an empty template, or an error).
    fn edge_template(&mut self, file: &Path, tpl: Option<&YNode>) -> Option<(Template, Span)> {
        let mut template = None;
        if let Some(t) = tpl {
            match &t.value {
                Value::Null => {}
                Value::Str(s)
                    if s.trim().is_empty() || s.trim() == "null" || s.trim() == "None" => {}
                Value::Str(s) => match self.resolve(s, Some(file), t.span) {
                    Some(Template::Edge(e)) if e.operators.is_empty() => {}
                    Some(t2 @ Template::Edge(_)) => template = Some((t2, t.span)),
                    Some(other) => self.diags.push(
                        Diagnostic::error(format!(
                            "`{}` is {}, not an edge template",
                            shown(s),
                            other.kind().article()
                        ))
                        .with_primary(t.span, "expected an EdgeTemplate or null")
                        .with_help("the third entry of an edge is an EdgeTemplate or `null`"),
                    ),
                    None => {}
                },
                _ => self.diags.push(
                    Diagnostic::error(format!(
                        "the edge template must be a name or null, found {}",
                        t.kind()
                    ))
                    .with_primary(t.span, "here")
                    .with_help("the third entry of an edge is an EdgeTemplate name or `null`"),
                ),
            }
        }
        template
    }

    /// An edge's weight (default 1), delay and spread, and for an edge with a template its other
    /// attributes (`op/var: value`).
    fn edge_attributes(
        &mut self,
        item: &YNode,
        attrs: Option<&YNode>,
        templated: bool,
    ) -> EdgeAttrs {
        let mut weight = (1.0, item.span);
        let mut attrs_out = Vec::new();
        let (mut delay, mut spread) = (None, None);
        if let Some(a) = attrs {
            match &a.value {
                Value::Null => {}
                Value::Map(m) => {
                    for (k, v) in m {
                        let key = k.key_text().unwrap_or_default();
                        let number = |this: &mut Self| -> Option<f64> {
                            let x = v
                                .as_f64()
                                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
                            match x {
                                Some(x) if x.is_finite() => Some(x),
                                _ => {
                                    this.diags.push(
                                        Diagnostic::error(format!(
                                            "edge `{key}` must be a number, found {}",
                                            v.kind()
                                        ))
                                        .with_primary(v.span, "not a number")
                                        .with_help(format!("e.g. `{{{key}: 1.0}}`")),
                                    );
                                    None
                                }
                            }
                        };
                        match key.as_str() {
                            "weight" => {
                                if let Some(w) = number(self) {
                                    weight = (w, v.span);
                                }
                            }
                            "delay" if matches!(v.value, Value::Null) => {}
                            "delay" => {
                                if let Some(d) = number(self) {
                                    if d < 0.0 {
                                        self.diags.push(
                                            Diagnostic::error(format!(
                                                "edge delay must not be negative, found {d}"
                                            ))
                                            .with_primary(v.span, "negative delay")
                                            .with_help("a delay is a time in the model's time unit, 0 or more"),
                                        );
                                    } else if d > 0.0 {
                                        delay = Some((d, v.span));
                                    }
                                }
                            }
                            "spread" if matches!(v.value, Value::Null) => {}
                            "spread" => {
                                if let Some(s) = number(self)
                                    && s != 0.0
                                {
                                    spread = Some((s, v.span));
                                }
                            }
                            _ if templated => attrs_out.push((key.clone(), v.clone(), k.span)),
                            _ => {
                                let mut d = Diagnostic::error(format!(
                                    "unknown edge attribute `{}`",
                                    shown(&key)
                                ))
                                .with_primary(k.span, "not an edge attribute");
                                d = d.with_suggestion(
                                    &key,
                                    ["weight", "delay", "spread"],
                                    "edges without a template take `weight`, `delay` and `spread`",
                                );
                                self.diags.push(d);
                            }
                        }
                    }
                }
                _ => self.diags.push(
                    Diagnostic::error(format!(
                        "edge attributes must be a mapping, found {}",
                        a.kind()
                    ))
                    .with_primary(a.span, "here")
                    .with_help("e.g. `{weight: 1.0}`"),
                ),
            }
        }
        EdgeAttrs {
            weight,
            delay,
            spread,
            attrs: attrs_out,
        }
    }
}

/// What [`Loader::edge_attributes`] reads.
struct EdgeAttrs {
    weight: (f64, Span),
    delay: Option<(f64, Span)>,
    spread: Option<(f64, Span)>,
    attrs: Vec<(String, YNode, Span)>,
}

/// `path` relative to the current directory when it lies inside it (without touching the file
/// system, so missing files are shown as written).
fn relative_to_cwd(path: &Path) -> PathBuf {
    if let Ok(cwd) = std::env::current_dir().and_then(|c| c.canonicalize())
        && let Ok(rel) = path.strip_prefix(&cwd)
    {
        return rel.to_path_buf();
    }
    path.to_path_buf()
}

/// The path relative to the current directory when it is inside it, else as given.
use crate::pretty_path;

impl EqKind {
    /// Word for messages.
    pub(crate) fn word(self) -> &'static str {
        match self {
            EqKind::Differential => "differential equation",
            EqKind::Algebraic => "algebraic equation",
        }
    }
}

/// A real declaration without bounds or noise.
fn plain_decl(
    kind: VarKind,
    values: Vec<f64>,
    vector: bool,
    name_span: Span,
    value_span: Span,
) -> VarDecl {
    VarDecl {
        kind,
        values,
        vector,
        imag: None,
        unit: None,
        name_span,
        value_span,
        bounds: None,
        noise: None,
    }
}

/// A complex number as Python writes it: `1j`, `-0.8j`, `0.5+0.1j`, `(0.5-1e-3j)`, `2.5e+2J`
/// (no spaces); `None` for anything else or a part that is not finite.
pub(crate) fn parse_complex(text: &str) -> Option<(f64, f64)> {
    let t = text
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(text);
    let body = t.strip_suffix(['j', 'J'])?;
    // The imaginary part starts at the last sign that is not leading and not an exponent's.
    let bytes = body.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&i| matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    let (re, im) = split.map_or(("", body), |i| body.split_at(i));
    let number = |s: &str| s.parse::<f64>().ok().filter(|x| x.is_finite());
    let re = if re.is_empty() { 0.0 } else { number(re)? };
    let im = match im {
        "" | "+" => 1.0,
        "-" => -1.0,
        s => number(s)?,
    };
    Some((re, im))
}

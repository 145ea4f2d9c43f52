//! No input makes the front end panic: mutated model files and random equations either load or
//! fail with diagnostics. (Deterministic: a fixed-seed xorshift generator.)

use rateforge_front::equation::{Origin, parse_equation, parse_expression};
use rateforge_front::pyrates::{LoadOptions, load};
use rateforge_front::rateml;
use rateforge_ir::SourceMap;
use std::path::{Path, PathBuf};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

const SNIPPETS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "\n",
    "  ",
    "\"",
    "'",
    "*",
    "&a",
    "*a",
    "base: ",
    "null",
    "1e999",
    "-",
    "d/dt * ",
    "x'",
    "^",
    "**",
    "=",
    "==",
    "<",
    "input(",
    "output(0.0)",
    "variable(1, 3)",
    "{default: }",
    "é",
    "\t",
    "a[9]",
    "a[1:0]",
    "max(",
    "sigmoid(x, y)",
    "#",
    "%YAML 1.2\n",
    "---\n",
    "p/op/x",
    "[1, 2, 3]",
];

const XML_SNIPPETS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</Dynamics>",
    "</ComponentType>",
    "&lt;",
    "&amp;",
    "&",
    "\"",
    "'",
    "=",
    "<Case condition=\"x1 &lt; 0\" value=\"1\"/>",
    "<Case value=\"1\"/>",
    "<TimeDerivative variable=\"dQ\" value=\"1\"/>",
    "<StateVariable name=\"Q\" dimension=\"1, 0\" exposure=\"2, 1\"/>",
    "<Parameter name=\"x1_j\" dimension=\"7\"/>",
    "<DerivedParameter name=\"rec_speed_dt\" value=\"x1\"/>",
    "<ComponentType name=\"noise\"/>",
    "<ComponentType name=\"coupling_x\"><DerivedParameter name=\"c9\" value=\"x1\"/></ComponentType>",
    "<Dynamics>",
    "{",
    "}",
    "^",
    ".gt.",
    " ? ",
    ":",
    "1.0f",
    "None",
    "inf",
    "dimension=\"\"",
    "é",
    "\n",
    "<!--",
    "-->",
    "<![CDATA[",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    mutate_with(text, rng, SNIPPETS)
}

fn mutate_with(text: &str, rng: &mut Rng, snippets: &[&str]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(4) {
            0 if !s.is_empty() => {
                let end = (at + 1 + rng.below(12)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let snip = snippets[rng.below(snippets.len())];
                for (k, c) in snip.chars().enumerate() {
                    s.insert((at + k).min(s.len()), c);
                }
            }
            2 if s.len() > 2 => {
                let (i, j) = (at.min(s.len() - 1), rng.below(s.len()));
                s.swap(i, j);
            }
            _ => s.truncate(at),
        }
    }
    s.into_iter().collect()
}

#[test]
fn mutated_model_files_never_panic() {
    let sources: Vec<PathBuf> = [
        "examples/models/jansen_rit.yaml",
        "examples/models/montbrio.yaml",
        "tests/models/valid/features.yaml",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    let dir = std::env::temp_dir().join(format!("rateforge-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // RATEFORGE_FUZZ_ROUNDS / RATEFORGE_FUZZ_SEED run a longer campaign by hand.
    let rounds: usize = std::env::var("RATEFORGE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let seed: u64 = std::env::var("RATEFORGE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed | 1);
    let mut outcomes = [0usize; 2];
    for round in 0..rounds {
        let src = &sources[round % sources.len()];
        let text = mutate(&std::fs::read_to_string(src).unwrap(), &mut rng);
        let file = dir.join(format!("m{round}.yaml"));
        std::fs::write(&file, &text).unwrap();
        let reference = file.display().to_string();
        let result = std::panic::catch_unwind(|| match load(&reference, &LoadOptions::default()) {
            Ok(l) => rateforge_ir::validate(l.model).is_ok(),
            Err(f) => {
                // Every error renders.
                let _ = f.diagnostics.render(&f.sources);
                assert!(f.diagnostics.has_errors());
                false
            }
        });
        match result {
            Ok(ok) => outcomes[usize::from(ok)] += 1,
            Err(_) => panic!(
                "the front end panicked on mutant {round} of {}:\n{text}",
                src.display()
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        outcomes[0] > 100,
        "most mutants should be rejected: {outcomes:?}"
    );
}

#[test]
fn mutated_xml_files_never_panic() {
    let sources: Vec<PathBuf> = [
        "examples/models/networks/mpr68.xml",
        "tests/models/valid/rateml_style.xml",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    let dir = std::env::temp_dir().join(format!("rateforge-xml-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rounds: usize = std::env::var("RATEFORGE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut outcomes = [0usize; 2];
    for round in 0..rounds {
        let src = &sources[round % sources.len()];
        let text = mutate_with(
            &std::fs::read_to_string(src).unwrap(),
            &mut rng,
            XML_SNIPPETS,
        );
        let file = dir.join(format!("m{round}.xml"));
        std::fs::write(&file, &text).unwrap();
        let result = std::panic::catch_unwind(|| match rateml::load(&file) {
            Ok(l) => rateforge_ir::validate(l.model).is_ok(),
            Err(f) => {
                let _ = f.diagnostics.render(&f.sources);
                assert!(f.diagnostics.has_errors());
                false
            }
        });
        match result {
            Ok(ok) => outcomes[usize::from(ok)] += 1,
            Err(_) => panic!(
                "the XML front end panicked on mutant {round} of {}:\n{text}",
                src.display()
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        outcomes[0] > 100 && outcomes[1] > 100,
        "mutants should both load and fail: {outcomes:?}"
    );
}

#[test]
fn random_equations_never_panic() {
    const TOKENS: &[&str] = &[
        "x", "y", "tau", "1", "2.5", ".5", "1e-3", "+", "-", "*", "/", "^", "**", "(", ")", "[",
        "]", ":", ",", "=", "'", "d/dt", "exp(", "max(", "<", ">=", "==", "!=", " ", "t", "pi",
        "é", "\"", "\n", "3.", "e", "_a1", "{", "}", ".gt.", ".and.", "&&", "||", "?", "1.0f", ".",
        "f",
    ];
    let mut rng = Rng(42);
    let mut sources = SourceMap::new();
    for _ in 0..20_000 {
        let n = 1 + rng.below(14);
        let text: String = (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        let file = sources.add("e", text.clone());
        let origin = Origin::exact(file, 0);
        let r = std::panic::catch_unwind(|| {
            let _ = parse_equation(&text, &origin).map_err(|d| d.render(&SourceMap::new()));
            let _ = parse_expression(&text, &origin);
        });
        assert!(r.is_ok(), "parser panicked on {text:?}");
    }
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    let mut sources = SourceMap::new();
    let deep = format!("x' = {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let file = sources.add("e", deep.clone());
    let d = parse_equation(&deep, &Origin::exact(file, 0)).unwrap_err();
    assert!(d.message.contains("nested too deeply"), "{}", d.message);
    // Long flat chains are fine: they are not deep.
    let long = format!("x' = {}", vec!["x"; 5000].join(" + "));
    let file = sources.add("e", long.clone());
    assert!(parse_equation(&long, &Origin::exact(file, 0)).is_ok());
}

//! The model library: the standard brain-network models, each written twice from the published
//! equations (PyRates-style YAML and RateML XML, `examples/models/library/`), with TVB's default
//! parameters. Both forms give identical trajectories (tested); the files are compiled into the
//! binary so `rateforge models --write DIR` works anywhere.

/// One model of the library.
#[derive(Clone, Copy, Debug)]
pub struct LibraryModel {
    /// The file stem and the YAML circuit template: `kuramoto` → `kuramoto.yaml/kuramoto`.
    pub name: &'static str,
    /// One line: the model, its paper, its states and coupling.
    pub title: &'static str,
    /// The YAML file's text.
    pub yaml: &'static str,
    /// The XML file's text.
    pub xml: &'static str,
}

macro_rules! model {
    ($name:literal, $title:literal) => {
        LibraryModel {
            name: $name,
            title: $title,
            yaml: include_str!(concat!("../../../examples/models/library/", $name, ".yaml")),
            xml: include_str!(concat!("../../../examples/models/library/", $name, ".xml")),
        }
    };
}

/// The library, in the order `rateforge models` lists it.
pub const MODELS: &[LibraryModel] = &[
    model!(
        "montbrio_pazo_roxin",
        "Montbrió–Pazó–Roxin QIF mean field (Montbrió et al. 2015), r and V, linear coupling of r and V"
    ),
    model!(
        "kuramoto",
        "Kuramoto phase oscillators (Kuramoto 1975; Cabral et al. 2011), sin(theta_j - theta) coupling"
    ),
    model!(
        "generic_2d_oscillator",
        "generic 2D oscillator (Sanz-Leon et al. 2015), V and W, linear coupling of V"
    ),
    model!(
        "reduced_wong_wang",
        "reduced Wong–Wang (Wong & Wang 2006; Deco et al. 2013), S in [0, 1], linear coupling of S"
    ),
    model!(
        "wong_wang_exc_inh",
        "Wong–Wang excitatory–inhibitory (Deco et al. 2014), S_e and S_i, linear coupling of S_e"
    ),
    model!(
        "epileptor",
        "Epileptor, 6 states (Jirsa et al. 2014), difference coupling of x1"
    ),
    model!(
        "jansen_rit",
        "Jansen–Rit cortical column (Jansen & Rit 1995), 6 states, sigmoidal coupling of y1 - y2"
    ),
    model!(
        "wilson_cowan",
        "Wilson–Cowan E–I populations (Wilson & Cowan 1972), E and I, linear coupling of E"
    ),
    model!(
        "stuart_landau",
        "Stuart–Landau / supercritical Hopf normal form (Deco et al. 2017), x and y, linear coupling"
    ),
    model!(
        "fitzhugh_nagumo",
        "FitzHugh–Nagumo (FitzHugh 1961; Nagumo et al. 1962), V and W, linear coupling of V"
    ),
    model!(
        "larter_breakspear",
        "Larter–Breakspear (Larter et al. 1999; Breakspear et al. 2003), V, W, Z, coupling of V"
    ),
];

/// The library model called `name`.
pub fn find(name: &str) -> Option<&'static LibraryModel> {
    MODELS.iter().find(|m| m.name == name)
}

//! Loads a model and prints it (a development aid): `cargo run -p rateforge-front --example load -- MODEL`.
fn main() {
    let reference = std::env::args().nth(1).expect("usage: load MODEL");
    match rateforge_front::pyrates::load(&reference, &Default::default()) {
        Ok(l) => {
            eprint!("{}", l.warnings.render(&l.sources));
            match rateforge_ir::validate(l.model) {
                Ok(v) => print!("{}", rateforge_ir::print::model(&v)),
                Err(d) => eprint!("{}", d.render(&l.sources)),
            }
        }
        Err(f) => eprint!("{}", f.diagnostics.render(&f.sources)),
    }
}

//! A generated crate carries a copy of this crate with `rateforge_rt::DEPENDENCIES` as its
//! dependencies: they must be the versions the workspace builds and tests with.

#[test]
fn the_dependencies_of_a_copy_are_the_workspace_versions() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let section = manifest
        .split("[workspace.dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let own = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let mut checked = 0;
    let deps = rateforge_rt::DEPENDENCIES
        .split("[features]")
        .next()
        .unwrap();
    for line in deps.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split('=').next().unwrap().trim();
        let optional = line.contains(", optional = true");
        let line = line.replace(", optional = true }", " }");
        assert!(
            own.contains(&format!("\n{name}.workspace = true"))
                || (optional
                    && own.contains(&format!(
                        "\n{name} = {{ workspace = true, optional = true }}"
                    ))),
            "`{name}` is not a dependency of rateforge-rt"
        );
        let theirs = section
            .lines()
            .find(|l| l.split('=').next().unwrap().trim() == name)
            .unwrap_or_else(|| panic!("`{name}` is not a workspace dependency"));
        assert_eq!(line.trim(), theirs.trim(), "the version of `{name}`");
        assert!(!optional || rateforge_rt::DEPENDENCIES.contains(&format!("\"dep:{name}\"")));
        checked += 1;
    }
    // Every dependency of rateforge-rt but rateforge-kernel (a path dependency in the copy).
    let deps = own
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.contains("workspace = true") && !l.starts_with("rateforge-kernel"))
        .count();
    assert_eq!(checked, deps);
}

//! The layers' dependency rules, as the manifests state them: the compiler then holds
//! every `use` to them. The domain knows no runtime, AWS or HTTP; the use cases know no
//! AWS or HTTP; no production crate depends on the development crate.

use std::collections::BTreeSet;

use dev::kit::repo_root;

/// The crates a manifest's `[dependencies]` names (dev-dependencies left out).
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join(manifest)).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    text.lines()
        .skip_while(|line| line.trim() != "[dependencies]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split(['.', '=', ' ']).next())
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn production_manifests() -> Vec<String> {
    let mut manifests: Vec<String> =
        ["domain", "app", "aws", "edge"].iter().map(|c| format!("crates/{c}/Cargo.toml")).collect();
    for entry in std::fs::read_dir(repo_root().join("functions")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        manifests.push(format!("functions/{name}/Cargo.toml"));
    }
    manifests
}

#[test]
fn the_domain_knows_no_runtime_aws_or_http_and_the_use_cases_no_aws_or_http() {
    let outside = |name: &str| {
        name.starts_with("aws")
            || name.starts_with("lambda")
            || ["hyper", "http", "tokio", "serde_dynamo", "edge", "app"].contains(&name)
    };
    let domain = dependencies("crates/domain/Cargo.toml");
    assert!(!domain.is_empty());
    assert!(domain.iter().all(|d| !outside(d)), "the domain depends on {domain:?}");
    let app = dependencies("crates/app/Cargo.toml");
    assert!(app.contains("domain"));
    let allowed_runtime = |name: &str| name == "tokio" || name == "app";
    assert!(app.iter().all(|d| !outside(d) || allowed_runtime(d)), "the use cases depend on {app:?}");
    let aws = dependencies("crates/aws/Cargo.toml");
    assert!(!aws.contains("edge") && !aws.iter().any(|d| d.starts_with("lambda")), "the adapters depend on {aws:?}");
}

#[test]
fn no_production_crate_depends_on_the_development_crate() {
    for manifest in production_manifests() {
        let dependencies = dependencies(&manifest);
        assert!(!dependencies.is_empty(), "{manifest} has dependencies");
        assert!(!dependencies.contains("dev"), "{manifest} depends on dev");
    }
}

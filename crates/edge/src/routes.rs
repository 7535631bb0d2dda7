//! The REST API's routes, as `template.yaml` and `openapi.yaml` declare them (a test in
//! the dev crate holds the three together): what a preflight answers for a path, and
//! what the local stack serves.

/// Method and resource of every route a function serves; every resource's `OPTIONS`
/// is the preflight function's.
pub const REST_ROUTES: &[(&str, &str)] = &[
    ("GET", "/requests"),
    ("POST", "/requests"),
    ("OPTIONS", "/requests"),
    ("GET", "/requests/{id}"),
    ("PATCH", "/requests/{id}"),
    ("DELETE", "/requests/{id}"),
    ("OPTIONS", "/requests/{id}"),
    ("GET", "/chats/{id}/requests"),
    ("OPTIONS", "/chats/{id}/requests"),
    ("POST", "/chats/{id}/requests/decisions"),
    ("OPTIONS", "/chats/{id}/requests/decisions"),
    ("GET", "/events"),
    ("OPTIONS", "/events"),
    ("GET", "/chats/{id}/questions"),
    ("PUT", "/chats/{id}/questions"),
    ("OPTIONS", "/chats/{id}/questions"),
    ("GET", "/chats/{id}/blocks"),
    ("OPTIONS", "/chats/{id}/blocks"),
    ("PUT", "/chats/{id}/blocks/{user}"),
    ("DELETE", "/chats/{id}/blocks/{user}"),
    ("OPTIONS", "/chats/{id}/blocks/{user}"),
];

/// The resource a concrete path falls under, as API Gateway matches it (one segment
/// per `{name}`, none empty), with the values of its parameters as they stand.
pub fn resource_of(path: &str) -> Option<(&'static str, Vec<(&'static str, &str)>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut resources: Vec<&'static str> = REST_ROUTES.iter().map(|(_, resource)| *resource).collect();
    resources.dedup();
    resources.into_iter().find_map(|resource| {
        let template: Vec<&'static str> = resource.split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut parameters = Vec::new();
        for (expected, actual) in template.iter().zip(&segments) {
            match expected.strip_prefix('{').and_then(|name| name.strip_suffix('}')) {
                Some(name) if !actual.is_empty() => parameters.push((name, *actual)),
                Some(_) => return None,
                None if expected == actual => {}
                None => return None,
            }
        }
        Some((resource, parameters))
    })
}

/// The methods of `resource` a call may use (its preflight aside), in alphabetical
/// order: what an `Allow` header and a preflight's `Access-Control-Allow-Methods` list.
pub fn methods_of(resource: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = REST_ROUTES
        .iter()
        .filter(|(method, r)| *r == resource && *method != "OPTIONS")
        .map(|(method, _)| *method)
        .collect();
    methods.sort_unstable();
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_falls_under_its_resource_and_lists_its_methods() {
        let (resource, parameters) = resource_of("/requests/65d000000000000000000001").unwrap();
        assert_eq!((resource, parameters), ("/requests/{id}", vec![("id", "65d000000000000000000001")]));
        assert_eq!(methods_of(resource), ["DELETE", "GET", "PATCH"]);
        assert_eq!(resource_of("/chats/x/requests/decisions").map(|r| r.0), Some("/chats/{id}/requests/decisions"));
        assert_eq!(resource_of("/requests/").map(|r| r.0), Some("/requests"), "a trailing slash is the same path");
        assert!(resource_of("/nowhere").is_none() && resource_of("/chats//requests").is_none());
    }
}

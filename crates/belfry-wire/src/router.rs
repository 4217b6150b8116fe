//! Matching a request against the operation table, on the raw path: the path is split on `/`
//! first and each segment percent-decoded afterwards, so ARNs sent with `%2F` stay one label.
//! A request no implemented operation takes is then matched against the operations Belfry
//! does not implement (`ops_unimplemented`), so those can never shadow an implemented one.

use http::Method;
use percent_encoding::percent_decode_str;

use crate::ops::{Route, ROUTES};
use crate::ops_unimplemented::UNIMPLEMENTED;

/// Query keys whose literal value selects an operation.
const DISPATCH_KEYS: &[&str] = &["scope", "operation"];

/// A matched route with its decoded path labels.
#[derive(Debug)]
pub struct Matched {
    /// The route.
    pub route: &'static Route,
    /// `(label name, decoded value)`.
    pub labels: Vec<(&'static str, String)>,
}

/// Why no route matched.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRoute {
    /// No path template matches (or a segment is not valid percent-encoded UTF-8).
    UnknownPath,
    /// The path exists, but not with this method.
    MethodNotAllowed,
    /// The path and method exist, but the `scope`/`operation` value selects nothing.
    UnknownOperation(String),
    /// An AWS operation, by name, that Belfry does not implement.
    NotImplemented(&'static str),
}

/// What the matcher needs of a table line: its method, path template and literal selector.
type Pattern<'t> = (
    &'t Method,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// Decodes one path segment or query component. `+` stays `+`: SDKs never encode a space so.
pub fn decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Parses a raw query string into decoded pairs, in order.
pub fn parse_query(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

fn label_name(part: &str) -> Option<&str> {
    part.strip_prefix('{').and_then(|p| p.strip_suffix('}'))
}

/// Whether `template` has as many segments as the path and the same literal ones; checked
/// before anything is decoded, since most routes fail here.
fn same_shape(template: &str, segments: &[&str]) -> bool {
    let mut parts = template.trim_start_matches('/').split('/');
    for seg in segments {
        match parts.next() {
            Some(part) if label_name(part).is_some() || part == *seg => {}
            _ => return false,
        }
    }
    parts.next().is_none()
}

/// The decoded labels of a path of the template's shape; `None` if one is not valid
/// percent-encoded UTF-8 or is empty.
fn labels(template: &'static str, segments: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let mut labels = Vec::new();
    for (part, seg) in template.trim_start_matches('/').split('/').zip(segments) {
        if let Some(name) = label_name(part) {
            let value = decode(seg)?;
            if value.is_empty() {
                return None;
            }
            labels.push((name, value));
        }
    }
    Some(labels)
}

/// `(label name, decoded value)` pairs.
type Labels = Vec<(&'static str, String)>;

fn match_path(template: &'static str, segments: &[&str]) -> Option<Labels> {
    if !same_shape(template, segments) {
        return None;
    }
    labels(template, segments)
}

/// Finds the operation for `method`, the raw path and the decoded query.
pub fn find(
    method: &Method,
    raw_path: &str,
    query: &[(String, String)],
) -> Result<Matched, NoRoute> {
    let segments: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    let missed = match find_in(
        ROUTES,
        |r| (&r.method, r.path, r.literal),
        method,
        &segments,
        query,
    ) {
        Ok((route, labels)) => return Ok(Matched { route, labels }),
        Err(e) => e,
    };
    match find_in(
        UNIMPLEMENTED,
        |u| (&u.method, u.path, u.literal),
        method,
        &segments,
        query,
    ) {
        Ok((line, _)) => Err(NoRoute::NotImplemented(line.name)),
        // The more precise of the two misses: a path either table knows.
        Err(other) if missed == NoRoute::UnknownPath => Err(other),
        Err(_) => Err(missed),
    }
}

/// Finds the line of `table` for a request.
fn find_in<'t, L>(
    table: &'t [L],
    pattern: impl Fn(&'t L) -> Pattern<'t>,
    method: &Method,
    segments: &[&str],
    query: &[(String, String)],
) -> Result<(&'t L, Labels), NoRoute> {
    let mut path_known = false;
    let mut plain = None;
    for line in table {
        let (line_method, path, literal) = pattern(line);
        let Some(labels) = match_path(path, segments) else {
            continue;
        };
        path_known = true;
        if line_method != method {
            continue;
        }
        match literal {
            Some((k, v)) => {
                if query.iter().any(|(qk, qv)| qk == k && qv == v) {
                    return Ok((line, labels));
                }
            }
            None => {
                if plain.is_none() {
                    plain = Some((line, labels));
                }
            }
        }
    }
    // A dispatch key with a value no route knows must not fall through to the plain route.
    if let Some((k, v)) = query
        .iter()
        .find(|(k, _)| DISPATCH_KEYS.contains(&k.as_str()))
    {
        if path_known {
            return Err(NoRoute::UnknownOperation(format!("{k}={v}")));
        }
    }
    match plain {
        Some(m) => Ok(m),
        None if path_known => Err(NoRoute::MethodNotAllowed),
        None => Err(NoRoute::UnknownPath),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn encoded_arns_stay_one_label() {
        let arn = "arn%3Aaws%3Achime%3Aus-east-1%3A000000000000%3Aapp-instance%2Fa%2Fchannel%2Fc";
        let m = find(&Method::GET, &format!("/channels/{arn}"), &[]).unwrap();
        assert_eq!(m.route.op, Op::DescribeChannel);
        assert_eq!(
            m.labels[0].1,
            "arn:aws:chime:us-east-1:000000000000:app-instance/a/channel/c"
        );
    }

    type Case<'a> = (
        Method,
        &'a str,
        &'a [(&'a str, &'a str)],
        Result<Op, NoRoute>,
    );

    #[test]
    fn literal_query_dispatch() {
        let cases: &[Case] = &[
            (
                Method::POST,
                "/tags",
                &[("operation", "tag-resource")],
                Ok(Op::TagResource),
            ),
            (
                Method::POST,
                "/tags",
                &[("x", "1"), ("operation", "untag-resource")],
                Ok(Op::UntagResource),
            ),
            (
                Method::GET,
                "/tags",
                &[("arn", "a")],
                Ok(Op::ListTagsForResource),
            ),
            (Method::POST, "/tags", &[], Err(NoRoute::MethodNotAllowed)),
            (
                Method::GET,
                "/channels",
                &[("scope", "nope")],
                Err(NoRoute::UnknownOperation("scope=nope".into())),
            ),
            (Method::GET, "/channels", &[], Ok(Op::ListChannels)),
            // An operation Belfry lacks, beside implemented ones on the same path.
            (
                Method::POST,
                "/channels",
                &[("operation", "search")],
                Err(NoRoute::NotImplemented("SearchChannels")),
            ),
            (Method::POST, "/channels", &[], Ok(Op::CreateChannel)),
            (
                Method::GET,
                "/channels/c/messages/m",
                &[("scope", "message-status")],
                Err(NoRoute::NotImplemented("GetChannelMessageStatus")),
            ),
            (
                Method::GET,
                "/channels/c/messages/m",
                &[],
                Ok(Op::GetChannelMessage),
            ),
            (
                Method::PATCH,
                "/channel-flows",
                &[],
                Err(NoRoute::MethodNotAllowed),
            ),
            (Method::GET, "/nothing", &[], Err(NoRoute::UnknownPath)),
            (
                Method::PATCH,
                "/channels",
                &[],
                Err(NoRoute::MethodNotAllowed),
            ),
        ];
        for (method, path, query, want) in cases {
            let got = find(method, path, &q(query)).map(|m| m.route.op);
            assert_eq!(&got, want, "{method} {path} {query:?}");
        }
    }

    #[test]
    fn query_decoding_keeps_plus() {
        assert_eq!(
            parse_query("a=x+y&b=%2B&c").unwrap(),
            q(&[("a", "x+y"), ("b", "+"), ("c", "")])
        );
        assert!(parse_query("a=%FF").is_none());
    }

    mod props {
        use super::super::*;
        use crate::error::ApiError;
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        use proptest::prelude::*;
        use proptest::sample::select;

        fn encode(s: &str) -> String {
            utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
        }

        /// Raw segment text: percent-encodings valid or not, and the characters a path holds.
        fn raw_segment() -> impl Strategy<Value = String> {
            "(%[0-9A-Fa-f]{0,2}|%[C-F][0-9A-F]%[0-9A-F]{2}|[A-Za-z0-9:._~+-])*"
        }

        /// A path: a route's template (implemented or not) with each label an encoded string (kept to check it
        /// decodes back) or raw text, sometimes with a segment more; or any path at all.
        fn path() -> impl Strategy<Value = (String, Vec<Option<String>>)> {
            let label = prop_oneof![
                "\\PC{1,30}".prop_map(Some),
                raw_segment().prop_map(|_| None),
            ];
            let templated = (
                select(
                    ROUTES
                        .iter()
                        .map(|r| r.path)
                        .chain(UNIMPLEMENTED.iter().map(|u| u.path))
                        .collect::<Vec<_>>(),
                ),
                prop::collection::vec((label, raw_segment()), 8),
                any::<bool>(),
            )
                .prop_map(|(template, labels, extra)| {
                    let mut path = String::new();
                    let mut decoded = Vec::new();
                    for (part, (label, raw)) in
                        template.trim_start_matches('/').split('/').zip(labels)
                    {
                        path.push('/');
                        if label_name(part).is_none() {
                            path.push_str(part);
                        } else if let Some(l) = label {
                            path.push_str(&encode(&l));
                            decoded.push(Some(l));
                        } else {
                            path.push_str(&raw);
                            decoded.push(None);
                        }
                    }
                    if extra {
                        path.push_str("/x");
                    }
                    (path, decoded)
                });
            prop_oneof![
                3 => templated,
                1 => "\\PC{0,60}".prop_map(|p| (p, Vec::new())),
            ]
        }

        fn query() -> impl Strategy<Value = String> {
            let key = prop_oneof![
                select(vec![
                    "scope",
                    "operation",
                    "max-results",
                    "next-token",
                    "arn"
                ]),
                Just("x"),
            ];
            let value = prop_oneof![
                select(vec![
                    "app-instance-user-memberships",
                    "app-instance-user-moderated-channels",
                    "batch-create",
                    "tag-resource",
                    "untag-resource",
                    "search",
                    "message-status",
                    "channel-flow-callback",
                    "channel-flow-associations",
                ])
                .prop_map(str::to_string),
                raw_segment(),
            ];
            let piece = prop_oneof![
                (key, value).prop_map(|(k, v)| format!("{k}={v}")),
                "[^&]{0,20}",
            ];
            prop::collection::vec(piece, 0..4).prop_map(|p| p.join("&"))
        }

        fn method() -> impl Strategy<Value = Method> {
            select(vec![
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
                Method::HEAD,
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_request_routes_or_is_an_unknown_operation(
                method in method(),
                (path, labels) in path(),
                raw_query in query(),
            ) {
                let Some(query) = parse_query(&raw_query) else {
                    // The dispatcher answers a 400 for this; nothing to route.
                    return Ok(());
                };
                match find(&method, &path, &query) {
                    Ok(m) => {
                        prop_assert!(m.labels.iter().all(|(_, v)| !v.is_empty()));
                        let known = labels.iter().zip(&m.labels);
                        for (want, (_, got)) in known {
                            if let Some(want) = want {
                                prop_assert_eq!(want, got);
                            }
                        }
                        match m.route.literal {
                            Some((k, v)) => prop_assert!(
                                query.iter().any(|(qk, qv)| qk == k && qv == v)
                            ),
                            // A dispatch value never falls through to the plain route.
                            None => prop_assert!(
                                !query.iter().any(|(k, _)| DISPATCH_KEYS.contains(&k.as_str()))
                            ),
                        }
                    }
                    Err(NoRoute::NotImplemented(name)) => {
                        let line = UNIMPLEMENTED.iter().find(|u| u.name == name);
                        prop_assert!(line.is_some_and(|u| u.method == method));
                        let r = ApiError::NotImplemented(name).render();
                        prop_assert_eq!(
                            (r.status.as_u16(), r.error_type),
                            (501, "NotImplementedException")
                        );
                    }
                    Err(e) => {
                        // As the dispatcher maps them.
                        let what = match e {
                            NoRoute::UnknownOperation(what) => what,
                            NoRoute::NotImplemented(_) => unreachable!("matched above"),
                            NoRoute::UnknownPath | NoRoute::MethodNotAllowed => {
                                format!("{method} {path}")
                            }
                        };
                        let r = ApiError::UnknownOperation(what).render();
                        prop_assert_eq!(
                            (r.status.as_u16(), r.error_type),
                            (404, "UnknownOperationException")
                        );
                        prop_assert!(r.message.len() <= 100, "{}", r.message);
                    }
                }
            }

            #[test]
            fn queries_decode_to_what_was_encoded(
                pairs in prop::collection::vec(("\\PC{0,12}", "\\PC{0,12}"), 0..5),
                noise in "\\PC{0,40}",
            ) {
                let raw: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                let got = parse_query(&raw.join("&")).unwrap();
                prop_assert_eq!(got, pairs);
                // Anything else parses or is refused, without a panic.
                let _ = parse_query(&noise);
            }
        }
    }
}

//! `Router`: dispatch on method and path pattern.

use std::fmt;

use super::server::Handler;
use super::{Request, Response};

enum Segment {
    Literal(String),
    Param(String),
    /// Matches the rest of the path (zero or more segments).
    Rest(String),
}

struct Route {
    method: String,
    pattern: String,
    segments: Vec<Segment>,
    handler: Box<dyn Handler>,
}

impl Route {
    /// The parameters, if the route's pattern matches `path`.
    fn matches(&self, path: &[String]) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => {
                    if path.get(i) != Some(l) {
                        return None;
                    }
                }
                Segment::Param(name) => params.push((name.clone(), path.get(i)?.clone())),
                Segment::Rest(name) => {
                    params.push((name.clone(), path[i.min(path.len())..].join("/")));
                    return Some(params);
                }
            }
            i += 1;
        }
        (i == path.len()).then_some(params)
    }
}

/// Routes requests by method and path pattern to handlers: the first
/// route whose pattern matches wins. In a pattern, `:name` matches one
/// path segment and `*name` the rest of the path; both are available to
/// the handler through [`Request::param`], percent-decoded.
///
/// A path that some route matches with another method is answered
/// `405 Method Not Allowed` (with `Allow`), any other `404` (or the
/// [`fallback`](Self::fallback)). A `HEAD` request is served by the `GET`
/// route, without the body.
///
/// # Examples
///
/// ```
/// use zgreen::http::{Request, Response, Router, Handler};
///
/// let router = Router::new()
///     .get("/", |_: &Request| Response::text("index"))
///     .post("/put/:room/:uid", |req: &Request| {
///         Response::text(format!("{} in {}", req.param("uid").unwrap(), req.param("room").unwrap()))
///     });
/// let peer = "127.0.0.1:1".parse().unwrap();
/// let reply = router.handle(&Request::new("POST", "/put/topic1/bob", peer));
/// assert_eq!(reply.body_bytes(), Some(&b"bob in topic1"[..]));
/// assert_eq!(router.handle(&Request::new("GET", "/put/topic1/bob", peer)).status(), 405);
/// assert_eq!(router.handle(&Request::new("GET", "/nope", peer)).status(), 404);
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    fallback: Option<Box<dyn Handler>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| format!("{} {}", r.method, r.pattern)))
            .finish()
    }
}

impl Router {
    /// An empty router (everything is `404`).
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a route for `method` (`"*"` for any method) and `pattern`.
    pub fn route(mut self, method: &str, pattern: &str, handler: impl Handler) -> Router {
        let segments = pattern
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if let Some(name) = s.strip_prefix(':') {
                    Segment::Param(name.to_string())
                } else if let Some(name) = s.strip_prefix('*') {
                    Segment::Rest(name.to_string())
                } else {
                    Segment::Literal(s.to_string())
                }
            })
            .collect();
        self.routes.push(Route {
            method: method.to_ascii_uppercase(),
            pattern: pattern.to_string(),
            segments,
            handler: Box::new(handler),
        });
        self
    }

    /// Adds a `GET` (and `HEAD`) route.
    pub fn get(self, pattern: &str, handler: impl Handler) -> Router {
        self.route("GET", pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post(self, pattern: &str, handler: impl Handler) -> Router {
        self.route("POST", pattern, handler)
    }

    /// Serves requests that no route matches (instead of `404`).
    pub fn fallback(mut self, handler: impl Handler) -> Router {
        self.fallback = Some(Box::new(handler));
        self
    }
}

impl Handler for Router {
    fn handle(&self, req: &Request) -> Response {
        let path = req.segments();
        let mut allowed: Vec<&str> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.matches(&path) else {
                continue;
            };
            let method_ok = route.method == "*"
                || route.method == req.method()
                || (req.method() == "HEAD" && route.method == "GET");
            if method_ok {
                *req.params.borrow_mut() = params;
                return route.handler.handle(req);
            }
            if !allowed.contains(&route.method.as_str()) {
                allowed.push(&route.method);
            }
        }
        if !allowed.is_empty() {
            if allowed.contains(&"GET") {
                allowed.push("HEAD");
            }
            return Response::error(405).with_header("Allow", &allowed.join(", "));
        }
        match &self.fallback {
            Some(h) => h.handle(req),
            None => Response::not_found(),
        }
    }
}

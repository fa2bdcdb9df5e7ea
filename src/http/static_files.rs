//! `StaticDir`: files of a directory over HTTP.

use std::path::{Component, Path, PathBuf};

use super::server::Handler;
use super::{Request, Response};

/// Serves the files under a directory (`GET` and `HEAD`). Mount it on a
/// route whose pattern ends in `*path` (the file is the `path`
/// parameter), or on its own (the request's path is the file).
///
/// Paths with `..`, hidden names (`.x`) or that name a directory without
/// an `index.html` are `404`. Files are read on the thread pool, so a
/// slow disk does not stall the hub. The content type comes from the
/// extension.
///
/// ```no_run
/// use zgreen::http::{HttpServer, Router, StaticDir};
///
/// let router = Router::new().get("/static/*path", StaticDir::new("examples/static"));
/// HttpServer::bind("127.0.0.1:8000", router).unwrap().serve_forever().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct StaticDir {
    root: PathBuf,
}

impl StaticDir {
    /// Serves the files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> StaticDir {
        StaticDir { root: root.into() }
    }

    /// The file a relative request path names, if it is a safe one.
    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        let mut path = self.root.clone();
        for comp in Path::new(rel).components() {
            match comp {
                Component::Normal(name) if !name.to_string_lossy().starts_with('.') => path.push(name),
                Component::CurDir => {}
                _ => return None,
            }
        }
        Some(path)
    }
}

impl Handler for StaticDir {
    fn handle(&self, req: &Request) -> Response {
        if req.method() != "GET" && req.method() != "HEAD" {
            return Response::error(405).with_header("Allow", "GET, HEAD");
        }
        let rel = req.param("path").unwrap_or_else(|| req.segments().join("/"));
        let Some(mut path) = self.resolve(&rel) else {
            return Response::not_found();
        };
        let read = crate::threadpool::apply(move || {
            if path.is_dir() {
                path.push("index.html");
            }
            std::fs::read(&path).map(|bytes| (path, bytes))
        });
        match read {
            Ok(Ok((path, bytes))) => Response::bytes(content_type(&path), bytes),
            _ => Response::not_found(),
        }
    }
}

/// The media type of a file, from its extension.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_safe_paths_only() {
        let d = StaticDir::new("/srv");
        assert_eq!(d.resolve("a/b.js"), Some(PathBuf::from("/srv/a/b.js")));
        assert_eq!(d.resolve(""), Some(PathBuf::from("/srv")));
        assert_eq!(d.resolve("../etc/passwd"), None);
        assert_eq!(d.resolve("a/../../x"), None);
        assert_eq!(d.resolve("/etc/passwd"), None);
        assert_eq!(d.resolve(".git/config"), None);
        assert_eq!(content_type(Path::new("x.HTML")), "text/html; charset=utf-8");
    }
}

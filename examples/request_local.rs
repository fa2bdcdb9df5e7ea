//! The seed's request-local example: Flask-style request objects kept in
//! greenlet-local storage (gevent's `local` behind werkzeug's
//! `LocalProxy`), so deep code can reach "the current request" without
//! passing it down. Each connection has its own greenlet, so concurrent
//! requests never see each other's.
//!
//! An address given as the first argument replaces `127.0.0.1:8000`.

#[path = "common/hubs.rs"]
mod hubs;

use std::rc::Rc;

use zgreen::http::{HttpServer, Request, Response};
use zgreen::local::Local;

/// `_requests = local()`
static REQUESTS: Local<Rc<Request>> = Local::new();

/// `request = LocalProxy(lambda: _requests.request)`
fn request() -> Rc<Request> {
    REQUESTS.get().expect("called outside of a request")
}

/// `with sessionmanager(environ):` — the request is current until the
/// guard is dropped.
struct SessionManager;

impl SessionManager {
    fn enter(request: &Request) -> SessionManager {
        let copy = Request::new(request.method(), request.path(), request.remote_addr());
        REQUESTS.set(Rc::new(copy));
        SessionManager
    }
}

impl Drop for SessionManager {
    fn drop(&mut self) {
        REQUESTS.take();
    }
}

fn logic() -> String {
    format!("Hello {}", request().remote_addr().ip())
}

fn application(environ: &Request) -> Response {
    let body = {
        let _session = SessionManager::enter(environ);
        logic()
    };

    Response::html(body)
}

/// zgreen's server does the same for every handler: `zgreen::http::request()`
/// is the built-in proxy.
fn builtin(_: &Request) -> Response {
    let request = zgreen::http::request().expect("inside a handler");
    Response::html(format!(
        "Hello {} from {}",
        request.remote_addr().ip(),
        request.path()
    ))
}

/// The two routes.
fn router() -> zgreen::http::Router {
    zgreen::http::Router::new()
        .get("/", application)
        .get("/builtin", builtin)
}

fn main() -> zgreen::Result<()> {
    hubs::run("127.0.0.1:8000", "Serving on http://{}/", server_on)
}

/// The server of one hub (with `--threads N`): the two routes.
fn server_on(listener: zgreen::net::TcpListener) -> zgreen::Result<HttpServer> {
    HttpServer::from_listener(listener, router())
}

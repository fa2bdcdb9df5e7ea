//! Request-scoped state: the request being handled, reachable from any
//! code the handler calls (the seed's `LocalProxy` over a gevent
//! `local`), built on [`Local`](crate::local::Local).

use std::rc::Rc;

use super::Request;
use crate::local::Local;

static CURRENT: Local<Rc<Request>> = Local::new();

/// The request the current greenlet is handling (`None` outside a
/// handler). Each connection is served by its own greenlet, so
/// concurrent requests never see each other's.
///
/// ```
/// use zgreen::http::{Request, RequestScope, Response, request};
///
/// fn logic() -> String {
///     format!("Hello {}", request().unwrap().remote_addr().ip())
/// }
///
/// let req = Request::new("GET", "/", "10.0.0.7:5000".parse().unwrap());
/// let body = {
///     let _scope = RequestScope::enter(req);
///     logic()
/// };
/// assert_eq!(body, "Hello 10.0.0.7");
/// assert!(request().is_none());
/// ```
pub fn request() -> Option<Rc<Request>> {
    CURRENT.get()
}

/// Makes a request the current greenlet's [`request()`] until dropped
/// (the seed's `sessionmanager`). The server enters one around each
/// handler call and the streaming of its body; scopes nest.
#[derive(Debug)]
#[must_use = "the request is current only while the scope lives"]
pub struct RequestScope {
    request: Rc<Request>,
    previous: Option<Rc<Request>>,
}

impl RequestScope {
    /// Makes `request` current.
    pub fn enter(request: impl Into<Rc<Request>>) -> RequestScope {
        let request = request.into();
        let previous = CURRENT.set(request.clone());
        RequestScope { request, previous }
    }

    /// The request of this scope.
    pub fn request(&self) -> &Rc<Request> {
        &self.request
    }
}

impl Drop for RequestScope {
    fn drop(&mut self) {
        match self.previous.take() {
            Some(p) => {
                CURRENT.set(p);
            }
            None => {
                CURRENT.take();
            }
        }
    }
}

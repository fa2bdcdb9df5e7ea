"""Issue 7's gevent peer for the hello-world HTTP benchmark: gevent's
pywsgi serving the seed's WSGI application, answering like
examples/wsgi_server.rs (200, text/html, <p>Hello World</p>).

Usage: python gevent_hello.py [HOST:PORT]   (default 127.0.0.1:8002)
Prints "Serving on http://HOST:PORT/" once bound; runs until killed.
Access logging is off (log=None) because zgreen and hyper log nothing
per request either. TCP_NODELAY is set on the listening socket (accepted
sockets inherit it on Linux), as zgreen and the hyper peer set it: pywsgi
writes the head and the body of a response in separate sends, and with
Nagle's algorithm on, each response waits for the client's delayed ACK
(~40 ms). ZGREEN_GEVENT_NAGLE=1 leaves Nagle on, for the default figure.
"""
import os
import socket
import sys

from gevent.pywsgi import WSGIServer


def application(environ, start_response):
    status = '200 OK'
    body = b'<p>Hello World</p>'
    headers = [('Content-Type', 'text/html')]
    start_response(status, headers)
    return [body]


def main():
    address = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1:8002'
    host, port = address.rsplit(':', 1)
    server = WSGIServer((host, int(port)), application, log=None)
    server.init_socket()
    if os.environ.get('ZGREEN_GEVENT_NAGLE') != '1':
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print('Serving on http://%s:%d/' % server.address, flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()

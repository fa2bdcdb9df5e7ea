#!/usr/bin/env python3
"""zchat, and the seed's WebSocket page, in real browsers.

Starts a forwarder and two zchat servers (A and B), opens two headless
Chromium sessions through chromedriver, and checks, once per transport
(WebSocket, long polling), that a user on A and a user on B in the same
room see each other's messages as they are typed; then the same with
both users on a third server, C, serving on two hubs (`--threads 2`:
each connection lands on either hub). Then loads the
`websocket` example's page and checks that its random points arrive.
Saves screenshots of every page. Exits non-zero on any failure; its last
line is "browser: N passed, M failed".
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import traceback
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A forwarder and two zchat servers, and a third one on two hubs
    (urls[2]), killed on exit."""

    def __init__(self, zchat):
        fe = "tcp://127.0.0.1:%d" % free_port()
        be = "tcp://127.0.0.1:%d" % free_port()
        self.procs = []
        self.start([zchat, "forwarder", "--frontend", fe, "--backend", be])
        self.urls = []
        for sid in ["A", "B"]:
            p = self.start([zchat, "serve", "--http", "127.0.0.1:0", "--pub", fe, "--sub", be,
                            "--server-id", sid, "--poll-timeout-ms", "2000"])
            line = p.stdout.readline().strip()
            prefix = "zchat %s serving " % sid
            assert line.startswith(prefix), line
            self.urls.append(line[len(prefix):].rstrip("/"))
        p = self.start([zchat, "serve", "--http", "127.0.0.1:0", "--server-id", "C",
                        "--threads", "2", "--poll-timeout-ms", "2000"])
        line = p.stdout.readline().strip()
        assert line.startswith("zchat C serving "), line
        self.urls.append(line[len("zchat C serving "):].rstrip("/"))
        # Both directions of the backbone are up once each server has heard
        # the other's heartbeat.
        deadline = time.time() + WAIT_S
        for url, other in zip(self.urls, ["B", "A"]):
            while True:
                status = json.load(urllib.request.urlopen(url + "/api/status", timeout=5))
                if other in status["peers"]:
                    break
                assert time.time() < deadline, "backbone not up: %s" % status
                time.sleep(0.05)

    def start(self, args):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, RUST_LOG="warn"))
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def browser(chromium, chromedriver):
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=900,700"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def wait_connected(driver, transport):
    def connected(d):
        st = d.find_element(By.ID, "status")
        return st.get_attribute("data-state") == "open" and st.get_attribute("data-transport") == transport
    WebDriverWait(driver, WAIT_S).until(connected)


def say(driver, text):
    box = driver.find_element(By.ID, "message")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def wait_message(driver, uid, text):
    def shown(d):
        for li in d.find_elements(By.CSS_SELECTOR, "#messages li.msg"):
            if (li.find_element(By.CLASS_NAME, "uid").text == uid
                    and li.find_element(By.CLASS_NAME, "text").text == text):
                return True
        return False
    WebDriverWait(driver, WAIT_S).until(shown)


def conversation(urls, drivers, transport, room, artifacts, tag=""):
    """alice on urls[0] and bob on urls[1] talk in `room`."""
    (a_url, b_url), (alice, bob) = urls, drivers
    a_uid, b_uid = "alice_" + transport + tag, "bob_" + transport + tag
    alice.get("%s/%s/%s?transport=%s" % (a_url, room, a_uid, transport))
    bob.get("%s/%s/%s?transport=%s" % (b_url, room, b_uid, transport))
    wait_connected(alice, transport)
    wait_connected(bob, transport)
    # The session token is an HttpOnly, SameSite=Strict cookie: the
    # browser has it, the page's scripts do not.
    cookie = alice.get_cookie("zchat_" + a_uid)
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict", cookie
    assert "zchat_" not in alice.execute_script("return document.cookie"), "the token is visible to scripts"

    hello = "hello from A over %s" % transport
    say(alice, hello)
    wait_message(bob, a_uid, hello)
    wait_message(alice, a_uid, hello)

    reply = "hi from B over %s <b>not bold</b>" % transport
    say(bob, reply)
    wait_message(alice, b_uid, reply)
    wait_message(bob, b_uid, reply)
    # Text stays text: no element was injected.
    assert not alice.find_elements(By.CSS_SELECTOR, "#messages b"), "message HTML was rendered"

    for name, d in [("alice", alice), ("bob", bob)]:
        path = os.path.join(artifacts, "chat-%s%s-%s.png" % (transport, tag, name))
        d.save_screenshot(path)
        print("    screenshot %s" % path)


def websocket_example(example, driver, artifacts):
    """The seed's WebSocket page: connected, and listing points."""
    p = subprocess.Popen([example, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line.startswith("Serving on http://"), line
        driver.get(line[len("Serving on "):])
        WebDriverWait(driver, WAIT_S).until(
            lambda d: d.find_element(By.ID, "conn_status").text == "Connected")
        WebDriverWait(driver, WAIT_S).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#placeholder p")) >= 3)
        points = [json.loads(e.text) for e in driver.find_elements(By.CSS_SELECTOR, "#placeholder p")]
        assert [pt["x"] for pt in points[:3]] == [0, 1, 2], points
        assert all(1 <= pt["y"] <= 5 for pt in points), points
        path = os.path.join(artifacts, "websocket-example.png")
        driver.save_screenshot(path)
        print("    screenshot %s" % path)
    finally:
        p.terminate()
        p.wait(timeout=5)


def check(name, run, shots, artifacts):
    """Runs one browser check: prints `ok` or `FAILED` (with the
    traceback, and then saves a screenshot of each `(driver, file)` of
    `shots` into `artifacts`). True if it passed."""
    try:
        run()
    except Exception:
        print("FAILED  %s" % name)
        traceback.print_exc()
        for driver, file in shots:
            driver.save_screenshot(os.path.join(artifacts, file))
        return False
    print("ok      %s" % name)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zchat", required=True)
    ap.add_argument("--websocket-example", default=None)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--artifacts", default="target/browser-artifacts")
    args = ap.parse_args()
    os.makedirs(args.artifacts, exist_ok=True)

    results = []  # one bool a check: did it pass
    cluster = Cluster(args.zchat)
    drivers = []
    try:
        drivers = [browser(args.chromium, args.chromedriver) for _ in range(2)]
        a, b, c = cluster.urls
        for transport, room in [("ws", "topic1"), ("poll", "topic2")]:
            for name, urls, tag in [("two servers", (a, b), ""),
                                    ("one server on two hubs", (c, c), "_hubs")]:
                shots = [(d, "failed-%s%s-%d.png" % (transport, tag, i)) for i, d in enumerate(drivers)]
                results.append(check(
                    "two browsers on %s, %s" % (name, transport),
                    lambda: conversation(urls, drivers, transport, room, args.artifacts, tag),
                    shots,
                    args.artifacts,
                ))
        if args.websocket_example:
            results.append(check(
                "the websocket example's page",
                lambda: websocket_example(args.websocket_example, drivers[0], args.artifacts),
                [(drivers[0], "failed-websocket-example.png")],
                args.artifacts,
            ))
    finally:
        for d in drivers:
            d.quit()
        cluster.close()
    passed, failed = results.count(True), results.count(False)
    print("browser: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())

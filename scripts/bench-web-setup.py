#!/usr/bin/env python3
"""Signs coordinators in for `scripts/bench web`, as a browser does, and changes their one-time passwords.

Usage: scripts/bench-web-setup.py BASE_URL ACCOUNTS OUT

ACCOUNTS has one "USERNAME ONE_TIME_PASSWORD" line per coordinator. For each, through the pages
of `registry serve` at BASE_URL: GET /app/sign-in (its form cookie and token), POST /app/sign-in
(redirected to /app/password, with the session cookie), GET /app/password (the session's CSRF
token), POST /app/password with a new password, then GET /app/worklist, which must now answer 200
with the same CSRF token. Writes one "SESSION_SECRET CSRF_TOKEN WORKLIST_ROWS" line per account,
in the order of ACCOUNTS, to OUT. Any other answer stops it with the status and the page's start.
Python's standard library only.
"""
import concurrent.futures
import http.client
import re
import secrets
import sys
import urllib.parse

CSRF = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)">')


class Browser:
    """One keep-alive connection and the cookies it was given (name -> value)."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.cookies = {}

    def request(self, method, path, form=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or value == "":
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return response.status, response.headers.get("Location", ""), text


def expect(what, got, status, location=None):
    code, where, text = got
    if code != status or (location is not None and not where.startswith(location)):
        snippet = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))[:300]
        sys.exit(f"error: {what}: expected {status}{' to ' + location if location else ''}, got {code}"
                 f"{' to ' + where if where else ''}: {snippet}")
    return text


def csrf_of(what, text):
    found = CSRF.search(text)
    if not found:
        sys.exit(f"error: {what}: no _csrf field in the page")
    return found.group(1)


def sign_in(base, username, one_time):
    b = Browser(base)
    page = expect(f"{username}: GET /app/sign-in", b.request("GET", "/app/sign-in"), 200)
    form_token = csrf_of(f"{username}: sign-in form", page)
    if b.cookies.get("registry_signin") != form_token:
        sys.exit(f"error: {username}: the sign-in form's token is not its registry_signin cookie")
    expect(f"{username}: POST /app/sign-in", b.request("POST", "/app/sign-in", {
        "username": username, "password": one_time, "_csrf": form_token, "next": "/app/worklist"}), 303, "/app/password")
    secret = b.cookies.get("registry_session")
    if not secret:
        sys.exit(f"error: {username}: signed in without a registry_session cookie")
    csrf = csrf_of(f"{username}: password page", expect(f"{username}: GET /app/password", b.request("GET", "/app/password"), 200))
    new = "bench-" + secrets.token_urlsafe(18)
    expect(f"{username}: POST /app/password", b.request("POST", "/app/password", {
        "_csrf": csrf, "current_password": one_time, "new_password": new, "repeat_password": new}), 303)
    worklist = expect(f"{username}: GET /app/worklist", b.request("GET", "/app/worklist"), 200)
    if csrf_of(f"{username}: worklist", worklist) != csrf:
        sys.exit(f"error: {username}: the worklist carries another CSRF token than the password page")
    rows = len(re.findall(r"<tr [^>]*data-follow-up=", worklist))
    b.conn.close()
    return f"{secret} {csrf} {rows}"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    base, accounts, out = sys.argv[1:]
    pairs = [line.split() for line in open(accounts) if line.strip()]
    # Two at a time: each costs the server three bcrypt hashes (cost 12), a core's work for about a second.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        lines = list(pool.map(lambda p: sign_in(base, p[0], p[1]), pairs))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

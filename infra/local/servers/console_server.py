"""Serves the administrators' console on the local stack (CONSOLE_URL), as CloudFront serves it
in AWS: the built single-page app from console/dist/, and /config.json, the configuration
`make deploy` uploads beside it, here generated from .local/stack.env.

  GET /config.json   {"region", "apiUrl", "userPoolId", "userPoolClientId", "identityPoolId",
                      "roles": {"StartDataExport": arn, "RetrieveDataExport": arn, "RevokeDataExport": arn},
                      "cognitoIdpEndpoint", "cognitoIdentityEndpoint"} (the last two only locally:
                      in AWS the app uses the AWS endpoints)
  GET /<file>        a file of console/dist/ (never a directory listing, nothing outside it)
  GET /<route>       index.html for any other path without a file extension (the app's routes)

Every reply carries the security headers of template.yaml's ConsoleResponseHeadersPolicy
(CloudFront's response headers policy), read from the template, with the AWS endpoints of the
Content-Security-Policy mapped to the local ones. Without a built console (console/dist/
index.html), pages are a 503 saying how to build it.
"""

import argparse
import json
import mimetypes
import re
import sys
import time
import urllib.parse
from pathlib import Path

# infra/local on sys.path, once, so that the stand-ins' shared library imports as the package `lib`
# (this file is run as a script: `python infra/local/servers/console_server.py`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib import ROOT, local_cognito, local_template  # noqa: E402
from lib.local_http import JsonHandler, log_line, serve  # noqa: E402
from lib.stack_env import read_stack_env  # noqa: E402

# index.html gets its connect-src pinned by the very function `make deploy` uses
# (scripts/deploy_console.py): it lives in infra/shared/, the Python both import (see
# infra/shared/console_csp.py), so neither reaches into the other's tree.
sys.path.insert(0, str(ROOT / "infra" / "shared"))
from console_csp import pin_connect_src  # noqa: E402
DIST = ROOT / "console/dist"
STACK_ENV = ROOT / ".local/stack.env"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}


def security_headers(env: dict[str, str]) -> dict[str, str]:
    """The headers of the template's AWS::CloudFront::ResponseHeadersPolicy, as CloudFront adds
    them, with the CSP's execute-api, cognito-idp and cognito-identity origins made local."""
    template = local_template.template()
    policies = template.of_type("AWS::CloudFront::ResponseHeadersPolicy")
    if not policies:
        return {}
    (_, resource), = policies.items()
    config = template.resolve(resource["Properties"]["ResponseHeadersPolicyConfig"]).get("SecurityHeadersConfig", {})
    headers = {}
    if "ContentSecurityPolicy" in config:
        csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        region = re.escape(local_template.REGION)
        suffix = re.escape(local_template.PSEUDO_PARAMETERS["AWS::URLSuffix"])
        # The API's host (the stack's API id, or a wildcard *.execute-api: any API of the region,
        # here any port of loopback), cognito-idp and cognito-identity of the region, each a
        # source of connect-src, possibly with a path.
        local = {
            rf"https://\*\.execute-api\.{region}\.{suffix}[^\s;]*": "http://127.0.0.1:*",
            rf"https://[\w.-]*\.execute-api\.{region}\.{suffix}[^\s;]*": env.get("API_URL", ""),
            rf"https://cognito-idp\.{region}\.{suffix}[^\s;]*": env.get("COGNITO_IDP_ENDPOINT", ""),
            rf"https://cognito-identity\.{region}\.{suffix}[^\s;]*": env.get("COGNITO_IDENTITY_ENDPOINT", ""),
        }
        for aws, mine in local.items():
            if mine:
                csp = re.sub(aws, lambda _, mine=mine: mine, csp)
        headers["Content-Security-Policy"] = csp
    if "StrictTransportSecurity" in config:
        hsts = config["StrictTransportSecurity"]
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        if hsts.get("IncludeSubdomains"):
            value += "; includeSubDomains"
        if hsts.get("Preload"):
            value += "; preload"
        headers["Strict-Transport-Security"] = value
    if "FrameOptions" in config:
        headers["X-Frame-Options"] = config["FrameOptions"]["FrameOption"]
    if "ContentTypeOptions" in config:
        headers["X-Content-Type-Options"] = "nosniff"
    if "ReferrerPolicy" in config:
        headers["Referrer-Policy"] = config["ReferrerPolicy"]["ReferrerPolicy"]
    if "XSSProtection" in config:
        xss = config["XSSProtection"]
        value = "1" if xss.get("Protection") else "0"
        if xss.get("Protection") and xss.get("ModeBlock"):
            value += "; mode=block"
        headers["X-XSS-Protection"] = value
    return headers


def console_config(env: dict[str, str]) -> dict | None:
    """config.json for the local stack, or None before the user pool is provisioned."""
    if "USER_POOL_ID" not in env:
        return None
    return {
        "region": env.get("AWS_REGION", local_template.REGION),
        "apiUrl": env["API_URL"],
        "userPoolId": env["USER_POOL_ID"],
        "userPoolClientId": env["USER_POOL_CLIENT_ID"],
        "identityPoolId": env["IDENTITY_POOL_ID"],
        **({"chatUserIdentityPoolId": env["CHAT_USER_IDENTITY_POOL_ID"]} if env.get("CHAT_USER_IDENTITY_POOL_ID") else {}),
        "roles": {group: arn for group, arn in local_cognito.role_arns_by_group().items()},
        "cognitoIdpEndpoint": env["COGNITO_IDP_ENDPOINT"],
        "cognitoIdentityEndpoint": env["COGNITO_IDENTITY_ENDPOINT"],
    }


def resolve_file(url_path: str) -> Path | None:
    """The file of DIST a URL path names, or None: no directory, nothing outside DIST (`..`,
    encoded or not, symbolic links out), no hidden file."""
    decoded = urllib.parse.unquote(url_path)
    if "\0" in decoded or "\\" in decoded:
        return None
    segments = [s for s in decoded.split("/") if s]
    if any(s in (".", "..") or s.startswith(".") for s in segments):
        return None
    root = DIST.resolve()
    candidate = root.joinpath(*segments).resolve() if segments else root / "index.html"
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


class Handler(JsonHandler):
    def respond(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        try:
            env = read_stack_env(STACK_ENV)
        except FileNotFoundError:
            env = {}
        headers = {"Content-Type": content_type, **security_headers(env), **(extra or {})}
        self.reply(status, body, headers)

    def do_GET(self):
        started = time.monotonic()
        path = urllib.parse.urlsplit(self.path).path
        status = self.serve(path)
        log_line(json.dumps({"method": self.command, "path": path[:200], "status": status,
                             "ms": round((time.monotonic() - started) * 1000)}))

    do_HEAD = do_GET

    def serve(self, path: str) -> int:
        if path == "/__health":
            self.respond(200, b'{"ok": true}', "application/json")
            return 200
        if path == "/config.json":
            try:
                config = console_config(read_stack_env(STACK_ENV))
            except FileNotFoundError:
                config = None
            if config is None:
                message = b'{"message": "the local stack is not provisioned yet (make up)"}'
                self.respond(503, message, "application/json")
                return 503
            self.respond(200, json.dumps(config, indent=2).encode(), "application/json", {"Cache-Control": "no-store"})
            return 200
        if not (DIST / "index.html").is_file():
            self.respond(503, b"The console is not built: run `make console` (or console/build.sh), then reload.\n",
                         "text/plain; charset=utf-8")
            return 503
        found = resolve_file(path)
        if found is None:
            last = path.rstrip("/").rsplit("/", 1)[-1]
            if "." in last:
                self.respond(404, b"Not found\n", "text/plain; charset=utf-8")
                return 404
            found = DIST / "index.html"  # one of the app's own routes
        suffix = found.suffix.lower()
        content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        cache = "no-cache" if suffix == ".html" else "public, max-age=300"
        body = found.read_bytes()
        if found.resolve() == (DIST / "index.html").resolve():
            config = console_config(read_stack_env(STACK_ENV)) if STACK_ENV.exists() else None
            if config is not None:
                try:
                    body = pin_connect_src(body.decode("utf-8"), config).encode("utf-8")
                except ValueError as error:  # never serve the page without its pinned policy
                    self.respond(500, f"{error}\n".encode(), "text/plain; charset=utf-8")
                    return 500
        self.respond(200, body, content_type, {"Cache-Control": cache})
        return 200

    def __getattr__(self, name: str):
        if name.startswith("do_"):
            return self.not_allowed
        raise AttributeError(name)

    def not_allowed(self):
        self.respond(405, b"Method not allowed\n", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.port, Handler, f"console on 127.0.0.1:{args.port} from {DIST.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

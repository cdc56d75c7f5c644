"""The deployed console's index.html, pinned to one stack: a second Content-Security-Policy whose
connect-src names only that stack's API stage and Cognito endpoints.

Shared by the two places that serve index.html: `make deploy` (scripts/deploy_console.py, which
uploads it to the console bucket) and the local stack's console server
(infra/local/servers/console_server.py, CloudFront's stand-in), so the page is pinned the same way
in both. It lives here, in infra/shared/, the folder of Python that both the deploy tooling and the
local stack depend on, rather than in either: each puts this folder on sys.path once and imports
`console_csp`, and neither reaches into the other's tree. Standard library only (deploy_console.py
runs under any python3, without the local venv).
"""
from __future__ import annotations

import html
import re
import urllib.parse


def connect_sources(config: dict) -> list[str]:
    """Where the console may connect: its own origin, this stack's API (its stage only) and the
    user pool and identity pool endpoints, with the defaults the console itself uses
    (console/src/config.ts)."""
    region = config["region"]
    api = urllib.parse.urlsplit(config["apiUrl"])
    # A source with a path ending in "/" matches that path and below: the stage, not the host.
    api_source = f"{api.scheme}://{api.netloc}{api.path.rstrip('/')}/"
    idp = config.get("cognitoIdpEndpoint") or f"https://cognito-idp.{region}.amazonaws.com/"
    identity = config.get("cognitoIdentityEndpoint") or f"https://cognito-identity.{region}.amazonaws.com/"
    return ["'self'", api_source, idp, identity]


def pin_connect_src(index_html: str, config: dict) -> str:
    """index.html with a second Content-Security-Policy, in a <meta> before anything it governs,
    that allows connections only to this stack's endpoints. The response-headers policy cannot name
    the API (the API's CORS origin names the distribution, which names the policy: a cycle), so its
    connect-src allows any API of the region; browsers enforce both policies, so the page can reach
    only what both allow. A meta policy cannot carry frame-ancestors: the header keeps that."""
    sources = connect_sources(config)
    for source in sources:
        if not re.fullmatch(r"'self'|https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?", source):
            raise ValueError(f"deploy_console: {source!r} cannot be a connect-src source")
    policy = "connect-src " + " ".join(sources)
    meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
    charset = '<meta charset="utf-8">'
    if charset not in index_html:
        raise ValueError("deploy_console: index.html has no <meta charset=\"utf-8\"> to put the policy after")
    return index_html.replace(charset, f"{charset}\n{meta}", 1)

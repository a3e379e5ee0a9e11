"""The deploy configurations no Debian package can run here (Envoy, Traefik) and
docker-compose.yml, parsed as YAML and checked for what docs/gateways.md says they do.
Envoy and Traefik themselves never see them in this test. Exit 77 without python3-yaml.

Usage: check_configs.py SOURCE_DIR
"""
import sys

try:
    import yaml
except ImportError:
    print("SKIPPED: python3-yaml is not installed; scripts/install-deps.sh installs it")
    sys.exit(77)

root = sys.argv[1]
failures = []


def check(what, condition):
    print(("ok   - " if condition else "FAIL - ") + what)
    if not condition:
        failures.append(what)


def load(path):
    with open(f"{root}/{path}") as f:
        return yaml.safe_load(f)


def patterns(matcher):
    return {p["exact"] for p in matcher["patterns"]}


envoy = load("deploy/envoy/envoy.yaml")
hcm = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
authz = next(f["typed_config"] for f in hcm["http_filters"]
             if f["name"] == "envoy.filters.http.ext_authz")
response = authz["http_service"]["authorization_response"]
check("envoy: RateLimit headers reach the client on success",
      {"ratelimit", "ratelimit-policy"} <= patterns(response["allowed_client_headers_on_success"]))
check("envoy: Retry-After and the RateLimit headers reach the client on a denial",
      {"retry-after", "ratelimit", "ratelimit-policy", "www-authenticate"}
      <= patterns(response["allowed_client_headers"]))
check("envoy: X-RateLimit-User is set on the upstream request",
      patterns(response["allowed_upstream_headers"]) == {"x-ratelimit-user"})
check("envoy: header names with underscores are dropped",
      hcm["common_http_protocol_options"]["headers_with_underscores_action"] == "DROP_HEADER")
check("envoy: fails closed with 503",
      authz["failure_mode_allow"] is False
      and authz["status_on_error"]["code"] == "ServiceUnavailable")
mapper = hcm["local_reply_config"]["mappers"][0]
check("envoy: its own 503 gets Retry-After: 1",
      {"key": "retry-after", "value": "1"} in [h["header"] for h in mapper["headers_to_add"]])
check("envoy: only X-API-KEY goes to ratelimitd", patterns(authz["allowed_headers"]) == {"x-api-key"})

traefik = load("deploy/traefik/dynamic.yml")["http"]
forward = traefik["middlewares"]["ratelimitd"]["forwardAuth"]
check("traefik: X-RateLimit-User and the RateLimit headers go to the application",
      {"X-RateLimit-User", "RateLimit", "RateLimit-Policy"} <= set(forward["authResponseHeaders"]))
removed = traefik["middlewares"]["ratelimitd-look-alikes"]["headers"]["customRequestHeaders"]
check("traefik: every '-'/'_' mix of X-RateLimit-User but the real one is removed",
      {name for name, value in removed.items() if value == ""}
      == {"X_RateLimit_User", "X_RateLimit-User", "X-RateLimit_User"})
check("traefik: look-alikes are removed before the check",
      traefik["routers"]["app"]["middlewares"] == ["ratelimitd-look-alikes", "ratelimitd"])

compose = load("docker-compose.yml")["services"]["ratelimitd"]
check("docker-compose.yml: read-only root filesystem", compose.get("read_only") is True)
check("docker-compose.yml: the data volume", compose["volumes"] == ["ratelimitd-data:/var/lib/ratelimitd"])

sys.exit(1 if failures else 0)

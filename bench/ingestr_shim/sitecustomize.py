"""Point ingestr 0.14.155's Asana source at another base URL (the simulator).

Loaded automatically by Python when this directory is on PYTHONPATH (bench.py
sets it only for ingestr runs). Nothing in site-packages is modified.

1. Base URL: ingestr builds every client via asana.Client.access_token(token),
   and asana 3.2.3 takes the base URL from
   Client.DEFAULT_OPTIONS['base_url'] (default https://app.asana.com/api/1.0).
   The client sits on requests-oauthlib, which refuses http:// URLs unless
   OAUTHLIB_INSECURE_TRANSPORT=1 (bench.py sets that as well).
2. Route aliases, one request for one request: ingestr v0 uses three legacy
   spellings that real Asana still serves but the simulator (built from the
   current OpenAPI spec) does not route. They are rewritten to the current
   equivalent, so request counts are unchanged:
     GET /projects?workspace=W       -> GET /workspaces/W/projects
     GET /tags?workspace=W           -> GET /workspaces/W/tags
     GET /organizations/W/teams      -> GET /workspaces/W/teams
   Set BENCH_ASANA_NO_ALIASES=1 to disable (e.g. once the simulator routes them).
3. opt_fields: ingestr asks for a few names that are not in the API reference
   (projects: is_template; tasks: project; stories: preview). Real Asana
   apparently ignores them; the
   simulator answers 400. They are dropped from opt_fields (no effect on the
   request count or on the data Asana would return).
"""
import os

_BAD_FIELDS = {"is_template", "project", "preview"}
_url = os.environ.get("BENCH_ASANA_BASE_URL")
if _url:
    try:
        import asana

        asana.Client.DEFAULT_OPTIONS["base_url"] = _url.rstrip("/")

        if not os.environ.get("BENCH_ASANA_NO_ALIASES"):
            _orig_request = asana.Client.request

            def _request(self, method, path, **options):
                params = options.get("params")
                if isinstance(params, dict) and isinstance(params.get("opt_fields"), str):
                    kept = [f for f in params["opt_fields"].split(",") if f not in _BAD_FIELDS]
                    params = dict(params, opt_fields=",".join(kept))
                    options["params"] = params
                if isinstance(params, dict) and path in ("/projects", "/tags") \
                        and params.get("workspace"):
                    params = dict(params)
                    ws = params.pop("workspace")
                    path = f"/workspaces/{ws}{path}"
                    options["params"] = params
                elif path.startswith("/organizations/") and path.endswith("/teams"):
                    path = "/workspaces/" + path[len("/organizations/"):]
                return _orig_request(self, method, path, **options)

            asana.Client.request = _request
    except Exception as exc:  # noqa: BLE001 - never break the interpreter over this
        import sys

        print(f"bench sitecustomize: could not patch the asana client: {exc}", file=sys.stderr)

"""The /_sim control interface: the Python control API over JSON/HTTP, for a
simulator running in another process (CLI, demo, benchmarks). No auth; the
server only accepts it from loopback clients."""
from __future__ import annotations

import json

MUTATIONS = ("edit_task", "add_task", "delete_task", "undelete_task", "add_subtask", "set_parent",
             "move_task", "add_task_to_project", "remove_task_from_project", "add_story",
             "delete_story", "delete_user", "delete_project", "set_project_archived", "rename")


def _json(body: bytes) -> dict:
    if not body:
        return {}
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def handle(sim, method: str, path: str, query: dict, body: bytes):
    """(status, JSON-able body) for one control request."""
    try:
        data = _json(body)
        return 200, _route(sim, method, path, query, data)
    except KeyError as e:
        return 404, {"error": f"not found: {e}"}
    except (ValueError, TypeError) as e:
        return 400, {"error": str(e)}
    except Exception as e:  # noqa: BLE001 - keep the control channel answering JSON
        return 500, {"error": f"{type(e).__name__}: {e}"}


def _route(sim, method, path, query, data):
    if method == "GET" and path == "/info":
        return sim.info()
    if method == "GET" and path == "/requests/stats":
        return sim.request_stats()
    if method == "GET" and path == "/requests":
        return {"requests": [r.to_dict() for r in sim.requests]}
    if method == "POST" and path == "/requests/reset":
        sim.reset_request_log()
        return {"ok": True}
    if method == "POST" and path == "/faults":
        sim.faults.configure(rate=data.get("rate"), kinds=data.get("kinds"),
                             seed=data.get("seed"), retry_after_s=data.get("retry_after_s"))
        return {"ok": True}
    if method == "POST" and path == "/faults/fail_from":
        sim.faults.fail_from(int(data["n"]), int(data.get("status", 500)))
        return {"ok": True}
    if method == "POST" and path == "/faults/deny":
        sim.faults.deny(data["path_prefix"], int(data.get("status", 402)), data.get("message"))
        return {"ok": True}
    if method == "POST" and path == "/faults/pagination":
        sim.faults.break_pagination(data["path_prefix"], str(data.get("mode", "repeat")))
        return {"ok": True}
    if method == "POST" and path == "/faults/latency":
        sim.faults.set_latency(float(data.get("ms", 0)), float(data.get("jitter_ms", 0)))
        return {"ok": True}
    if method == "POST" and path == "/faults/clear":
        sim.faults.clear()
        return {"ok": True}
    if method == "POST" and path == "/quota":
        kw = {k: data[k] for k in ("per_minute", "max_concurrent") if k in data}
        sim.quota.configure(**kw)
        if data.get("reset"):
            sim.quota.reset()
        return {"ok": True}
    if method == "POST" and path == "/expire_offsets":
        sim.expire_offsets()
        return {"ok": True}
    if method == "POST" and path == "/expire_offsets_after":
        sim.expire_offsets_after(int(data["requests"]))
        return {"ok": True}
    if method == "POST" and path == "/faults/premium_only":
        sim.faults.premium_only(data["path_prefix"])
        return {"ok": True}
    if method == "POST" and path == "/offset_ttl":
        sim.set_offset_ttl(data.get("seconds"))
        return {"ok": True}
    if method == "POST" and path == "/events":
        sim.events.configure(**{k: data[k] for k in ("bubble_all_levels", "token_ttl_s", "drop_rate", "seed")
                                if k in data})
        if "drop_next" in data:
            sim.events.drop_next(int(data["drop_next"]))
        return {"ok": True}
    if method == "POST" and path == "/events/expire":
        sim.events.expire_tokens(data.get("resource"))
        return {"ok": True}
    if method == "GET" and path == "/events":
        return {"events": sim.events.all()}
    if method == "POST" and path == "/mutate":
        op = data.get("op")
        if op not in MUTATIONS:
            raise ValueError(f"op must be one of {MUTATIONS}")
        result = getattr(sim.store, op)(**data.get("args", {}))
        return {"ok": True, "result": result}
    if method == "GET" and path == "/gids":
        return {"gids": sim.store.gids(query["resource"], query.get("workspace_gid"),
                                       **{k: v for k, v in query.items()
                                          if k in ("project_gid", "task_gid")})}
    if method == "GET" and path == "/subtask_gids":
        return {"gids": sorted(sim.store.subtask_gids(query.get("workspace_gid")))}
    if method == "GET" and path == "/record":
        return {"record": sim.store.record(query["resource"], query["gid"])}
    raise KeyError(f"{method} {path}")

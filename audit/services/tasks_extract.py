"""Reading MCP task status reports out of an event, in both protocol revisions.

A canonical event carries `task` {id, status, ttl, poll_interval, status_message}. Gateways that
forward the raw JSON-RPC shapes instead put them in `attributes.params` / `attributes.result`:
- 2025-11-25: `tools/call` → `result.task` (CreateTaskResult); `tasks/get|cancel` → the flat
  Task as result; `tasks/list` → `result.tasks`; `notifications/tasks/status` → params = Task;
  fields `taskId`, `ttl` (null = unlimited), `pollInterval`, `statusMessage`.
- 2026-07-28 (tasks extension): `tasks/get|update|cancel`, `notifications/tasks`, fields
  `ttlMs` and `pollIntervalMs`; a result with `resultType: "task"`.
The canonical `task` object is validated (errors name the field); raw shapes in attributes are
best effort (attributes are free-form, so an odd one is ignored rather than rejecting the event).
"""

from __future__ import annotations

from datetime import datetime

from inventory.models import Task, TaskStatus

STATUSES = set(TaskStatus.values)
# A task keeps this much of its event's protocol_version (which may hold 50 characters): a
# longer value failed the whole batch's task update in the database.
TASK_PROTOCOL_VERSION_MAX = Task._meta.get_field("protocol_version").max_length
CREATING_METHODS = {"tools/call", "sampling/createMessage", "elicitation/create"}
MAX_TASKS_PER_EVENT = 100


def _first(obj: dict, *keys):
    for key in keys:
        if key in obj:
            return True, obj[key]
    return False, None


def _ms(value) -> int | None:
    # `not 0 <= value` also refuses NaN, which int() cannot convert
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2**62:
        return None
    return int(value)


def _method(event: dict) -> str:
    """The event's method, or "" when it is not a string (validation reports that under
    `method`; here it must not reach a string method or a set lookup)."""
    method = event.get("method")
    return method if isinstance(method, str) else ""


def _when(value) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _report(obj: dict, errors: dict | None, prefix: str) -> dict | None:
    """One status report from a Task-shaped object; errors only for the canonical `task`."""
    _, task_id = _first(obj, "id", "taskId", "task_id")
    if not isinstance(task_id, str) or not task_id or len(task_id) > 300:
        if errors is not None:
            errors[f"{prefix}.id"] = "is required: a string of at most 300 characters"
        return None
    status = obj.get("status")
    # isinstance first: an object or a list is unhashable, so `in STATUSES` would raise
    if status is not None and (not isinstance(status, str) or status not in STATUSES):
        if errors is not None:
            errors[f"{prefix}.status"] = f"must be one of {', '.join(sorted(STATUSES))}"
            return None
        status = None
    has_ttl, ttl = _first(obj, "ttl", "ttlMs", "ttl_ms")
    if has_ttl and ttl is not None and _ms(ttl) is None and errors is not None:
        errors[f"{prefix}.ttl"] = "must be a non-negative number of milliseconds or null"
    _, poll = _first(obj, "poll_interval", "pollInterval", "pollIntervalMs", "poll_interval_ms")
    if poll is not None and _ms(poll) is None and errors is not None:
        errors[f"{prefix}.poll_interval"] = "must be a non-negative number of milliseconds"
    _, message = _first(obj, "status_message", "statusMessage")
    if message is not None and not isinstance(message, str) and errors is not None:
        errors[f"{prefix}.status_message"] = "must be a string"
    return {
        "task_id": task_id,
        "status": status,
        "status_message": message[:4000] if isinstance(message, str) else "",
        "ttl_known": has_ttl,
        "ttl_ms": _ms(ttl),
        "ttl_unlimited": has_ttl and ttl is None,
        "poll_interval_ms": _ms(poll),
        "created_at": _when(_first(obj, "createdAt", "created_at")[1]),
        "last_updated_at": _when(_first(obj, "lastUpdatedAt", "last_updated_at")[1]),
    }


def _raw_shapes(event: dict) -> list[dict]:
    """Task objects found in the forwarded JSON-RPC params/result (both revisions)."""
    attributes = event.get("attributes")
    if not isinstance(attributes, dict):
        return []
    method = _method(event)
    params, result = attributes.get("params"), attributes.get("result")
    params = params if isinstance(params, dict) else {}
    result = result if isinstance(result, dict) else {}
    if method in ("notifications/tasks/status", "notifications/tasks"):
        return [params.get("task") if isinstance(params.get("task"), dict) else params]
    if method == "tasks/list" and isinstance(result.get("tasks"), list):
        return [t for t in result["tasks"][:MAX_TASKS_PER_EVENT] if isinstance(t, dict)]
    if isinstance(result.get("task"), dict):
        return [result["task"]]
    if method.startswith("tasks/"):
        found = [result] if ("taskId" in result or "id" in result) else []
        return found or ([{"taskId": params["taskId"]}] if "taskId" in params else [])
    return []


def extract_task_reports(event: dict, errors: dict) -> list[dict]:
    """Status reports the event carries; validation problems of `task` go into `errors`."""
    reports = []
    task = event.get("task")
    if task is not None:
        if not isinstance(task, dict):
            errors["task"] = "must be an object"
            return []
        report = _report(task, errors, "task")
        if report:
            reports.append(report)
    else:
        for obj in _raw_shapes(event):
            report = _report(obj, None, "task")
            if report:
                reports.append(report)
    method = _method(event)
    outcome = event.get("outcome")
    params = (
        (event.get("attributes") or {}).get("params")
        if isinstance(event.get("attributes"), dict)
        else None
    )
    requested = (
        params.get("task", {}).get("ttl")
        if isinstance(params, dict) and isinstance(params.get("task"), dict)
        else None
    )
    for report in reports:
        report["creates"] = method in CREATING_METHODS
        report["requested_ttl_ms"] = _ms(requested)
        # A failed tasks/* call (unknown task, cancel of a terminal task) reports no new status.
        if outcome in ("error", "denied") and method.startswith("tasks/"):
            report["status"] = None
        if report["status"] is None and report["creates"]:
            report["status"] = TaskStatus.WORKING  # a task MUST start as working
    return reports

"""Small local HTTP servers that speak the parts of Slack, Jira, GitHub and PagerDuty we use.

Each runs ``http.server`` in a thread on 127.0.0.1 and keeps state (messages, issues,
comments, pages) so tests can count what really exists at the end. Faults are scripted per
request: answer 500 / 429 / 401 before doing anything, or do the work and then answer late
(the client times out: "the request may have gone through") or answer 500 anyway.

The Slack server checks every request against Slack's own OpenAPI description
(an excerpt in ``tests/contracts/``, or ``$SLACK_OPENAPI``) and every
response it gives against the method's response schema; the PagerDuty server checks events
against the Events API v2 contract. Violations are collected in ``contract_violations``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SLACK_OPENAPI = Path(
    os.environ.get("SLACK_OPENAPI")
    or Path(__file__).resolve().parents[1] / "contracts" / "slack_web_openapi_v2_subset.json"
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    @property
    def params(self) -> dict[str, Any]:
        """Query string and body together, as Slack reads them (form or JSON)."""
        params: dict[str, Any] = dict(self.query)
        kind = self.headers.get("content-type", "")
        if self.body and "json" in kind:
            params.update(self.json())
        elif self.body:
            params.update(dict(parse_qsl(self.body.decode())))
        return params


@dataclass
class Fault:
    method: str
    path: str  # a regex searched in the path
    status: int = 500
    times: int = 1
    # before: instead of the work; after: do the work, then answer with this (or late, with delay);
    # late: wait ``delay`` first, then do the work (the client has given up: it applies after the
    # client's timeout), answering nobody; reset: do the work, then drop the connection unanswered
    when: str = "before"
    delay: float = 0.0  # after: wait this long before answering; late: before doing the work
    # late: when set, the work waits for this event instead of ``delay``, so a test decides when
    # the create lands (after the client's reconcile) without racing a loaded machine's clock
    release: threading.Event | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class FakeService:
    """Base: routing, fault injection, a request log. Subclasses implement ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self.contract_violations: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _any(self) -> None:
                service._dispatch(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail(self, method: str, path: str, **kwargs: Any) -> Fault:
        fault = Fault(method, path, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.search(path, r.path)]

    def _fault_for(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == request.method and re.search(fault.path, request.path):
                    fault.times -= 1
                    return fault
        return None

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self.lock:
            self.requests.append(request)
        fault = self._fault_for(request)
        if fault is not None and fault.when == "late":
            if fault.release is not None:
                fault.release.wait(timeout=60)
            else:
                time.sleep(fault.delay)  # the client times out meanwhile; the work lands afterwards
            with self.lock:
                self.handle(request)
            handler.close_connection = True
            return
        if fault is not None and fault.when == "reset":
            with self.lock:
                self.handle(request)
            handler.close_connection = True  # closed without a response: "connection reset"
            return
        if fault is not None and fault.when == "before":
            status, headers, body = fault.status, fault.headers, fault.body
        else:
            with self.lock:
                status, headers, body = self.handle(request)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)  # the work is done; the client has given up by now
                else:
                    status, headers, body = fault.status, fault.headers, fault.body
        self._respond(handler, status, headers, body)

    @staticmethod
    def _respond(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: Any) -> None:
        data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError


# --------------------------------------------------------------------------- Slack


class SlackContract:
    """Slack's OpenAPI 2 description: which parameters a method takes, and its response schemas."""

    def __init__(self, path: Path = SLACK_OPENAPI):
        self.doc = json.loads(path.read_text())

    def check_request(self, method: str, request: Request) -> list[str]:
        operation = self.doc["paths"].get(f"/{method}")
        if operation is None:
            return [f"{method}: not a Slack Web API method"]
        # slack-sdk sends every method as POST: Slack accepts POST for all of them
        spec = operation.get("post") or operation.get("get")
        declared = {p["name"]: p for p in spec.get("parameters", [])}
        params = request.params
        problems = []
        for name, param in declared.items():
            if not param.get("required"):
                continue
            if name == "token":
                if not request.headers.get("authorization", "").startswith("Bearer ") and "token" not in params:
                    problems.append(f"{method}: no token")
            elif name not in params:
                problems.append(f"{method}: required parameter {name} is missing")
        for name, value in params.items():
            if name not in declared:
                problems.append(f"{method}: parameter {name} is not in Slack's description of the method")
                continue
            if not _type_ok(declared[name].get("type"), value, name):
                problems.append(f"{method}: {name}={value!r} is not a {declared[name].get('type')}")
        return problems

    def check_response(self, method: str, status: int, body: Any) -> list[str]:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        operation = self.doc["paths"].get(f"/{method}", {})
        spec = operation.get("post") or operation.get("get") or {}
        key = "200" if body.get("ok") else "default"
        schema = (spec.get("responses", {}).get(key) or {}).get("schema")
        if schema is None:
            return []
        registry = Registry().with_resource("urn:slack", Resource.from_contents(self.doc, default_specification=DRAFT4))
        pointer = "/".join(
            p.replace("~", "~0").replace("/", "~1")
            for p in ("paths", f"/{method}", "post" if "post" in operation else "get")
        )
        validator = jsonschema.Draft4Validator(
            {"$ref": f"urn:slack#/{pointer}/responses/{key}/schema"}, registry=registry
        )
        return [f"{method} response: {e.message}" for e in validator.iter_errors(body)]


def _type_ok(kind: str | None, value: Any, name: str) -> bool:
    if kind == "string":
        # blocks/attachments are JSON-encoded strings in a form, structured values in a JSON body
        return isinstance(value, str) or (name in ("blocks", "attachments") and isinstance(value, list | dict))
    if kind == "boolean":
        return isinstance(value, bool) or str(value).lower() in ("true", "false", "1", "0")
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or str(value).isdigit()
    if kind == "number":
        try:
            float(value)
            return not isinstance(value, bool)
        except (TypeError, ValueError):
            return False
    return True


class FakeSlack(FakeService):
    """chat.postMessage, chat.update, conversations.history/replies/list and auth.test."""

    def __init__(self, token: str, channels: dict[str, str] | None = None):
        self.token = token
        self.channels = channels or {"C0AUDIT01": "ads-ml-ethics", "C0OTHER02": "general"}
        self.messages: dict[str, list[dict[str, Any]]] = {cid: [] for cid in self.channels}
        self.updates: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.contract = SlackContract()
        self._clock = 0
        super().__init__()

    @property
    def api(self) -> str:
        return f"{self.url}/api/"

    def top_level(self, channel: str = "C0AUDIT01") -> list[dict[str, Any]]:
        return [m for m in self.messages[channel] if "thread_ts" not in m]

    def replies(self, ts: str, channel: str = "C0AUDIT01") -> list[dict[str, Any]]:
        return [m for m in self.messages[channel] if m.get("thread_ts") == ts]

    def _ts(self) -> str:
        # Slack's ts is the posting time (seconds.microseconds), unique per channel
        self._clock = max(self._clock + 1, int(time.time() * 1_000_000))
        return f"{self._clock // 1_000_000}.{self._clock % 1_000_000:06d}"

    def _channel(self, name: str) -> str | None:
        if name in self.channels:
            return name
        return next((cid for cid, n in self.channels.items() if f"#{n}" == name or n == name), None)

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        method = request.path.removeprefix("/api/")
        self.contract_violations += self.contract.check_request(method, request)
        body = self._answer(method, request)
        self.contract_violations += self.contract.check_response(method, 200, body)
        return 200, {}, body

    def _answer(self, method: str, request: Request) -> dict[str, Any]:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        params = request.params
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://ethics-audit-test.slack.com/",
                "team": "Audit",
                "user": "ethics-audit",
                "team_id": "T0TEAM001",
                "user_id": "U0BOT0001",
            }
        if method == "conversations.list":
            channels = [_channel_object(cid, name) for cid, name in self.channels.items()]
            return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
        channel = self._channel(str(params.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            message = {
                "type": "message",
                "user": "U0BOT0001",
                "ts": self._ts(),
                "text": params.get("text", ""),
                "blocks": _blocks(params.get("blocks")),
            }
            if params.get("thread_ts"):
                parent = next((m for m in self.messages[channel] if m["ts"] == params["thread_ts"]), None)
                if parent is None:
                    return {"ok": False, "error": "thread_not_found"}
                message["thread_ts"] = params["thread_ts"]
            self.messages[channel].append(message)
            return {"ok": True, "channel": channel, "ts": message["ts"], "message": _public(message)}
        if method == "chat.update":
            target = next((m for m in self.messages[channel] if m["ts"] == params.get("ts")), None)
            if target is None:
                return {"ok": False, "error": "message_not_found"}
            target["text"], target["blocks"] = params.get("text", ""), _blocks(params.get("blocks"))
            self.updates.append({"channel": channel, "ts": target["ts"], "text": target["text"]})
            return {
                "ok": True,
                "channel": channel,
                "ts": target["ts"],
                "text": target["text"],
                "message": {"text": target["text"]},
            }
        if method == "chat.delete":
            target = next((m for m in self.messages[channel] if m["ts"] == params.get("ts")), None)
            if target is None:
                return {"ok": False, "error": "message_not_found"}
            self.messages[channel].remove(target)
            self.deleted.append({"channel": channel, "ts": target["ts"]})
            return {"ok": True, "channel": channel, "ts": target["ts"]}
        if method == "conversations.history":
            oldest = float(params.get("oldest") or 0)
            found = [m for m in self.top_level(channel) if float(m["ts"]) >= oldest][::-1]
            return {
                "ok": True,
                "messages": [_public(m) for m in found],
                "has_more": False,
                "pin_count": 0,
                "channel_actions_ts": None,
                "channel_actions_count": 0,
            }
        if method == "conversations.replies":
            parent = next((m for m in self.messages[channel] if m["ts"] == params.get("ts")), None)
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            thread = [parent, *self.replies(parent["ts"], channel)]
            return {"ok": True, "messages": [_public(m) for m in thread], "has_more": False}
        return {"ok": False, "error": "unknown_method"}


def _blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if v is not None}


def _channel_object(cid: str, name: str) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "is_channel": True,
        "is_private": False,
        "is_archived": False,
        "is_member": True,
        "created": 1_600_000_000,
        "creator": "U0OWNER01",
        "is_general": name == "general",
        "is_org_shared": False,
        "is_shared": False,
        "is_mpim": False,
        "is_group": False,
        "is_im": False,
        "name_normalized": name,
        "unlinked": 0,
        "members": [],
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
    }


# --------------------------------------------------------------------------- Jira


TRANSITIONS = {
    "To Do": [("21", "Start", "In Progress", "indeterminate"), ("31", "Done", "Done", "done")],
    "In Progress": [("31", "Done", "Done", "done")],
    "Done": [("41", "Reopen", "To Do", "new")],
}
CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


class FakeJira(FakeService):
    """REST v2/v3 subset: search by JQL (project, labels, statusCategory), issues, comments, transitions."""

    def __init__(self, user: str, token: str, projects: tuple[str, ...] = ("ADSML",)):
        self.auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.projects = projects
        self.issues: dict[str, dict[str, Any]] = {}
        self.links: list[dict[str, str]] = []
        super().__init__()

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["status"] != "Done"]

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        if request.headers.get("authorization") != self.auth:
            return (
                401,
                {},
                {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."]},
            )
        path, method = request.path, request.method
        if method == "GET" and path in ("/rest/api/3/search/jql", "/rest/api/2/search"):
            return (
                200,
                {},
                {"issues": [self._public(i) for i in self._search(request.query.get("jql", ""))], "isLast": True},
            )
        if method == "POST" and path == "/rest/api/2/issue":
            fields = request.json().get("fields", {})
            project = (fields.get("project") or {}).get("key")
            if project not in self.projects:
                return 400, {}, {"errorMessages": [], "errors": {"project": "valid project is required"}}
            if not fields.get("summary") or not (fields.get("issuetype") or {}).get("name"):
                return 400, {}, {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}
            key = f"{project}-{len(self.issues) + 1}"
            self.issues[key] = {
                "key": key,
                "id": str(10000 + len(self.issues)),
                "fields": fields,
                "status": "To Do",
                "comments": [],
            }
            return 201, {}, {"id": self.issues[key]["id"], "key": key, "self": f"{self.url}/rest/api/2/issue/{key}"}
        if method == "POST" and path == "/rest/api/2/issueLink":
            link = request.json()
            keys = [(link.get(side) or {}).get("key") for side in ("inwardIssue", "outwardIssue")]
            if any(k not in self.issues for k in keys) or not (link.get("type") or {}).get("name"):
                return 404, {}, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
            self.links.append({"type": link["type"]["name"], "inward": keys[0], "outward": keys[1]})
            return 201, {}, None
        match = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+)/(comment|transitions)", path)
        if not match or match.group(1) not in self.issues:
            return 404, {}, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        issue = self.issues[match.group(1)]
        if match.group(2) == "comment":
            if method == "POST":
                comment = {"id": str(len(issue["comments"]) + 1), "body": request.json()["body"]}
                issue["comments"].append(comment)
                return 201, {}, comment
            return 200, {}, {"comments": issue["comments"][::-1], "total": len(issue["comments"])}
        options = TRANSITIONS[issue["status"]]
        if method == "GET":
            return (
                200,
                {},
                {
                    "transitions": [
                        {"id": tid, "name": name, "to": {"name": to, "statusCategory": {"key": cat}}}
                        for tid, name, to, cat in options
                    ]
                },
            )
        wanted = request.json()["transition"]["id"]
        target = next((to for tid, _, to, _ in options if tid == wanted), None)
        if target is None:
            return 400, {}, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."]}
        issue["status"] = target
        return 204, {}, None

    def _search(self, jql: str) -> list[dict[str, Any]]:
        project = re.search(r'project = "([^"]+)"', jql)
        label = re.search(r'labels = "([^"]+)"', jql)
        found = list(self.issues.values())
        if project:
            found = [i for i in found if i["fields"]["project"]["key"] == project.group(1)]
        if label:
            found = [i for i in found if label.group(1) in i["fields"].get("labels", [])]
        if "statusCategory != Done" in jql:
            found = [i for i in found if i["status"] != "Done"]
        return found[::-1]

    def _public(self, issue: dict[str, Any]) -> dict[str, Any]:
        status = {"name": issue["status"], "statusCategory": {"key": CATEGORY[issue["status"]]}}
        return {
            "id": issue["id"],
            "key": issue["key"],
            "fields": {"summary": issue["fields"]["summary"], "status": status},
        }


# --------------------------------------------------------------------------- GitHub


class FakeGitHub(FakeService):
    """Issues: list by label and state, create, comment (list/create), update state."""

    def __init__(self, token: str, repos: tuple[str, ...] = ("acme/ads-ml",)):
        self.token = token
        self.repos = {repo: [] for repo in repos}
        super().__init__()

    def issues(self, repo: str = "acme/ads-ml") -> list[dict[str, Any]]:
        return self.repos[repo]

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        match = re.fullmatch(r"/repos/([\w.-]+/[\w.-]+)/issues(?:/(\d+))?(/comments)?", request.path)
        if not match or match.group(1) not in self.repos:
            return 404, {}, {"message": "Not Found"}
        issues = self.repos[match.group(1)]
        number = int(match.group(2)) if match.group(2) else None
        if number is None:
            if request.method == "GET":
                wanted = [x for x in request.query.get("labels", "").split(",") if x]
                state = request.query.get("state", "open")
                found = [
                    i
                    for i in issues
                    if (state == "all" or i["state"] == state)
                    and all(w in [lb["name"] for lb in i["labels"]] for w in wanted)
                ]
                return 200, {}, [self._public(i) for i in found[::-1]]
            data = request.json()
            if not data.get("title"):
                return (
                    422,
                    {},
                    {"message": "Validation Failed", "errors": [{"field": "title", "code": "missing_field"}]},
                )
            issue = {
                "number": len(issues) + 1,
                "title": data["title"],
                "body": data.get("body", ""),
                "labels": [{"name": n} for n in data.get("labels", [])],
                "state": "open",
                "state_reason": None,
                "comments": [],
                "html_url": f"https://github.com/{match.group(1)}/issues/{len(issues) + 1}",
            }
            issues.append(issue)
            return 201, {}, self._public(issue)
        issue = next((i for i in issues if i["number"] == number), None)
        if issue is None:
            return 404, {}, {"message": "Not Found"}
        if match.group(3):
            if request.method == "POST":
                comment = {"id": len(issue["comments"]) + 1, "body": request.json()["body"]}
                issue["comments"].append(comment)
                return 201, {}, comment
            return 200, {}, issue["comments"]
        data = request.json()
        issue["state"] = data.get("state", issue["state"])
        issue["state_reason"] = data.get("state_reason")
        return 200, {}, self._public(issue)

    @staticmethod
    def _public(issue: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in issue.items() if k != "comments"} | {"comments": len(issue["comments"])}


# --------------------------------------------------------------------------- PagerDuty


PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")


class FakePagerDuty(FakeService):
    """Events API v2: POST /v2/enqueue, validated; keeps one incident per dedup_key and counts pages."""

    def __init__(self, routing_key: str):
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.incidents: dict[str, str] = {}  # dedup_key -> triggered | acknowledged | resolved
        self.pages = 0  # a trigger that opens a PagerDuty incident wakes someone up
        super().__init__()

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        if request.method != "POST" or request.path != "/v2/enqueue":
            return 404, {}, {"status": "not found"}
        try:
            event = request.json()
        except ValueError:
            return 400, {}, {"status": "invalid event", "message": "Event object is invalid", "errors": ["not JSON"]}
        errors = pd_contract_errors(event)
        if errors:
            self.contract_violations += errors
            return 400, {}, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        if event["routing_key"] != self.routing_key:
            return (
                400,
                {},
                {"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key"]},
            )
        self.events.append(event)
        key, action = event["dedup_key"], event["event_action"]
        if action == "trigger":
            if self.incidents.get(key) in (None, "resolved"):
                self.pages += 1
            self.incidents[key] = "triggered"
        elif key in self.incidents and self.incidents[key] != "resolved":
            self.incidents[key] = "acknowledged" if action == "acknowledge" else "resolved"
        return 202, {}, {"status": "success", "message": "Event processed", "dedup_key": key}


def pd_contract_errors(event: Any) -> list[str]:
    """The contract in /work/shared/api-contracts/README.md."""
    if not isinstance(event, dict):
        return ["the event is not an object"]
    errors = []
    if not isinstance(event.get("routing_key"), str) or not event.get("routing_key"):
        errors.append("routing_key is required")
    if event.get("event_action") not in PD_ACTIONS:
        errors.append(f"event_action must be one of {PD_ACTIONS}")
    if not isinstance(event.get("dedup_key"), str) or not event.get("dedup_key"):
        errors.append("dedup_key is required (the incident key)")
    elif len(event["dedup_key"]) > 255:
        errors.append("dedup_key is longer than 255 characters")
    if event.get("event_action") == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("a trigger needs a payload")
        else:
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    errors.append(f"payload.{name} is required")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append(f"payload.severity must be one of {PD_SEVERITIES}")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("payload.summary is longer than 1024 characters")
    return errors


# --------------------------------------------------------------------------- a webhook receiver


class FakeWebhook(FakeService):
    """Verifies the HMAC signature (401 if wrong) and keeps one delivery per Idempotency-Key."""

    def __init__(self, secret: str):
        self.secret = secret
        self.received: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        super().__init__()

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        from ethics_audit.notify.webhook import verify_signature

        ok = verify_signature(
            self.secret,
            request.body,
            request.headers.get("x-ethics-audit-timestamp", ""),
            request.headers.get("x-ethics-audit-signature", ""),
        )
        if not ok:
            return 401, {}, {"error": "bad signature"}
        key = request.headers.get("idempotency-key", "")
        if key in self.received:
            self.duplicates += 1
            return 409, {}, {"error": "already received"}
        self.received[key] = request.json()
        return 200, {}, {"ok": True}


class FakeSlackWebhook(FakeWebhook):
    """Slack's incoming webhook: the URL path is the secret; answers "ok" as text, 403 invalid_token."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.posts: list[dict[str, Any]] = []
        super().__init__(secret="")

    def handle(self, request: Request) -> tuple[int, dict[str, str], Any]:
        if request.path != self.path:
            return 403, {}, b"invalid_token"
        self.posts.append(request.json())
        return 200, {}, b"ok"

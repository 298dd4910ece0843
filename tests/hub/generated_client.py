"""Drives a running hub through a client generated from its /openapi.json, and nothing else.

Run by tests/hub/generated_client.rs:
    python3 generated_client.py CLIENT_DIR BASE_URL CA CERT KEY USER PASSWORD BODIES

CLIENT_DIR holds the generated package `kirikae_client`; CA, CERT and KEY are the test CA and the
company's client certificate and key (PEM); BODIES is a JSON file {function slug: body}.
Logs in, submits each body to its function, reads each request's status, and prints
{"functions": {slug: {"submitted": code, "request_id": id, "status_code": code, "view": {...}}}}.
"""

import importlib
import inspect
import json
import pkgutil
import ssl
import sys

client_dir, base_url, ca, cert, key, user, password, bodies_file = sys.argv[1:9]
sys.path.insert(0, client_dir)

import kirikae_client  # noqa: E402
import kirikae_client.api  # noqa: E402
from kirikae_client import AuthenticatedClient, Client  # noqa: E402

# Every operation module of the generated client by its operationId (snake case), wherever the
# generator filed it by tag.
operations = {}
for info in pkgutil.walk_packages(kirikae_client.api.__path__, "kirikae_client.api."):
    if not info.ispkg:
        operations[info.name.rsplit(".", 1)[1]] = importlib.import_module(info.name)


def operation(operation_id):
    name = operation_id.replace("-", "_")
    if name not in operations:
        sys.exit(f"the generated client has no operation {name}: {sorted(operations)}")
    return operations[name]


def body_type(module):
    """The generated model a module's `body` parameter takes (its annotation, unions unwrapped)."""
    annotation = inspect.signature(module.sync_detailed).parameters["body"].annotation
    candidates = getattr(annotation, "__args__", (annotation,))
    return next(c for c in candidates if hasattr(c, "from_dict"))


def as_json(parsed):
    if parsed is None:
        return None
    return parsed.to_dict() if hasattr(parsed, "to_dict") else str(parsed)


tls = ssl.create_default_context(cafile=ca)
tls.load_cert_chain(cert, key)

anonymous = Client(base_url=base_url, verify_ssl=tls, raise_on_unexpected_status=False)
login = operation("post_session")
credentials = body_type(login).from_dict({"user_id": user, "password": password})
session = login.sync_detailed(client=anonymous, body=credentials)
if session.status_code != 200:
    sys.exit(f"login: {session.status_code} {session.content!r}")
token = session.parsed.token

client = AuthenticatedClient(
    base_url=base_url, token=token, verify_ssl=tls, raise_on_unexpected_status=False
)
status = operation("get_requests_request_id")

with open(bodies_file, encoding="utf-8") as f:
    bodies = json.load(f)

results = {}
for slug, body in bodies.items():
    submit = operation(slug)
    answer = submit.sync_detailed(client=client, body=body_type(submit).from_dict(body))
    result = {"submitted": int(answer.status_code)}
    if answer.status_code != 202:
        result["answer"] = answer.content.decode("utf-8", "replace")
    else:
        request_id = answer.parsed.request_id
        result["request_id"] = request_id
        view = status.sync_detailed(client=client, request_id=request_id)
        result["status_code"] = int(view.status_code)
        result["view"] = as_json(view.parsed)
    results[slug] = result

print(json.dumps({"functions": results}, ensure_ascii=False))

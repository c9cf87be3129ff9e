"""A stand-in for ``curl`` that sends each request through the generated client.

docs/api.md's walkthrough is written with curl; tests/http/test_api_client.py runs
it with this program first on PATH as ``curl``. Each call is matched to its
operation in the OpenAPI document, sent with that operation's generated
``sync_detailed`` (the body parsed into its generated model, path and query
parameters converted to the client's types), and the answer printed from the
generated response model, so a field the client drops or a response it cannot
parse breaks the walkthrough. Supports what the page uses: -X -H -d -o -D -w -f -s -S.

Environment: COURSEPACK_CLIENT (the generated project's folder), COURSEPACK_OPENAPI
(the schema file), COURSEPACK_CLIENT_LOG (appends each operation id called).
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import re
import sys
import typing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def _arguments(argv: list[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {"headers": {}, "method": None, "data": None, "fail": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-X", "--request"):
            parsed["method"] = argv[i + 1]
        elif arg in ("-H", "--header"):
            name, value = argv[i + 1].split(":", 1)
            parsed["headers"][name.strip().lower()] = value.strip()
        elif arg in ("-d", "--data", "--data-raw"):
            parsed["data"] = argv[i + 1]
        elif arg in ("-o", "-D", "-w"):
            parsed[arg] = argv[i + 1]
        elif arg.startswith("-"):
            parsed["fail"] = parsed["fail"] or "f" in arg
            i += 1
            continue
        else:
            parsed["url"] = arg
            i += 1
            continue
        i += 2
    parsed["method"] = parsed["method"] or ("POST" if parsed["data"] is not None else "GET")
    return parsed


def _operation(schema: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any], dict]:
    """Return (operation id, path parameters, operation) of the request."""
    candidates = []
    for template, operations in schema["paths"].items():
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        match = re.fullmatch(pattern, path)
        if match and method.lower() in operations:
            candidates.append((template.count("{"), match.groupdict(), operations[method.lower()]))
    if not candidates:
        raise SystemExit(f"curl (client): no operation for {method} {path}")
    _, params, operation = min(candidates, key=lambda c: c[0])
    return operation["operationId"], params, operation


def _convert(value: str, schema: dict[str, Any]) -> Any:
    kinds = [schema, *schema.get("anyOf", [])]
    if any(k.get("type") == "integer" for k in kinds):
        return int(value)
    if any(k.get("type") == "boolean" for k in kinds):
        return value == "true"
    if any(k.get("format") in ("date-time", "date") for k in kinds):
        if "T" in value:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return datetime.date.fromisoformat(value)
    return value


def main(argv: list[str]) -> int:
    sys.path.insert(0, os.environ["COURSEPACK_CLIENT"])
    client_package = importlib.import_module("coursepack_client")
    schema = json.loads(Path(os.environ["COURSEPACK_OPENAPI"]).read_text())
    request = _arguments(argv)
    url = urlsplit(request["url"])
    operation_id, path_params, operation = _operation(schema, request["method"], url.path)
    with open(os.environ["COURSEPACK_CLIENT_LOG"], "a") as log:
        log.write(operation_id + "\n")
    (module_file,) = Path(os.environ["COURSEPACK_CLIENT"]).glob(
        f"coursepack_client/api/*/{operation_id}.py"
    )
    module = importlib.import_module(
        f"coursepack_client.api.{module_file.parent.name}.{operation_id}"
    )
    declared = {p["name"]: p for p in operation.get("parameters", [])}
    signature = typing.get_type_hints(module.sync_detailed)
    kwargs: dict[str, Any] = {}

    def put(name: str, value: str) -> None:
        key = re.sub(r"\W", "_", name).lower()
        key = key if key in signature else f"{key}_"
        kwargs[key] = _convert(value, declared[name].get("schema", {}))

    for name, value in path_params.items():
        put(name, value)
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        put(name, value)
    for header in ("idempotency-key", "if-match"):
        if header in request["headers"]:
            kwargs[header.replace("-", "_")] = request["headers"][header]
    if request["data"] is not None:
        body_type = signature["body"]
        options = typing.get_args(body_type) or (body_type,)
        model = next(t for t in options if hasattr(t, "from_dict"))
        kwargs["body"] = model.from_dict(json.loads(request["data"]))

    token = request["headers"].get("authorization", "").removeprefix("Bearer ")
    client = client_package.AuthenticatedClient(
        base_url=f"{url.scheme}://{url.netloc}", token=token
    )
    response = module.sync_detailed(client=client, **kwargs)
    status = int(response.status_code)
    if 200 <= status < 300 and response.content:
        if response.parsed is None or not hasattr(response.parsed, "to_dict"):
            sys.stderr.write(f"curl (client): {operation_id} {status}: answer not parsed\n")
            return 3
        body = json.dumps(response.parsed.to_dict())
    else:
        body = response.content.decode()
    out = sys.stdout
    if request.get("-D") == "-":
        out.write(f"HTTP/1.1 {status}\r\n")
        out.writelines(f"{k}: {v}\r\n" for k, v in response.headers.items())
        out.write("\r\n")
    if request.get("-o") != "/dev/null":
        out.write(body)
    if request["fail"] and status >= 400:
        sys.stderr.write(f"curl: (22) The requested URL returned error: {status}\n")
        return 22
    if "-w" in request:
        out.write(request["-w"].replace("%{http_code}", str(status)).replace("\\n", "\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

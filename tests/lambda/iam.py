"""IAM from behaviour: what a function's role allows (SAM's policy templates expanded), what a
function did (the AWS requests moto recorded while it ran alone), and the difference.

The expansions are those of SAM's policy templates
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-policy-template-list.html,
policy_templates.json in aws/serverless-application-model), written out here so a test can
read them; the managed policies SAM attaches for the event sources are listed too.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import urllib.parse
from pathlib import Path
from dataclasses import dataclass

from template import ACCOUNT, PARTITION, REGION, Stack


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # s3:prefix patterns a ListBucket must match (the only condition the template uses).
    s3_prefixes: tuple[str, ...] | None = None
    source: str = ""

    def allows(self, action: str, resource: str, s3_prefix: str | None = None) -> bool:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions):
            return False
        if not any(fnmatch.fnmatchcase(resource, r) for r in self.resources):
            return False
        if self.s3_prefixes is not None:
            return s3_prefix is not None and any(fnmatch.fnmatchcase(s3_prefix, p) for p in self.s3_prefixes)
        return True


def _arn(service: str, rest: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{rest}"


def expand_sam_template(name: str, args: dict, stack: Stack) -> list[Statement]:
    """One SAM policy template, as SAM expands it."""
    a = {k: stack.resolve(v) for k, v in (args or {}).items()}
    if name == "DynamoDBCrudPolicy":
        table = a["TableName"]
        return [
            Statement(
                (
                    "dynamodb:GetItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:PutItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:DescribeTable",
                    "dynamodb:ConditionCheckItem",
                ),
                (_arn("dynamodb", f"table/{table}"), _arn("dynamodb", f"table/{table}/index/*")),
                source=name,
            )
        ]
    if name == "DynamoDBReadPolicy":
        table = a["TableName"]
        return [
            Statement(
                (
                    "dynamodb:GetItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                    "dynamodb:DescribeTable",
                ),
                (_arn("dynamodb", f"table/{table}"), _arn("dynamodb", f"table/{table}/index/*")),
                source=name,
            )
        ]
    if name == "SQSSendMessagePolicy":
        return [Statement(("sqs:SendMessage*",), (_arn("sqs", a["QueueName"]),), source=name)]
    if name in ("S3ReadPolicy", "S3CrudPolicy", "S3WritePolicy"):
        bucket = a["BucketName"]
        actions = {
            "S3ReadPolicy": (
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
                "s3:GetLifecycleConfiguration",
            ),
            "S3WritePolicy": (
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:PutLifecycleConfiguration",
            ),
            "S3CrudPolicy": (
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:DeleteObject",
            ),
        }[name]
        return [Statement(actions, (f"arn:{PARTITION}:s3:::{bucket}", f"arn:{PARTITION}:s3:::{bucket}/*"), source=name)]
    if name == "SSMParameterReadPolicy":
        parameter = a["ParameterName"]
        return [
            Statement(("ssm:DescribeParameters",), ("*",), source=name),
            Statement(
                ("ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"),
                (_arn("ssm", f"parameter/{parameter}"),),
                source=name,
            ),
        ]
    raise ValueError(f"SAM policy template {name} has no expansion here: add it from the SAM docs")


def check_against_sam(stack: Stack) -> list[str]:
    """Differences between the expansions above and those of the SAM translator installed with
    cfn-lint (its policy_templates.json), for every policy template the template uses."""
    import samtranslator

    path = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    sam = json.loads(path.read_text())["Templates"]
    problems = []
    for logical in stack.functions():
        for policy in stack.resolve(stack.functions()[logical]["Properties"].get("Policies", [])):
            (name, args), = policy.items()
            if name == "Statement":
                continue
            ours = expand_sam_template(name, args, stack)
            theirs = sam[name]["Definition"]["Statement"]
            mine = [sorted(s.actions) for s in ours]
            official = [sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) for s in theirs]
            if mine != official:
                problems.append(f"{name}: ours {mine}, SAM's {official}")
    return problems


def _inline_statements(document: dict, stack: Stack, source: str) -> list[Statement]:
    statements = []
    for s in stack.resolve(document)["Statement"]:
        if s.get("Effect") != "Allow":
            continue
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        prefixes = None
        condition = s.get("Condition")
        if condition:
            like = condition.get("StringLike", {}) or condition.get("StringEquals", {})
            if set(condition) - {"StringLike", "StringEquals"} or set(like) != {"s3:prefix"}:
                raise ValueError(f"condition {condition} is not understood by this test")
            value = like["s3:prefix"]
            prefixes = tuple(value if isinstance(value, list) else [value])
        statements.append(Statement(tuple(actions), tuple(resources), prefixes, source))
    return statements


def role_statements(stack: Stack, logical: str) -> list[Statement]:
    """Everything the function's role allows, as SAM builds the role."""
    props = stack.functions()[logical]["Properties"]
    statements: list[Statement] = []
    for policy in stack.resolve(props.get("Policies", [])):
        if isinstance(policy, str):
            raise ValueError(f"managed policy {policy} on {logical}: list its actions here")
        (name, args), = policy.items()
        if name == "Statement":
            statements += _inline_statements({"Statement": args}, stack, f"{logical} inline")
        else:
            statements += expand_sam_template(name, args, stack)
    # SAM adds these for an SQS event source: the Lambda service polls with the role.
    if any(e.get("Type") == "SQS" for e in props.get("Events", {}).values()):
        statements.append(
            Statement(
                ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
                ("*",),
                source="AWSLambdaSQSQueueExecutionRole",
            )
        )
    return statements


@dataclass
class Call:
    service: str  # dynamodb, sqs, s3, ssm
    operation: str  # the API operation, e.g. TransactWriteItems
    action: str  # the IAM action it needs, e.g. dynamodb:PutItem
    resource: str
    s3_prefix: str | None = None

    def __str__(self):
        extra = f" (prefix {self.s3_prefix})" if self.s3_prefix is not None else ""
        return f"{self.operation} -> {self.action} on {self.resource}{extra}"


_SCOPE = re.compile(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/aws4_request")


def _body(entry) -> bytes:
    body = entry.get("body") or ""
    return base64.b64decode(body) if entry.get("body_encoded") else body.encode()


def _table_arn(name: str, index: str | None = None) -> str:
    return _arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def _queue_arn(url: str) -> str:
    return _arn("sqs", url.rstrip("/").rsplit("/", 1)[1])


def calls_of(entry: dict) -> list[Call]:
    """The IAM actions one recorded request needs (a transaction needs one per item)."""
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    # Signed in the header (the SDK), or in the query (a presigned URL, signed by the role).
    credential = urllib.parse.parse_qs(urllib.parse.urlsplit(entry["url"]).query).get("X-Amz-Credential", [""])[0]
    scope = _SCOPE.search(headers.get("authorization", "")) or _SCOPE.search(f"Credential={credential}")
    if not scope:
        raise ValueError(f"an unsigned request reached moto: {entry['method']} {entry['url']}")
    service = scope.group(2)
    target = headers.get("x-amz-target", "")
    operation = target.rsplit(".", 1)[-1]
    if service == "dynamodb":
        body = json.loads(_body(entry) or b"{}")
        if operation == "TransactWriteItems":
            calls = []
            for item in body["TransactItems"]:
                (kind, spec), = item.items()
                action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}[kind]
                calls.append(Call(service, operation, f"dynamodb:{action}", _table_arn(spec["TableName"])))
            return calls
        if operation == "TransactGetItems":
            return [Call(service, operation, "dynamodb:GetItem", _table_arn(i["Get"]["TableName"])) for i in body["TransactItems"]]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [Call(service, operation, f"dynamodb:{operation}", _table_arn(t)) for t in body["RequestItems"]]
        return [Call(service, operation, f"dynamodb:{operation}", _table_arn(body["TableName"], body.get("IndexName")))]
    if service == "sqs":
        body = json.loads(_body(entry) or b"{}")
        return [Call(service, operation, f"sqs:{operation}", _queue_arn(body["QueueUrl"]))]
    if service == "ssm":
        body = json.loads(_body(entry) or b"{}")
        names = body.get("Names") or [body["Name"]]
        return [Call(service, operation, f"ssm:{operation}", _arn("ssm", "parameter/" + n.lstrip("/"))) for n in names]
    if service == "s3":
        url = urllib.parse.urlsplit(entry["url"])
        path = urllib.parse.unquote(url.path).lstrip("/")
        bucket, _, key = path.partition("/")
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        method = entry["method"]
        bucket_arn = f"arn:{PARTITION}:s3:::{bucket}"
        if not key:
            if method == "GET" and ("list-type" in query or not query):
                prefix = query.get("prefix", [""])[0]
                return [Call(service, "ListObjectsV2", "s3:ListBucket", bucket_arn, prefix)]
            if method == "POST" and "delete" in query:
                keys = re.findall(rb"<Key>([^<]*)</Key>", _body(entry))
                return [
                    Call(service, "DeleteObjects", "s3:DeleteObject", f"{bucket_arn}/{k.decode()}") for k in keys
                ]
            raise ValueError(f"S3 bucket request not understood: {method} {entry['url']}")
        action = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject", "DELETE": "s3:DeleteObject"}[method]
        operation = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}[method]
        return [Call(service, operation, action, f"{bucket_arn}/{key}")]
    raise ValueError(f"a request to {service} is not understood by this test: {entry['url']}")


def parse_recording(text: str) -> list[Call]:
    calls = []
    for line in text.splitlines():
        if line.strip():
            calls += calls_of(json.loads(line))
    return calls


def denied(calls: list[Call], statements: list[Statement]) -> list[Call]:
    return [c for c in calls if not any(s.allows(c.action, c.resource, c.s3_prefix) for s in statements)]


def unused(calls: list[Call], statements: list[Statement]) -> list[str]:
    """Granted actions that no recorded call used, on any resource of their statement."""
    left = []
    for s in statements:
        idle = [
            a
            for a in s.actions
            if not any(
                fnmatch.fnmatchcase(c.action.lower(), a.lower()) and any(fnmatch.fnmatchcase(c.resource, r) for r in s.resources)
                for c in calls
            )
        ]
        if idle:
            where = ", ".join(r.split(":")[-1] for r in s.resources)
            left.append(f"{s.source}: {' '.join(a.split(':', 1)[1] for a in idle)} (on {where})")
    return left

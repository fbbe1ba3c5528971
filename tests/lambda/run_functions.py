#!/usr/bin/env python3
"""The ten Lambda functions, built and run as Lambda runs them, against moto.

1. Structure: for every AWS::Serverless::Function, cargo (run in its CodeUri, as SAM's
   `cargo lambda build --bin <Binary>` does) finds the `Binary` in a selected package whose
   default features turn on the AWS engine; the template's rules (EEA regions, alarms that
   e-mail, log retention, no secret in an environment, parameters that refuse empty values).
2. Each function's bootstrap (a debug build of its crate with default features, as SAM
   builds it) starts with the environment template.yaml gives it (parameters filled with
   test values; resources created in moto from the template's own properties; secrets as
   SecureString parameters in moto), and answers real events from events/ through the Lambda
   Runtime API emulator (runtime_api.py). Init makes no AWS request; a setting left empty or
   wrong stops the init, naming it.
   The only additions are the endpoints: AWS_ENDPOINT_URL (moto) and the providers'
   base URLs (a local recorder instead of SendGrid, GA4 and Facebook; and instead of Google's
   token endpoint and GA4's User Deletion API, a stand-in that checks the service account's
   signed JWT and the token it issued, as Google does).
3. IAM: moto records every request while one function runs; each is checked against that
   function's role as SAM builds it (iam.py). A call the role would not allow fails the run;
   grants that no call used are reported.

Usage: run_functions.py --moto http://127.0.0.1:PORT [--no-build] [--template template.yaml]
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).parent))
import iam  # noqa: E402
from runtime_api import FunctionProcess, RuntimeApi  # noqa: E402
from template import ACCOUNT, REGION, Stack, load  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# Test values for the template's parameters (those without a default, and those that switch
# features on). Secrets are test values too: nothing here reaches a real service.
PARAMETERS = {
    "PublicBaseUrl": "https://api.infentre.test",
    # Ada (the user of the scenario) is staff: she sends a product update.
    "Operators": "dpo@infentre.test,ada@example.com",
    "Ga4MeasurementId": "G-TEST123",
    # With a service account key (in SSM, below), an erasure asks GA4 to delete the user.
    "Ga4PropertyId": "123456789",
    "FacebookPixelId": "1234567890",
    "AlarmEmail": "alarms@infentre.test",
    "ControllerName": "Infentre Test AB",
    "ControllerAddress": "Testgatan 1, 111 11 Stockholm, Sweden",
    "ControllerEmail": "privacy@infentre.test",
    "DpoEmail": "dpo@infentre.test",
    "DpoAddress": "Data Protection Officer, Testgatan 1, Stockholm",
    "PolicyDate": "2026-11-30",
}

# The SecureString parameters the deploy instructions create, by template parameter.
SECRETS = {
    "SigningKeyParameter": base64.b64encode(bytes(range(32))).decode(),
    "SendGridApiKeyParameter": "SG.test-key",
    "StripeWebhookSecretParameter": "whsec_test",
    "Ga4ApiSecretParameter": "ga4-test-secret",
    "FacebookAccessTokenParameter": "fb-test-token",
}

# The GA4 service account (the test key of the Rust suites): its key file names the token
# endpoint, so it is made once the stand-in for Google listens.
GA4_KEY = ROOT / "tests" / "support" / "ga4" / "test-service-account.pem"
GA4_CLIENT_EMAIL = "infentre-erasure@infentre-test.iam.gserviceaccount.com"
GA4_ACCESS_TOKEN = "ya29.harness-token"


def secrets(providers: "Providers") -> dict[str, str]:
    """The SecureString values, the service account key pointing at the providers' Google."""
    key = {
        "type": "service_account",
        "client_email": GA4_CLIENT_EMAIL,
        "private_key_id": "harness",
        "private_key": GA4_KEY.read_text(),
        "token_uri": f"{providers.url}/google/token",
    }
    return {**SECRETS, "Ga4ServiceAccountKeyParameter": json.dumps(key)}

failures: list[str] = []


def check(condition: bool, message: str):
    if not condition:
        failures.append(message)
        print(f"  FAIL {message}", flush=True)
    return condition


# ---------------------------------------------------------------------------------------------
# 1. Structure


def check_structure(stack: Stack) -> dict[str, dict]:
    """Per function: the package cargo selects from its CodeUri and the bin it builds."""
    print("== structure: each function's Binary is a bin cargo finds from its CodeUri", flush=True)
    found = {}
    for logical, resource in stack.functions().items():
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        code_uri = resource["Properties"].get("CodeUri")
        check(resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda", f"{logical}: BuildMethod")
        if not check(bool(binary and code_uri), f"{logical}: Binary and CodeUri are set"):
            continue
        directory = ROOT / code_uri
        if not check(directory.is_dir(), f"{logical}: CodeUri {code_uri} is a folder"):
            continue
        metadata = json.loads(
            subprocess.run(
                ["cargo", "metadata", "--format-version", "1", "--locked"],
                cwd=directory,
                check=True,
                capture_output=True,
            ).stdout
        )
        # From a member's folder cargo selects that member; from a virtual workspace's root,
        # the default members (that is what broke `sam build` with CodeUri: .).
        root = metadata["resolve"]["root"]
        selected = [root] if root else metadata["workspace_default_members"]
        packages = {p["id"]: p for p in metadata["packages"]}
        owners = [
            packages[i]
            for i in selected
            if any(t["name"] == binary and "bin" in t["kind"] for t in packages[i]["targets"])
        ]
        names = [packages[i]["name"] for i in selected]
        if not check(len(owners) == 1, f"{logical}: bin {binary!r} not in the packages cargo selects from {code_uri}: {names}"):
            continue
        package = owners[0]
        target = next(t for t in package["targets"] if t["name"] == binary and "bin" in t["kind"])
        features = package["features"]

        def enabled(feature, seen=()):
            out = {feature}
            for f in features.get(feature, []):
                if f in features and f not in seen:
                    out |= enabled(f, seen + (feature,))
                else:
                    out.add(f)
            return out

        on = enabled("default")
        check(set(target.get("required-features", [])) <= on, f"{logical}: {binary} needs features the default leaves off")
        # Which of shared's features that turns on, through shared's own feature graph
        # (`aws-http` includes `aws`).
        shared_features = next(p["features"] for p in packages.values() if p["name"] == "infentre-shared")
        shared_on, todo = set(), [f.split("/", 1)[1] for f in on if f.startswith("shared/")]
        while todo:
            feature = todo.pop()
            if feature not in shared_on:
                shared_on.add(feature)
                todo += [f for f in shared_features.get(feature, []) if f in shared_features]
        check("aws" in shared_on, f"{logical}: the default features of {package['name']} do not turn on shared's aws")
        # The binary links exactly the AWS clients its role grants, beyond DynamoDB (#16).
        # `aws-s3-links` presigns GETs without the S3 client: the links need s3:GetObject.
        service_of = {"aws-sqs": "sqs", "aws-s3": "s3", "aws-s3-links": "s3", "aws-ssm": "ssm"}
        clients = {service_of[f] for f in shared_on if f in service_of}
        granted = granted_services(resource.get("Properties", {}).get("Policies", []))
        check(clients == granted, f"{logical}: shared's client features {sorted(clients)} != services its role grants {sorted(granted)}")
        found[logical] = {"package": package["name"], "binary": binary}
        print(f"  ok {logical}: {code_uri} -> {package['name']} bin {binary}", flush=True)
    check(len(found) == 10, f"ten functions expected, {len(found)} found")
    return found


def granted_services(policies) -> set[str]:
    """Which of SQS (sending), S3 and SSM a function's `Policies` grant, SAM templates included."""
    text = json.dumps(policies)
    services = set()
    if "SQSSendMessagePolicy" in text or '"sqs:' in text:
        services.add("sqs")
    if re.search(r'"S3\w*Policy"|"s3:', text):
        services.add("s3")
    if '"ssm:' in text or "SSMParameter" in text:
        services.add("ssm")
    return services


# AWS regions in the EEA (the notice promises it): London and Zurich are not.
EEA_REGIONS = {"eu-north-1", "eu-west-1", "eu-west-3", "eu-central-1", "eu-south-1", "eu-south-2"}


def refs_in(value) -> set[str]:
    """Every name a template value refers to (Ref, GetAtt, ${...} in Sub)."""
    found = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".")[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(arg, str):
                    found |= refs_in(arg[1])
            else:
                found |= refs_in(arg)
    elif isinstance(value, list):
        for v in value:
            found |= refs_in(v)
    return found


def check_template_rules(template: dict):
    print("== template rules", flush=True)
    resources, parameters = template["Resources"], template["Parameters"]
    regions = set()
    for rule in template.get("Rules", {}).values():
        for assertion in rule["Assertions"]:
            contains = assertion["Assert"].get("Fn::Contains")
            if contains and contains[1] == {"Ref": "AWS::Region"}:
                regions |= set(contains[0])
    check(bool(regions) and regions <= EEA_REGIONS, f"the region rule admits only EEA regions: {sorted(regions - EEA_REGIONS)}")

    for logical, resource in resources.items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            actions = resource["Properties"].get("AlarmActions", [])
            topics = [a.get("Ref") for a in actions if isinstance(a, dict)]
            ok = bool(topics) and all(
                resources.get(topic, {}).get("Type") == "AWS::SNS::Topic"
                and any(s.get("Protocol") == "email" for s in resources[topic]["Properties"].get("Subscription", []))
                for topic in topics
            )
            check(ok, f"{logical} notifies an SNS topic with an e-mail subscription")

    glob = template.get("Globals", {}).get("Function", {})
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        group = resource["Properties"].get("LoggingConfig", glob.get("LoggingConfig", {})).get("LogGroup")
        days = resources.get((group or {}).get("Ref", ""), {}).get("Properties", {}).get("RetentionInDays")
        check(isinstance(days, int) and 0 < days <= 30, f"{logical} logs to its own group kept at most 30 days (got {days})")

    # Secrets never travel as plain environment variables.
    environments = [glob.get("Environment", {})] + [
        r["Properties"].get("Environment", {}) for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
    ]
    used_in_environment = set().union(*(refs_in(e) for e in environments))
    for name, spec in parameters.items():
        if spec.get("NoEcho"):
            check(name not in used_in_environment, f"secret parameter {name} is not put in a function's environment")
        if "Default" not in spec:
            check(
                "MinLength" in spec or "AllowedPattern" in spec or "AllowedValues" in spec,
                f"required parameter {name} refuses an empty value (MinLength or AllowedPattern)",
            )
        pattern = spec.get("AllowedPattern")
        if pattern:
            # CloudFormation matches the whole value.
            accepts = lambda value: re.fullmatch(pattern, value) is not None  # noqa: E731
            if "Default" not in spec:
                check(not accepts(""), f"{name}'s pattern refuses an empty value")
            for value in filter(None, [PARAMETERS.get(name), spec.get("Default")]):
                check(accepts(value), f"{name}'s pattern accepts {value!r}")
    if not failures:
        print("  ok EEA regions only; every alarm e-mails; logs kept 30 days; no secret in an environment", flush=True)


# ---------------------------------------------------------------------------------------------
# moto: the stack's resources, created from the template's own properties


class Moto:
    def __init__(self, url: str):
        self.url = url.rstrip("/")
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        self.dynamodb = session.client("dynamodb", endpoint_url=self.url)
        self.sqs = session.client("sqs", endpoint_url=self.url)
        self.s3 = session.client("s3", endpoint_url=self.url)
        self.ssm = session.client("ssm", endpoint_url=self.url)

    def api(self, path: str, method: str = "POST") -> bytes:
        request = urllib.request.Request(f"{self.url}/moto-api/recorder/{path}", method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def record(self):
        self.api("reset-recording")
        self.api("start-recording")

    def recorded(self) -> list[iam.Call]:
        self.api("stop-recording")
        return iam.parse_recording(self.api("download-recording", "GET").decode())

    def create(self, template: dict, run: str, parameters: dict) -> dict[str, dict[str, str]]:
        """Physical names and attributes of the resources the functions use."""
        physical: dict[str, dict[str, str]] = {}
        resources = template["Resources"]
        for logical, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            name = f"infentre-{run}-{logical}"
            if kind == "AWS::DynamoDB::Table":
                self.dynamodb.create_table(
                    TableName=name,
                    BillingMode=props["BillingMode"],
                    AttributeDefinitions=props["AttributeDefinitions"],
                    KeySchema=props["KeySchema"],
                    GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
                )
                physical[logical] = {"Ref": name, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"}
            elif kind == "AWS::SQS::Queue":
                url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
                physical[logical] = {"Ref": url, "QueueName": name, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}
            elif kind == "AWS::S3::Bucket":
                bucket = name.lower()
                self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
                physical[logical] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
            elif kind == "AWS::SSM::Parameter":
                physical[logical] = {"Ref": f"/infentre-{run}/{logical}"}
        stack = Stack(template, parameters, physical)
        for logical, resource in resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::SQS::Queue":
                attributes = {
                    k: str(stack.resolve(props[k])) for k in ("VisibilityTimeout", "MessageRetentionPeriod") if k in props
                }
                if "RedrivePolicy" in props:
                    attributes["RedrivePolicy"] = json.dumps(stack.resolve(props["RedrivePolicy"]))
                if attributes:
                    self.sqs.set_queue_attributes(QueueUrl=physical[logical]["Ref"], Attributes=attributes)
        return physical


# ---------------------------------------------------------------------------------------------
# The providers: a recorder standing in for SendGrid, GA4 and the Conversions API


class Providers:
    def __init__(self):
        self.requests: list[tuple[str, str, bytes]] = []
        providers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                providers.requests.append((self.path, self.headers.get("Authorization", ""), body))
                if self.path.startswith("/sendgrid/"):
                    status, answer = 202, b""
                elif self.path.startswith("/ga4/"):
                    status, answer = 204, b""
                elif self.path.startswith("/google/"):
                    status, answer = providers.google(self.path, self.headers.get("Authorization", ""), body)
                else:
                    status, answer = 200, json.dumps({"events_received": len(json.loads(body).get("data", []))}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def google(self, path: str, authorization: str, body: bytes) -> tuple[int, bytes]:
        """Google as the marketing worker meets it: the token endpoint takes only a JWT
        signed by the service account's key with the deletion scope; the User Deletion API
        only that token. Anything else is refused as Google refuses it."""
        if path == "/google/token":
            form = urllib.parse.parse_qs(body.decode())
            grant = form.get("grant_type", [""])[0]
            claims = verified_claims(form.get("assertion", [""])[0])
            now = time.time()
            if (
                grant != "urn:ietf:params:oauth:grant-type:jwt-bearer"
                or claims is None
                or not claims.get("iat", 0) - 60 <= now < claims.get("exp", 0)
                or claims.get("iss") != GA4_CLIENT_EMAIL
                or claims.get("aud") != f"{self.url}/google/token"
                or claims.get("scope") != "https://www.googleapis.com/auth/analytics.user.deletion"
            ):
                return 400, json.dumps({"error": "invalid_grant"}).encode()
            return 200, json.dumps({"access_token": GA4_ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}).encode()
        if path == "/google/userDeletionRequests:upsert":
            if authorization != f"Bearer {GA4_ACCESS_TOKEN}":
                return 401, b"{}"
            request = json.loads(body)
            if request.get("id", {}).get("type") != "USER_ID" or request.get("propertyId") != PARAMETERS["Ga4PropertyId"]:
                return 400, b"{}"
            request["deletionRequestTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            return 200, json.dumps(request).encode()
        return 404, b"{}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def verified_claims(jwt: str) -> dict | None:
    """The claims of an RS256 JWT whose signature the test key's public half verifies."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    try:
        header, claims, signature = jwt.split(".")
        if json.loads(decode(header)).get("alg") != "RS256":
            return None
        public = serialization.load_pem_private_key(GA4_KEY.read_bytes(), password=None).public_key()
        public.verify(decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return json.loads(decode(claims))
    except (ValueError, InvalidSignature):
        return None


# ---------------------------------------------------------------------------------------------
# Events


def http_event(name: str, token: str | None = None, body: dict | None = None, path_id: str | None = None) -> dict:
    event = json.loads((EVENTS / name).read_text())
    event["requestContext"]["requestId"] = base64.b64encode(uuid.uuid4().bytes[:10]).decode()
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    if token is not None:
        event["headers"]["authorization"] = f"Bearer {token}"
    if body is not None:
        event["body"] = json.dumps(body)
    if path_id is not None:
        (key, old), = event["pathParameters"].items()
        event["pathParameters"] = {key: path_id}
        for where in (event, event["requestContext"]["http"]):
            field = "rawPath" if where is event else "path"
            where[field] = where[field].replace(old, path_id)
    return event


def sqs_event(name: str, moto: Moto, queue: dict[str, str]) -> tuple[dict, list[dict]]:
    """The queue's waiting messages as Lambda's event source mapping delivers them, in the
    record shape of events/<name>."""
    shape = json.loads((EVENTS / name).read_text())["Records"][0]
    messages = moto.sqs.receive_message(
        QueueUrl=queue["Ref"], MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    records = []
    for message in messages:
        record = copy.deepcopy(shape)
        record.update(
            messageId=message["MessageId"],
            receiptHandle=message["ReceiptHandle"],
            body=message["Body"],
            md5OfBody=hashlib.md5(message["Body"].encode()).hexdigest(),
            eventSourceARN=queue["Arn"],
            awsRegion=REGION,
            messageAttributes={},
        )
        record["attributes"] = {k: v for k, v in message.get("Attributes", {}).items() if k in shape["attributes"]}
        records.append(record)
    return {"Records": records}, messages


def delete_done(moto: Moto, queue: dict[str, str], messages: list[dict], answer: dict):
    """What the event source mapping does after a batch: deletes all but the failed records."""
    failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in failed:
            moto.sqs.delete_message(QueueUrl=queue["Ref"], ReceiptHandle=message["ReceiptHandle"])


# ---------------------------------------------------------------------------------------------
# The run


class Harness:
    def __init__(self, stack: Stack, moto: Moto, providers: Providers, binaries: Path, logs: Path):
        self.stack, self.moto, self.providers = stack, moto, providers
        self.binaries, self.logs = binaries, logs
        self.processes: dict[str, FunctionProcess] = {}
        self.calls: dict[str, list[iam.Call]] = {name: [] for name in stack.functions()}
        self.answered: dict[str, int] = {name: 0 for name in stack.functions()}
        self.init_seconds: dict[str, float] = {}

    def environment(self, logical: str) -> dict[str, str]:
        environment = self.stack.function_environment(logical)
        environment.update(
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing-session",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_ENDPOINT_URL=self.moto.url,
            # The providers' endpoints: a local recorder.
            SENDGRID_BASE_URL=f"{self.providers.url}/sendgrid",
            INFENTRE_GA4_ENDPOINT=f"{self.providers.url}/ga4/mp/collect",
            INFENTRE_GA4_USER_DELETION_ENDPOINT=f"{self.providers.url}/google/userDeletionRequests:upsert",
            INFENTRE_FACEBOOK_ENDPOINT=f"{self.providers.url}/facebook/v21.0",
        )
        return environment

    def start_all(self):
        print("== starting the ten bootstraps (init makes no AWS request)", flush=True)
        self.moto.record()
        for logical, resource in self.stack.functions().items():
            binary = resource["Metadata"]["BuildProperties"]["Binary"]
            memory = int(self.stack.function_property(logical, "MemorySize", 128))
            timeout = float(self.stack.function_property(logical, "Timeout", 3))
            api = RuntimeApi(function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}", deadline_seconds=timeout)
            self.processes[logical] = FunctionProcess(
                str(self.binaries / binary),
                self.environment(logical),
                api,
                name=logical,
                memory_mb=memory,
                log_path=str(self.logs / f"{logical}.log"),
            )
        for logical, process in self.processes.items():
            try:
                self.init_seconds[logical] = process.wait_until_ready()
                print(f"  ok {logical}: ready after {self.init_seconds[logical] * 1000:.0f} ms", flush=True)
            except Exception as err:  # noqa: BLE001 - reported with the function's log
                check(False, f"{logical}: {err}\n{(self.logs / f'{logical}.log').read_text()[-2000:]}")
        init_calls = self.moto.recorded()
        check(not init_calls, f"AWS requests during init: {[str(c) for c in init_calls]}")

    def invoke(self, logical: str, event: dict, what: str) -> dict:
        self.moto.record()
        answer = self.processes[logical].invoke(event, timeout=120)
        calls = self.moto.recorded()
        self.calls[logical] += calls
        payload = answer.json() if answer.body else {}
        if answer.kind == "error":
            check(False, f"{logical} {what}: invocation error {payload}")
        else:
            self.answered[logical] += 1
        return payload

    def http(self, logical: str, event: dict, expect: int, what: str) -> dict:
        payload = self.invoke(logical, event, what)
        status = payload.get("statusCode")
        body = payload.get("body") or ""
        if payload.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        ok = check(status == expect, f"{logical} {what}: HTTP {status}, expected {expect}: {body[:500]}")
        if ok:
            print(f"  ok {logical} {what}: HTTP {status}", flush=True)
        try:
            return json.loads(body) if body else {}
        except json.JSONDecodeError:
            return {"_text": body}

    def worker(self, logical: str, events_file: str, queue_logical: str, what: str, required: bool = True) -> list[str]:
        """One batch of what waits in the queue, through the function: the bodies it handled."""
        queue = self.stack.physical[queue_logical]
        event, messages = sqs_event(events_file, self.moto, queue)
        if not messages:
            check(not required, f"{logical} {what}: no message waited in {queue_logical}")
            return []
        answer = self.invoke(logical, event, what)
        failed = answer.get("batchItemFailures")
        if check(failed == [], f"{logical} {what}: batchItemFailures {failed} (answer {answer})"):
            print(f"  ok {logical} {what}: {len(messages)} message(s), none failed", flush=True)
        delete_done(self.moto, queue, messages, answer)
        return [message["Body"] for message in messages]

    def bad_setting(self, logical: str, overrides: dict[str, str], expected: str):
        """With a setting the code needs left empty or wrong, init fails naming it."""
        binary = self.stack.functions()[logical]["Metadata"]["BuildProperties"]["Binary"]
        log = self.logs / f"{logical}-bad.log"
        environment = self.environment(logical)
        environment.update(overrides)
        process = FunctionProcess(str(self.binaries / binary), environment, RuntimeApi(), name=logical, log_path=str(log))
        try:
            process.wait_until_ready(timeout=30)
            check(False, f"{logical} with {overrides}: init succeeded")
        except Exception:  # noqa: BLE001 - the failure is what this checks; its message is below
            pass
        finally:
            process.stop()
        text = log.read_text()
        if check(expected in text, f"{logical} with {overrides}: the init failure names it ({expected!r}): {text[-500:]}"):
            print(f"  ok {logical} with {overrides}: init fails with {expected!r}", flush=True)

    def stop_all(self):
        for process in self.processes.values():
            process.stop()


def verification_token(moto: Moto, queue_url: str, table: str) -> str | None:
    """The link in the e-mail the signup queued. The message carries only the e-mail's id
    (nothing personal waits in a queue); the e-mail itself waits in the table."""
    for message in moto.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []):
        mail_id = json.loads(message["Body"]).get("id")
        if not mail_id:
            continue
        item = moto.dynamodb.get_item(TableName=table, Key={"PK": {"S": f"MAIL#{mail_id}"}, "SK": {"S": "MAIL"}})
        found = re.search(r"verify-email\?token=([A-Za-z0-9_\-.~%]+)", json.dumps(item.get("Item", {})))
        if found:
            return urllib.parse.unquote(found.group(1))
    return None


def scenario(h: Harness):
    """A user's life through the ten functions, each answering real events."""
    print("== events through the Runtime API", flush=True)
    physical = h.stack.physical
    h.http("SignupFunction", http_event("apigw-http-get-healthz.json"), 200, "GET /healthz")
    h.http("SignupFunction", http_event("apigw-http-post-signup.json"), 202, "POST /v1/signup")
    token = verification_token(h.moto, physical["MailQueue"]["Ref"], physical["Table"]["Ref"])
    if not check(token is not None, "the signup queued a verification e-mail with a token"):
        return
    # The e-mailed link opens the web function's page; only its button's POST would verify.
    page = http_event("apigw-http-get-verify-email-page.json")
    page["rawQueryString"] = f"token={token}"
    page["queryStringParameters"] = {"token": token}
    html = h.http("WebFunction", page, 200, "GET /verify-email (the link's page)").get("_text", "")
    check('<html lang="sv">' in html and 'action="/verify-email"' in html, "the page is in Swedish and has its button")
    h.http("SignupFunction", http_event("apigw-http-post-email-verification.json", body={"token": token}), 200, "POST /v1/email-verifications")
    login = h.http("SignupFunction", http_event("apigw-http-post-session.json"), 201, "POST /v1/sessions")
    session = login.get("token")
    if not check(bool(session), "login answered a session token"):
        return

    for purpose in ("analytics_cookies", "marketing_sharing", "product_updates"):
        event = http_event("apigw-http-put-consent.json", session, path_id=purpose)
        h.http("ConsentFunction", event, 200, f"PUT /v1/me/consents/{purpose}")

    accepted = h.http("TrackingFunction", http_event("apigw-http-post-events.json", session), 202, "POST /v1/events")
    check(accepted.get("stored") == 2, f"both events are to be stored: {accepted}")
    h.worker("TrackingWorkerFunction", "sqs-tracking.json", "TrackingQueue", "tracking batch")
    h.worker("MarketingWorkerFunction", "sqs-marketing.json", "MarketingQueue", "marketing batch")
    check(any(p.startswith("/ga4/") for p, _, _ in h.providers.requests), "GA4 received the consented events")
    check(any(p.startswith("/facebook/") for p, _, _ in h.providers.requests), "the Conversions API received the consented events")

    created = h.http("RightsFunction", http_event("apigw-http-post-rights-request.json", session), 201, "POST /v1/rights-requests")
    request_id = created.get("id")
    if check(bool(request_id), f"the rights request has an id: {created}"):
        h.worker("RightsWorkerFunction", "sqs-rights.json", "RightsQueue", "access request")
        export = h.http("RightsFunction", http_event("apigw-http-get-rights-export.json", session, path_id=request_id), 200, "GET /v1/rights-requests/{id}/export")
        check_export_link(export)
        # The download runs on the role that signed the link: count it as the function's call.
        if export.get("url"):
            h.moto.record()
            with urllib.request.urlopen(export["url"], timeout=30) as response:
                document = json.loads(response.read())
            h.calls["RightsFunction"] += h.moto.recorded()
            check(isinstance(document, dict) and len(document) > 0, "the presigned link downloads the export")

    # A mail that needs consent: the mail worker signs its unsubscribe link with the key from SSM.
    h.http("ConsentFunction", http_event("apigw-http-post-product-update.json", session), 202, "POST /v1/operator/product-updates")

    sent_before = sum(1 for p, _, _ in h.providers.requests if p.startswith("/sendgrid/"))
    # E-mails wait as ids; the product update is a broadcast job whose steps (also on the mail
    # queue) queue the next until its audience is done: the one consenting user gets it.
    bodies = h.worker("MailWorkerFunction", "sqs-mail.json", "MailQueue", "mail batch")
    drained = False
    for _ in range(20):
        more = h.worker("MailWorkerFunction", "sqs-mail.json", "MailQueue", "broadcast step", required=False)
        if not more:
            drained = True
            break
        bodies += more
    check(drained, "the broadcast's steps came to an end")
    emails = sum(1 for body in bodies if "broadcast_job" not in json.loads(body))
    steps = len(bodies) - emails
    check(steps >= 1, f"the product update ran as broadcast steps on the mail queue: {steps}")
    sent = sum(1 for p, _, _ in h.providers.requests if p.startswith("/sendgrid/")) - sent_before
    check(sent == emails + 1, f"SendGrid received {sent} of {emails} e-mails and the product update")
    check(
        all(auth == f"Bearer {SECRETS['SendGridApiKeyParameter']}" for p, auth, _ in h.providers.requests if p.startswith("/sendgrid/")),
        "the mail worker authenticates with the key from the SendGridApiKeyParameter SecureString",
    )
    # The consent function verifies that link with the same key, also from SSM.
    tokens = [
        m.group(1)
        for p, _, body in h.providers.requests
        if p.startswith("/sendgrid/")
        for m in [re.search(rb"/v1/unsubscribe\?token=([A-Za-z0-9_.\-]+)", body)]
        if m
    ]
    if check(len(tokens) == 1, f"one e-mail (the product update) carries an unsubscribe link: {len(tokens)}"):
        event = http_event("apigw-http-post-unsubscribe.json")
        token = tokens[0].decode()
        event["rawQueryString"] = f"token={token}"
        event["queryStringParameters"] = {"token": token}
        answer = h.http("ConsentFunction", event, 200, "POST /v1/unsubscribe (RFC 8058 one-click)")
        check(answer == {"purpose": "product_updates", "granted": False}, f"the unsubscribe withdrew product_updates: {answer}")

    report = h.invoke("RetentionSweeperFunction", json.loads((EVENTS / "schedule-retention-sweep.json").read_text()), "scheduled run")
    if check(isinstance(report, dict) and ("skipped" in report or len(report) > 0), f"the sweeper answers a report: {report}"):
        print(f"  ok RetentionSweeperFunction scheduled run: {json.dumps(report)[:200]}", flush=True)

    # Stripe's webhook, signed with the endpoint secret the tracking function reads from SSM.
    event = http_event("apigw-http-post-stripe-webhook.json")
    invoice = json.loads(event["body"])
    invoice["created"] = int(time.time())
    invoice["data"]["object"]["metadata"]["organisation_id"] = login.get("organisation_id")
    event["body"] = json.dumps(invoice)
    stamp = str(int(time.time()))
    mac = hmac.new(SECRETS["StripeWebhookSecretParameter"].encode(), f"{stamp}.{event['body']}".encode(), hashlib.sha256)
    event["headers"]["stripe-signature"] = f"t={stamp},v1={mac.hexdigest()}"
    stored = h.http("TrackingFunction", event, 200, "POST /v1/webhooks/stripe")
    check(stored == {"status": "stored"}, f"the invoice is stored: {stored}")

    # Cancellation answers at once with the erasure job; the rights worker (its queue) runs it.
    accepted = h.http("SignupFunction", http_event("apigw-http-delete-me.json", session), 202, "DELETE /v1/me")
    check(accepted.get("status") == "queued" and accepted.get("job_id"), f"an erasure job is queued: {accepted}")
    h.http("SignupFunction", http_event("apigw-http-post-session.json"), 401, "POST /v1/sessions while erasing")
    # The organisation's job, then its member's job (fanned out onto the same queue).
    h.worker("RightsWorkerFunction", "sqs-rights.json", "RightsQueue", "organisation erasure job")
    h.worker("RightsWorkerFunction", "sqs-rights.json", "RightsQueue", "member erasure job")
    event = http_event("apigw-http-get-erasure-job.json")
    job_id = str(accepted.get("job_id"))
    for where in (event, event["requestContext"]["http"]):
        field = "rawPath" if where is event else "path"
        where[field] = where[field].replace("JOB_ID", job_id)
    event["pathParameters"] = {"job_id": job_id}
    progress = h.http("SignupFunction", event, 200, "GET /v1/erasure-jobs/{job_id}")
    check(
        progress.get("status") == "completed" and len(progress.get("retained", [])) == 1,
        f"the organisation's erasure completed, the invoice retained: {progress}",
    )

    # Art. 19: the member's completed job queued an erase call; the marketing worker signs in
    # to Google as the service account (key from SSM) and asks GA4 to delete the user id it
    # was sent; Meta has no such call and is recorded as not possible.
    h.worker("MarketingWorkerFunction", "sqs-marketing.json", "MarketingQueue", "erase calls (Art. 19)")
    sent_ids = {
        json.loads(body).get("user_id") for p, _, body in h.providers.requests if p.startswith("/ga4/") and body
    } - {None}
    deletions = [json.loads(body) for p, _, body in h.providers.requests if p == "/google/userDeletionRequests:upsert"]
    check(
        any(p == "/google/token" for p, _, _ in h.providers.requests) and len(deletions) == 1,
        f"the worker signed in to Google and asked once for a deletion: {len(deletions)}",
    )
    check(
        len(sent_ids) == 1 and [d["id"]["userId"] for d in deletions] == list(sent_ids),
        f"the deletion names the user id GA4 was sent: {sent_ids} vs {deletions}",
    )
    records = h.moto.dynamodb.scan(
        TableName=physical["Table"]["Ref"],
        FilterExpression="begins_with(SK, :recipient)",
        ExpressionAttributeValues={":recipient": {"S": "RECIPIENT#"}},
    )["Items"]
    outcomes = {r["SK"]["S"]: json.dumps(r) for r in records}
    check(
        "confirmed" in outcomes.get("RECIPIENT#google_analytics", "")
        and "not_possible" in outcomes.get("RECIPIENT#facebook", ""),
        f"the erasure's recipients are recorded: GA4 confirmed, Meta not possible: {sorted(outcomes)}",
    )


def check_export_link(export: dict):
    url = export.get("url") or export.get("download_url") or ""
    if not check(bool(url), f"the export answer carries a link: {export}"):
        return
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    expires = int(query.get("X-Amz-Expires", ["0"])[0])
    check(0 < expires <= 3600, f"the export link is presigned for at most an hour: X-Amz-Expires={expires}")


def report_iam(h: Harness) -> None:
    print("== IAM: every recorded call is allowed by the function's role", flush=True)
    for logical, resource in h.stack.functions().items():
        statements = iam.role_statements(h.stack, logical)
        calls = h.calls[logical]
        denied = iam.denied(calls, statements)
        for call in denied:
            check(False, f"{logical}: its role does not allow {call}")
        distinct = sorted({f"{c.action} {c.resource.split(':')[-1]}" for c in calls})
        if not denied:
            print(f"  ok {logical}: {len(calls)} calls allowed ({', '.join(distinct)})", flush=True)
        # Each policy on its own: without it, would a recorded call be denied? A policy no call
        # needs is reported; and this check is shown to fail when a needed one is removed.
        policies = resource["Properties"].get("Policies", [])
        for i, policy in enumerate(policies):
            pruned = copy.deepcopy(h.stack.template)
            del pruned["Resources"][logical]["Properties"]["Policies"][i]
            without = iam.denied(calls, iam.role_statements(Stack(pruned, h.stack.parameters, h.stack.physical), logical))
            name = next(iter(policy)) if isinstance(policy, dict) else policy
            if not without:
                print(f"     policy {i + 1} ({name}) was needed by no recorded call", flush=True)
        # The Lambda service polls the queue with the role: not the function's own calls.
        unused = iam.unused(calls, [s for s in statements if s.source != "AWSLambdaSQSQueueExecutionRole"])
        for line in unused:
            print(f"     granted, never used: {line}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", default=os.environ.get("INFENTRE_TEST_MOTO_URL"))
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--structure-only", action="store_true")
    args = parser.parse_args()

    template = load(args.template)
    # Names stand in for the physical resources: the structure needs no moto.
    placeholders = {
        logical: {"Ref": logical, "Arn": f"arn:aws:placeholder:::{logical}", "QueueName": logical}
        for logical in template["Resources"]
    }
    structure_stack = Stack(template, parameters_for(template), placeholders)
    found = check_structure(structure_stack)
    check_template_rules(template)
    for problem in iam.check_against_sam(structure_stack):
        check(False, f"a policy template's expansion differs from SAM's: {problem}")
    if args.structure_only or failures:
        return finish("the template's functions and rules hold")
    if not args.moto:
        print("--moto or INFENTRE_TEST_MOTO_URL is needed", file=sys.stderr)
        return 2

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not args.no_build:
        packages = sorted({f["package"] for f in found.values()})
        command = ["cargo", "build", "--locked", "--bins"] + [a for p in packages for a in ("-p", p)]
        print(f"== {' '.join(command)}", flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
    logs = target / "lambda-harness"
    logs.mkdir(parents=True, exist_ok=True)

    moto = Moto(args.moto)
    run = uuid.uuid4().hex[:8]
    parameters = parameters_for(template)
    providers = Providers()
    # The secrets, as the deploy instructions create them: SecureString parameters in SSM.
    for name, value in secrets(providers).items():
        if name in template["Parameters"]:
            parameters[name] = f"/infentre-{run}/{name}"
            moto.ssm.put_parameter(Name=parameters[name], Value=value, Type="SecureString")
    physical = moto.create(template, run, parameters)
    stack = Stack(template, parameters, physical)
    harness = Harness(stack, moto, providers, target / "debug", logs)
    try:
        harness.start_all()
        if not failures:
            scenario(harness)
        print("== bad settings stop the init, naming the setting", flush=True)
        harness.bad_setting("MailWorkerFunction", {"SENDGRID_API_KEY_PARAMETER": ""}, "Missing(\"SENDGRID_API_KEY_PARAMETER\")")
        harness.bad_setting("ConsentFunction", {"INFENTRE_DPO_EMAIL": "nobody"}, "name: \"INFENTRE_DPO_EMAIL\"")
        harness.bad_setting("SignupFunction", {"INFENTRE_TABLE": ""}, "Missing(\"INFENTRE_TABLE\")")
    finally:
        harness.stop_all()
        providers.close()
    for logical, count in harness.answered.items():
        check(count > 0, f"{logical} answered no event")
    report_iam(harness)
    return finish("all functions answered; every AWS call is allowed by its role")


def parameters_for(template: dict) -> dict[str, str]:
    """The test values of the parameters this template declares."""
    return {k: v for k, v in PARAMETERS.items() if k in template.get("Parameters", {})}


def finish(success: str) -> int:
    if failures:
        print(f"\n{len(failures)} failure(s):", flush=True)
        for f in failures:
            print(f"  - {f}", flush=True)
        return 1
    print(f"\n{success}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

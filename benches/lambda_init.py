#!/usr/bin/env python3
"""Cold starts of the ten Lambda functions against two yardsticks, through the Lambda Runtime
API emulator of the harness (tests/lambda/runtime_api.py), in one run.

Each binary is built as the Lambda build builds it (fat LTO, one codegen unit, panic=abort,
strip; x86_64 here, each package on its own as `sam build` does: scripts/lambda-sizes) next to
  baseline-hello      lambda_runtime answering its event, and
  baseline-hello-sdk  the same with aws-config and a DynamoDB client built at init (one GetItem
                      per invocation): what the SDK costs by itself.
Then, `--starts` times in a shuffled order per round, every binary is started with the
environment template.yaml gives its function (against moto, as the harness does) and measured:
  init   from the process start to its first `GET /invocation/next`;
  first  its first invocation, from the event's hand-over to the answer: GET /healthz for the
         HTTP functions, an empty SQS batch for the workers (those with secrets fetch them
         from SSM then), the schedule event for the sweeper, a GetItem for hello-sdk.
Reported: medians, the ratio to hello-sdk and the difference in ms; the package (the
stripped binary, and zipped at level 9 as a Lambda package) against hello-sdk's.
Targets (#16): package <= 1.2 x hello-sdk, init <= hello-sdk + 1 ms.

Usage (moto as scripts/test starts it):
  benches/lambda_init.py --moto http://127.0.0.1:PORT [--starts 20] [--no-build] [--only consent,web] [--json out.json]
Run it on a quiet machine: the numbers are milliseconds, other processes show in them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lambda"))
import run_functions as harness  # noqa: E402
from runtime_api import FunctionProcess, RuntimeApi  # noqa: E402
from template import ACCOUNT, REGION, Stack, load  # noqa: E402

BASELINES = ["baseline-hello", "baseline-hello-sdk"]
SDK = "baseline-hello-sdk"


def build(names: list[str]) -> dict[str, int]:
    """Builds every binary alone with the Lambda settings; stripped sizes by binary name."""
    out = subprocess.run([str(ROOT / "scripts" / "lambda-sizes"), *names], cwd=ROOT, check=True, capture_output=True, text=True)
    sizes = {}
    for line in out.stdout.splitlines():
        name, size = line.split()
        sizes[name] = int(size)
    return sizes


def zipped(path: Path) -> int:
    """The size of a Lambda package holding the binary as `bootstrap`, deflated at level 9."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.write(path, "bootstrap")
    return len(buffer.getvalue())


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", default=os.environ.get("INFENTRE_TEST_MOTO_URL"))
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--no-build", action="store_true", help="use the binaries of the last build")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--binaries", help="take the binaries from this folder (implies --no-build), e.g. target/debug for a smoke run")
    parser.add_argument("--only", help="comma-separated binaries (e.g. consent,tracking-worker): measure these functions only")
    args = parser.parse_args()
    if not args.moto:
        print("--moto or INFENTRE_TEST_MOTO_URL is needed (start moto as scripts/test does)", file=sys.stderr)
        return 2

    template = load(str(ROOT / "template.yaml"))
    structure = harness.Stack(template, harness.parameters_for(template), {
        logical: {"Ref": logical, "Arn": f"arn:aws:placeholder:::{logical}", "QueueName": logical}
        for logical in template["Resources"]
    })
    functions = {
        logical: resource["Metadata"]["BuildProperties"]["Binary"] for logical, resource in structure.functions().items()
    }
    if args.only:
        chosen = set(args.only.split(","))
        functions = {logical: binary for logical, binary in functions.items() if binary in chosen}
    if not args.no_build and not args.binaries:
        print("== building each binary alone with the Lambda settings (scripts/lambda-sizes)", flush=True)
        build(list(functions.values()) + BASELINES)
    target = Path(args.binaries) if args.binaries else Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    binaries = {logical: target / binary for logical, binary in functions.items()}
    binaries.update({name: target / name for name in BASELINES})

    # The stack in moto, as the harness creates it; secrets as SecureString parameters.
    moto = harness.Moto(args.moto)
    run = uuid.uuid4().hex[:8]
    parameters = harness.parameters_for(template)
    providers = harness.Providers()
    for name, value in harness.secrets(providers).items():
        if name in template["Parameters"]:
            parameters[name] = f"/infentre-{run}/{name}"
            moto.ssm.put_parameter(Name=parameters[name], Value=value, Type="SecureString")
    stack = Stack(template, parameters, moto.create(template, run, parameters))
    runner = harness.Harness(stack, moto, providers, target, target)
    table = next(p["Ref"] for logical, p in stack.physical.items() if template["Resources"][logical]["Type"] == "AWS::DynamoDB::Table")

    def environment(name: str) -> dict[str, str]:
        if name in functions:
            return runner.environment(name)
        return {k: v for k, v in runner.environment(next(iter(functions))).items() if k.startswith("AWS_")}

    def event(name: str) -> dict:
        if name == "baseline-hello":
            return {"hello": "world"}
        if name == SDK:
            return {"table": table, "pk": "BENCH", "sk": "BENCH"}
        events = template["Resources"][name]["Properties"].get("Events", {})
        kinds = {e["Type"] for e in events.values()}
        if "SQS" in kinds:
            return {"Records": []}
        if "Schedule" in kinds or "ScheduleV2" in kinds:
            return json.loads((harness.EVENTS / "schedule-retention-sweep.json").read_text())
        return harness.http_event("apigw-http-get-healthz.json")

    def ok(name: str, answer) -> bool:
        if answer.kind != "response":
            return False
        payload = answer.json()
        return payload.get("statusCode", 200) == 200 if isinstance(payload, dict) else True

    init: dict[str, list[float]] = {name: [] for name in binaries}
    first: dict[str, list[float]] = {name: [] for name in binaries}
    print(f"== {args.starts} cold starts of {len(binaries)} binaries, in a shuffled order each round", flush=True)
    try:
        for round_ in range(args.starts):
            order = list(binaries)
            random.shuffle(order)
            for name in order:
                api = RuntimeApi(function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
                process = FunctionProcess(str(binaries[name]), environment(name), api, name=name)
                try:
                    init[name].append(process.wait_until_ready())
                    answer = process.invoke(event(name), timeout=60)
                    if not ok(name, answer):
                        print(f"{name}: its first invocation failed: {answer.kind} {answer.body[:300]!r}", file=sys.stderr)
                        return 1
                    first[name].append(answer.seconds)
                finally:
                    process.stop()
                    api.close()
            print(f"  round {round_ + 1}/{args.starts}", flush=True)
    finally:
        providers.close()

    sdk_size = binaries[SDK].stat().st_size
    sdk_zip = zipped(binaries[SDK])
    sdk_init, sdk_first = median_ms(init[SDK]), median_ms(first[SDK])
    rows = []
    for name, path in binaries.items():
        size, package = path.stat().st_size, zipped(path)
        rows.append({
            "binary": name if name in BASELINES else functions[name],
            "stripped_bytes": size,
            "zip9_bytes": package,
            "package_ratio": package / sdk_zip,
            "stripped_ratio": size / sdk_size,
            "init_ms": median_ms(init[name]),
            "init_ratio": median_ms(init[name]) / sdk_init,
            "init_over_sdk_ms": median_ms(init[name]) - sdk_init,
            "first_ms": median_ms(first[name]),
            "first_ratio": median_ms(first[name]) / sdk_first,
            "starts": len(init[name]),
        })
    print("\n| binary | stripped | zip -9 | package / hello-sdk | init median | init / hello-sdk | init − hello-sdk | first invocation | first / hello-sdk |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['binary']} | {r['stripped_bytes'] / 1e6:.2f} MB | {r['zip9_bytes'] / 1e6:.2f} MB | {r['package_ratio']:.2f} | "
            f"{r['init_ms']:.2f} ms | {r['init_ratio']:.2f} | {r['init_over_sdk_ms']:+.2f} ms | {r['first_ms']:.2f} ms | {r['first_ratio']:.2f} |"
        )
    functions_only = [r for r in rows if r["binary"] not in BASELINES]
    within = [r for r in functions_only if r["package_ratio"] <= 1.2 and r["init_over_sdk_ms"] <= 1.0]
    print(f"\n{len(within)} of {len(functions_only)} functions within package <= 1.2 x hello-sdk and init <= hello-sdk + 1 ms")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

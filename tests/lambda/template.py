"""template.yaml as CloudFormation would evaluate it, for tests: parameters filled with test
values, every resource given a physical name, intrinsic functions resolved.

Only what the template uses is evaluated: Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Equals,
Fn::Not, Fn::Or, Fn::And, Fn::Join, Fn::Select, Condition, and the pseudo parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

from cfnlint.decode import decode_str

REGION = "eu-north-1"
ACCOUNT = "123456789012"
PARTITION = "aws"

# What `!Ref AWS::NoValue` resolves to: dropped from lists and maps.
NO_VALUE = object()


def load(path: str | Path) -> dict:
    template, matches = decode_str(Path(path).read_text())
    if matches or template is None:
        raise ValueError(f"{path} does not parse: {matches}")
    return template


class Stack:
    """A template with parameter values and physical names: evaluates its expressions."""

    def __init__(self, template: dict, parameters: dict[str, str], physical: dict[str, dict[str, str]]):
        self.template = template
        self.parameters = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in parameters:
                self.parameters[name] = parameters[name]
            elif "Default" in spec:
                self.parameters[name] = str(spec["Default"])
            else:
                raise KeyError(f"parameter {name} has no default and no test value")
        # physical[logical_id] = {"Ref": ..., "Arn": ..., "QueueName": ...}
        self.physical = physical

    @property
    def resources(self) -> dict:
        return self.template["Resources"]

    def functions(self) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == "AWS::Serverless::Function"}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "infentre-test",
        }[name]

    def ref(self, name: str) -> str:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        return self.physical[name]["Ref"]

    def get_att(self, logical: str, attribute: str) -> str:
        try:
            return self.physical[logical][attribute]
        except KeyError:
            raise KeyError(f"no test value for {logical}.{attribute}") from None

    def resolve(self, value):
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        (key, arg), = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical, attribute)
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

            def substitute(match):
                name = match.group(1)
                if name in extra:
                    return str(extra[name])
                if "." in name and not name.startswith("AWS::"):
                    return self.get_att(*name.split(".", 1))
                return self.ref(name)

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if key == "Fn::If":
            name, then, otherwise = arg
            return self.resolve(then if self.condition(name) else otherwise)
        if key == "Fn::Equals":
            a, b = self.resolve(arg)
            return a == b
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        if key == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(i) for i in self.resolve(items))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        return {key: self.resolve(arg)}

    def function_environment(self, logical: str) -> dict[str, str]:
        """The environment CloudFormation gives the function: Globals, then its own."""
        variables = dict(self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
        own = self.functions()[logical]["Properties"].get("Environment", {}).get("Variables", {})
        variables.update(own)
        environment = {}
        for name, value in variables.items():
            resolved = self.resolve(value)
            if resolved is NO_VALUE:
                continue
            environment[name] = "" if resolved is None else str(resolved)
        return environment

    def function_property(self, logical: str, name: str, default=None):
        own = self.functions()[logical]["Properties"]
        if name in own:
            return own[name]
        return self.template.get("Globals", {}).get("Function", {}).get(name, default)

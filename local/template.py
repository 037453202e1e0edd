"""Reads template.yaml, the source of truth for routes, resources and environment, and resolves
the CloudFormation intrinsic functions it uses to local values."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

STACK_NAME = "refdesk-local"
API_ID = "local"  # the HTTP API's id here: what !Ref HttpApi gives, and the events' requestContext.apiId
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_NAME,
}


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads the short tags (!Ref, !GetAtt, !Sub, !If ...) as their long forms."""


def _short_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _short_tag)


def load(path: Path) -> dict:
    """A CloudFormation template as plain data, its short tags as their long forms (a SafeLoader:
    no Python objects)."""
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str


@dataclass(frozen=True)
class QueueTrigger:
    queue: str  # logical id
    batch_size: int
    report_failures: bool


@dataclass(frozen=True)
class ScheduleTrigger:
    """A `Schedule` event (EventBridge): run by local.timer. Only rate() expressions run locally."""

    name: str  # the event's logical name in the template
    expression: str  # rate(1 minute), cron(...)
    seconds: float | None  # the rate's period; None for what the local timer cannot run (cron)
    enabled: bool = True


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _schedule_trigger(name: str, properties: dict) -> ScheduleTrigger:
    expression = str(properties.get("Schedule") or properties.get("ScheduleExpression") or "").strip()
    match = _RATE.match(expression)
    seconds = int(match[1]) * _UNIT_SECONDS[match[2].rstrip("s")] if match else None
    enabled = properties.get("Enabled", True) is not False and properties.get("State", "ENABLED") != "DISABLED"
    return ScheduleTrigger(name=name, expression=expression, seconds=seconds, enabled=enabled)


@dataclass(frozen=True)
class Function:
    name: str
    code_dir: Path
    handler: str
    memory_mb: int
    timeout_s: int
    routes: tuple[Route, ...]
    queue_triggers: tuple[QueueTrigger, ...]
    schedules: tuple[ScheduleTrigger, ...] = ()  # Schedule events: EventBridge in AWS, local.timer here


@dataclass(frozen=True)
class WebSocketRoute:
    key: str  # $connect, $disconnect, $default, or a value the route selection expression picks
    function: str  # the logical id of the function its Lambda proxy integration invokes
    two_way: bool  # it has a route response: the function's answer goes back to the client as a frame


@dataclass(frozen=True)
class WebSocketApi:
    """An AWS::ApiGatewayV2::Api of ProtocolType WEBSOCKET, with its stage and routes (local.websocket)."""

    name: str
    stage: str
    selection_expression: str  # "$request.body.<field>": the frame's field that names its route
    routes: tuple[WebSocketRoute, ...]

    def route(self, key: str) -> WebSocketRoute | None:
        return next((route for route in self.routes if route.key == key), None)


class Template:
    def __init__(self, path: Path, parameter_values: dict):
        self.root = path.parent
        self.data = load(path)
        self.parameters = {name: parameter_values.get(name, spec.get("Default"))
                           for name, spec in self.data.get("Parameters", {}).items()}
        missing = sorted(name for name, value in self.parameters.items() if value is None)
        if missing:
            raise ValueError(f"template parameters without a local value: {', '.join(missing)}")

    def resources(self, resource_type: str) -> dict[str, dict]:
        """Logical id -> Properties of every resource of that type."""
        return {name: resource.get("Properties", {}) for name, resource in self.data["Resources"].items()
                if resource["Type"] == resource_type}

    @property
    def _function_globals(self) -> dict:
        return self.data.get("Globals", {}).get("Function", {})

    def functions(self) -> list[Function]:
        defaults = self._function_globals
        functions = []
        for name, props in self.resources("AWS::Serverless::Function").items():
            def setting(key, fallback=None):
                return props.get(key, defaults.get(key, fallback))

            events = list(props.get("Events", {}).values())
            named_events = props.get("Events", {}).items()
            functions.append(Function(
                name=name,
                code_dir=self.root / setting("CodeUri"),
                handler=setting("Handler"),
                memory_mb=int(setting("MemorySize", 128)),
                timeout_s=int(setting("Timeout", 3)),
                routes=tuple(Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"], name)
                             for event in events if event["Type"] == "HttpApi"),
                queue_triggers=tuple(_queue_trigger(event["Properties"])
                                     for event in events if event["Type"] == "SQS"),
                schedules=tuple(_schedule_trigger(event_name, event.get("Properties", {}))
                                for event_name, event in named_events
                                if event["Type"] in ("Schedule", "ScheduleV2")),
            ))
        return functions

    def environment(self) -> dict:
        """Globals' variables plus each function's own, unresolved. Locally every handler shares
        one process environment, so two functions may not give a variable different values."""
        merged = dict(self._function_globals.get("Environment", {}).get("Variables", {}))
        for name, props in self.resources("AWS::Serverless::Function").items():
            for key, value in props.get("Environment", {}).get("Variables", {}).items():
                if merged.setdefault(key, value) != value:
                    raise ValueError(f"{name} sets {key} differently from another function; "
                                     "the local stack runs all handlers in one environment")
        return merged

    def websocket_apis(self) -> list[WebSocketApi]:
        """The WebSocket APIs, each route's integration followed to the function it invokes."""
        integrations = {name: _integrated_function(props)
                        for name, props in self.resources("AWS::ApiGatewayV2::Integration").items()}
        two_way = {props["RouteId"]["Ref"] for props in self.resources("AWS::ApiGatewayV2::RouteResponse").values()}
        stages = {props["ApiId"]["Ref"]: props["StageName"]
                  for props in self.resources("AWS::ApiGatewayV2::Stage").values()}
        routes = self.resources("AWS::ApiGatewayV2::Route")
        return [WebSocketApi(name=name, stage=stages[name], selection_expression=props["RouteSelectionExpression"],
                             routes=tuple(WebSocketRoute(route["RouteKey"], integrations[_target(route)],
                                                         route_name in two_way)
                                          for route_name, route in routes.items() if route["ApiId"] == {"Ref": name}))
                for name, props in self.resources("AWS::ApiGatewayV2::Api").items()
                if props.get("ProtocolType") == "WEBSOCKET"]

    def function_arns(self, resolve) -> dict[str, str]:
        """Each function's ARN (its FunctionName resolved, or the stack's name and its logical id)
        -> its logical id: what a schedule's Target names (local.timer.ScheduleRunner)."""
        found = {}
        for name, props in self.resources("AWS::Serverless::Function").items():
            function_name = resolve(props["FunctionName"]) if "FunctionName" in props else f"{STACK_NAME}-{name}"
            found[f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"] = name
        return found

    def layer_dirs(self) -> list[Path]:
        return [self.root / props["ContentUri"]
                for props in self.resources("AWS::Serverless::LayerVersion").values()]

    def resolver(self, refs: dict, attributes: dict) -> "Resolver":
        """refs: logical id -> its !Ref value; attributes: "Id.Attribute" -> its !GetAtt value.
        The resolver reads both dicts when called, so they may still be filling up."""
        apis = {name: API_ID for name in [*self.resources("AWS::Serverless::HttpApi"),
                                          *self.resources("AWS::ApiGatewayV2::Api")]}
        apis.update({name: props["StageName"] for name, props in self.resources("AWS::ApiGatewayV2::Stage").items()})
        return Resolver(self.parameters, self.data.get("Conditions", {}), refs, attributes, apis)


def _queue_trigger(properties: dict) -> QueueTrigger:
    queue = properties["Queue"]
    if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
        raise ValueError("an SQS event's Queue must be !GetAtt <queue>.Arn to run locally")
    return QueueTrigger(queue=queue["Fn::GetAtt"][0],
                        batch_size=int(properties.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []))


def _integrated_function(properties: dict) -> str:
    """The function a Lambda proxy integration invokes: its IntegrationUri names ${Function.Arn}."""
    found = re.search(r"\$\{(\w+)\.Arn\}", str(properties.get("IntegrationUri", "")))
    if properties.get("IntegrationType") != "AWS_PROXY" or not found:
        raise ValueError("a WebSocket integration must be a Lambda proxy (AWS_PROXY) to run locally")
    return found[1]


def _target(route: dict) -> str:
    """The integration a route's Target ("integrations/${Integration}") names."""
    found = re.fullmatch(r"integrations/\$\{(\w+)\}", str(route.get("Target", {}).get("Fn::Sub", "")))
    if not found:
        raise ValueError(f"route {route.get('RouteKey')}: Target must be !Sub integrations/${{Integration}}")
    return found[1]


@dataclass
class Resolver:
    parameters: dict
    conditions: dict
    refs: dict
    attributes: dict
    apis: dict = field(default_factory=dict)  # APIs -> API_ID (local.gateway, local.websocket); stages -> names

    def __call__(self, value):
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._attribute(".".join(argument))
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self(when_true if self._condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = self(argument)
                return left == right
            if key == "Condition":
                return self._condition(argument)
            if key.startswith("Fn::"):
                raise ValueError(f"{key} is not supported by the local stack")
        return {key: self(item) for key, item in value.items()}

    def _ref(self, name: str):
        for source in (self.parameters, PSEUDO_PARAMETERS, self.refs, self.apis):
            if name in source:
                return source[name]
        raise KeyError(f"!Ref {name} has no local value")

    def _attribute(self, name: str):
        if name not in self.attributes:
            raise KeyError(f"!GetAtt {name} has no local value")
        return self.attributes[name]

    def _condition(self, name: str) -> bool:
        return bool(self(self.conditions[name]))

    def _sub(self, argument) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = self(variables)

        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            return str(self._attribute(name) if "." in name else self._ref(name))

        return re.sub(r"\$\{([^}]*)\}", replace, text)

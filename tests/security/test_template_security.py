"""What template.yaml promises about security and operations (docs/OPERATIONS.md): least-privilege
IAM, concurrency reserved only when asked (ReserveConcurrency) and capped by throttles otherwise, a
throttled HTTP API with a privacy-safe access log, a WebSocket access log only where the account
allows it (ApiGatewayAccountLogging), logs that expire, and alarms and an optional dashboard for
the queues and functions. `deployed()` decides the template's conditions for given parameters."""
from __future__ import annotations

import json
import re

from tests.security.cfn import (ROOT, deployed, deployed_resources, deployed_setting, function_setting, functions,
                                get_att, parameter_values, ref, resources, template)

PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix", "AWS::StackName",
                     "AWS::StackId", "AWS::NoValue", "AWS::NotificationARNs"}


# IAM

def _policy_statements() -> list[tuple[str, dict]]:
    """(where, statement) for every IAM statement the template writes itself. Trust policies
    (AssumeRolePolicyDocument) are not permissions and are left out."""
    found = []
    for name, function in resources("AWS::Serverless::Function").items():
        for index, policy in enumerate(function.get("Properties", {}).get("Policies", []) or []):
            # A string (managed policy) or a SAM policy template ({"DynamoDBCrudPolicy": ...}) hides
            # what it grants; only inline statements can be reviewed here.
            assert isinstance(policy, dict) and "Statement" in policy, (
                f"{name}.Policies[{index}] is not an inline statement list: {policy!r}")
            found += [(f"{name}.Policies[{index}]", statement) for statement in policy["Statement"]]
    for name, role in resources("AWS::IAM::Role").items():
        properties = role["Properties"]
        assert not properties.get("ManagedPolicyArns"), f"{name} attaches managed policies; write statements"
        for policy in properties.get("Policies", []):
            found += [(f"{name}.{policy['PolicyName']}", statement)
                      for statement in policy["PolicyDocument"]["Statement"]]
    for name, policy in resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items():
        found += [(name, statement) for statement in policy["Properties"]["PolicyDocument"]["Statement"]]
    return found


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _resource_problem(resource, owned: set[str], parameters: set[str]) -> str | None:
    """None if the resource names something this stack owns; else what is wrong with it.
    A wildcard is allowed only below such a name (parameter${SsmPrefix}/*), never instead of one
    (*, table/*, arn:...:${AWS::AccountId}:*)."""
    attribute = get_att(resource)
    if attribute:
        return None if attribute[0] in owned else f"GetAtt of {attribute[0]}, not a resource of this template"
    name = ref(resource)
    if name:  # a Ref to a parameter could be given "*"
        return None if name in owned else f"Ref of {name}, not a resource of this template"
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        if not isinstance(text, str):
            return "use the one-argument !Sub form"
        before_wildcard = text.split("*", 1)[0]
        named = {match for match in re.findall(r"\$\{([^}!.]+)", before_wildcard) if match not in PSEUDO_PARAMETERS}
        if "*" in text and not named & (owned | parameters):
            return "wildcard not below a name this stack owns"
        return None
    if isinstance(resource, str):
        return "wildcard" if "*" in resource else None
    return f"unreviewable resource {resource!r}"


# Actions that AWS cannot scope to a resource: "*" is their only possible Resource. None of them
# reads data. (PutMetricData can be narrowed with a cloudwatch:namespace condition instead.)
# Where the alarms go (the other topic, DeliveryEventsTopic, carries SES's bounces to the dispatcher)
ALARM_TOPIC = "AlarmTopic"
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                        "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries", "cloudwatch:PutMetricData"}


def test_iam_statements_grant_named_actions_on_this_stacks_resources_only():
    """No "*" in any action (no dynamodb:*, no Get*), no NotAction/NotResource, and every resource
    is one of this stack's (its table, queues, log groups, or parameters under SsmPrefix)."""
    data = template()
    owned, parameters = set(data["Resources"]), set(data.get("Parameters", {}))
    statements = _policy_statements()
    assert statements, "no IAM statement found: has the template's shape changed?"
    problems = []
    for where, statement in statements:
        if {"NotAction", "NotResource", "NotPrincipal"} & set(statement):
            problems.append(f"{where}: Not* element in {statement}")
        if statement.get("Effect") != "Allow":
            continue
        problems += [f"{where}: wildcard action {action}" for action in _listed(statement.get("Action", []))
                     if not isinstance(action, str) or "*" in action]
        if statement.get("Resource") == "*" and set(_listed(statement.get("Action", []))) <= RESOURCELESS_ACTIONS:
            continue
        for resource in _listed(statement.get("Resource", [])):
            problem = _resource_problem(resource, owned, parameters)
            if problem:
                problems.append(f"{where}: {problem}: {resource!r}")
    assert not problems, "\n".join(problems)


# Managed policies SAM attaches to the roles it generates, and why each is acceptable.
ACCEPTED_SAM_MANAGED_POLICIES = {
    # logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents: writing the function's own log.
    "AWSLambdaBasicExecutionRole",
    # xray:PutTraceSegments, xray:PutTelemetryRecords, sampling reads: X-Ray has no resource-level
    # permissions, and these only upload traces (SAM adds it with Tracing: Active).
    "AWSXrayWriteOnlyAccess",
}


def test_roles_sam_generates_hold_no_wildcard_data_access(monkeypatch):
    """SAM turns Policies and event sources into roles. An SQS trigger, for one, attaches
    AWSLambdaSQSQueueExecutionRole (receive and delete on every queue of the account), which is
    why the dispatcher has a role of its own."""
    from samtranslator.translator.transform import transform

    class ManagedPolicies:  # offline: SAM asks IAM for managed policy ARNs otherwise
        def load(self):
            return {}

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    source = json.loads(json.dumps(template()))
    for resource in source["Resources"].values():  # the translator wants S3 locations, as after packaging
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key.zip"
    translated = transform(source, {}, ManagedPolicies())
    roles = {name: resource["Properties"] for name, resource in translated["Resources"].items()
             if resource["Type"] == "AWS::IAM::Role"}
    assert roles
    attached = {name: [arn.rsplit("/", 1)[-1] if isinstance(arn, str) else arn
                       for arn in properties.get("ManagedPolicyArns", [])]
                for name, properties in roles.items()}
    unexpected = {name: [policy for policy in policies if policy not in ACCEPTED_SAM_MANAGED_POLICIES]
                  for name, policies in attached.items()}
    unexpected = {name: policies for name, policies in unexpected.items() if policies}
    assert not unexpected, f"managed policies to review: {unexpected}"


def _role_grants(role: dict) -> list[tuple[str, object]]:
    return [(action, resource)
            for policy in role["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"] if statement["Effect"] == "Allow"
            for action in _listed(statement["Action"]) for resource in _listed(statement["Resource"])]


def test_roles_written_by_hand_grant_what_sam_would_have_added():
    """A function with its own Role gets nothing from SAM: its queue trigger, its log group and,
    with Tracing: Active, X-Ray must be granted there."""
    roles = resources("AWS::IAM::Role")
    checked = 0
    for name, function in resources("AWS::Serverless::Function").items():
        role_name = (get_att(function["Properties"].get("Role")) or (None,))[0]
        if role_name is None:
            continue
        checked += 1
        grants = _role_grants(roles[role_name])
        needed = []
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                needed += [(action, event["Properties"]["Queue"])
                           for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")]
        log_group = (function_setting(function, "LoggingConfig") or {}).get("LogGroup")
        if log_group:
            needed += [(action, {"Fn::GetAtt": [ref(log_group), "Arn"]})
                       for action in ("logs:CreateLogStream", "logs:PutLogEvents")]
        missing = [grant for grant in needed if grant not in grants]
        if function_setting(function, "Tracing") == "Active":
            missing += [action for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
                        if action not in {granted for granted, _ in grants}]
        assert not missing, f"{role_name} lacks {missing}"
    assert checked, "no function has its own role any more: drop this test or the dispatcher's note"


# Concurrency, throttling, access logging

def test_no_function_reserves_concurrency_with_the_default_parameters():
    """A new account's concurrency quota can be 10 and Lambda keeps 10 unreserved: any reservation
    fails the first deployment. The API throttles and the queue triggers' maximum cap instead."""
    data = deployed()
    for name, function in deployed_resources(data, "AWS::Serverless::Function", "AWS::Lambda::Function").items():
        assert deployed_setting(data, function, "ReservedConcurrentExecutions") is None, f"{name} reserves concurrency"


def test_reserve_concurrency_reserves_for_every_function_within_the_quota_it_documents():
    """ReserveConcurrency "true": every function reserves 1..100, and the total is the formula the
    parameter's description and docs/OPERATIONS.md give (7 x FunctionConcurrency +
    DispatcherConcurrency + 4: 2 each for the sweeper (overlapping sweeps are harmless) and the
    reports function, whose queue trigger's least maximum concurrency is 2; plus what Lambda keeps
    unreserved)."""
    data = deployed(ReserveConcurrency="true")
    values = parameter_values(ReserveConcurrency="true")
    total = 0
    http_functions = 0
    for name, function in deployed_resources(data, "AWS::Serverless::Function").items():
        reserved = deployed_setting(data, function, "ReservedConcurrentExecutions")
        assert reserved is not None, f"{name} has no ReservedConcurrentExecutions"
        amount = _number_parameter(reserved, values)
        assert 1 <= amount <= 100, f"{name}: reserved concurrency out of 1..100"
        total += amount
        http_functions += ref(reserved) == "FunctionConcurrency"
    assert http_functions == 7
    assert total == 7 * int(values["FunctionConcurrency"]) + int(values["DispatcherConcurrency"]) + 4


def _number_parameter(value, values: dict | None = None) -> int:
    """The value of a literal, or of a Ref to a Number parameter (its Default, or `values`),
    checking that the parameter cannot be set below 1."""
    name = ref(value)
    if name is None:
        return int(value)
    parameter = template()["Parameters"][name]
    assert parameter["Type"] == "Number", f"{name} is not a Number"
    lowest = min(map(int, parameter["AllowedValues"])) if "AllowedValues" in parameter else int(parameter.get("MinValue", 0))
    assert lowest >= 1, f"{name} may be set below 1"
    return int((values or {}).get(name, parameter["Default"]))


def test_no_queue_is_polled_and_the_dispatcher_is_woken_with_its_failures_retried():
    """An SQS trigger long-polls its queue around the clock, billed with no patron at all: the
    dispatcher is invoked asynchronously instead (refdesk.jobs.wake), and Lambda retries an
    invocation that crashed or timed out mid-job."""
    for overrides in ({}, {"ReserveConcurrency": "true"}):
        data = deployed(**overrides)
        functions = deployed_resources(data, "AWS::Serverless::Function")
        assert not [name for name, function in functions.items()
                    for event in function["Properties"].get("Events", {}).values() if event["Type"] == "SQS"]
        retries = functions["DispatcherFunction"]["Properties"]["EventInvokeConfig"]
        assert retries["MaximumRetryAttempts"] >= 1 and retries["MaximumEventAgeInSeconds"] <= 3600
        reserved = deployed_setting(data, functions["DispatcherFunction"], "ReservedConcurrentExecutions")
        assert (reserved is not None) == (overrides.get("ReserveConcurrency") == "true")


def _http_apis() -> dict[str, dict]:
    return resources("AWS::Serverless::HttpApi")


def test_every_route_is_on_the_throttled_http_api():
    """An HttpApi event without ApiId would make SAM create an implicit API with no throttle or log."""
    apis = _http_apis()
    assert apis, "no HTTP API"
    for name, api in apis.items():
        settings = api["Properties"].get("DefaultRouteSettings", {})
        for key in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
            assert isinstance(settings.get(key), (int, float)) and settings[key] > 0, f"{name}: {key} not set"
    assert not resources("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")
    assert all(api["Properties"].get("ProtocolType") == "WEBSOCKET" for api in _websocket_apis().values()), \
        "an HTTP API must be an AWS::Serverless::HttpApi: throttled and logged (see the WebSocket test below)"
    for name, function in resources("AWS::Serverless::Function").items():
        for event_name, event in function["Properties"].get("Events", {}).items():
            assert event["Type"] in ("HttpApi", "SQS", "Schedule", "SNS"), f"{name}.{event_name}: review {event['Type']} events"
            if event["Type"] == "SNS":
                # reviewed: SES's bounces and complaints, published by SES only (DeliveryEventsTopicPolicy)
                assert (name, event["Properties"]["Topic"]) == ("DispatcherFunction", {"Ref": "DeliveryEventsTopic"})
            if event["Type"] == "Schedule" and event["Properties"]["Schedule"] == "cron(0 6 1 * ? *)":
                # reviewed: the reports function's monthly CSV export; it writes the same object key,
                # so a bounded retry (within the hour) is harmless and better than a missing month
                invoke_config = function["Properties"].get("EventInvokeConfig", {})
                assert name == "ReportsFunction", f"{name}.{event_name}: review this schedule"
                assert invoke_config.get("MaximumRetryAttempts", 2) <= 2 and invoke_config.get(
                    "MaximumEventAgeInSeconds", 21600) <= 3600, f"{name}: a monthly export retried for hours"
            elif event["Type"] == "Schedule":
                # Nothing else runs on a clock: the sweep runs on one-time EventBridge Scheduler
                # schedules, only while something waits (refdesk.waiting), so an idle desk invokes nothing.
                raise AssertionError(f"{name}.{event_name}: review this schedule ({event['Properties']['Schedule']})")
            if event["Type"] == "HttpApi":
                assert ref(event["Properties"].get("ApiId")) in apis, f"{name}.{event_name} is on an implicit API"


# $context variables the access log may hold. Nothing that identifies a patron or carries what they
# sent: no identity.* (sourceIp, userAgent), no path (session ids), no query string, no body, no
# integrationErrorMessage (may quote an exception). Review a new one for patron privacy first.
ACCESS_LOG_VARIABLES = {
    "requestId", "requestTime", "requestTimeEpoch", "routeKey", "httpMethod", "status", "protocol",
    "responseLength", "responseLatency", "integrationStatus", "integrationLatency", "error.message",
    "error.responseType", "stage", "apiId",
}


def _log_group(value) -> dict:
    attribute = get_att(value) or (ref(value), None)
    log_groups = resources("AWS::Logs::LogGroup")
    assert attribute[0] in log_groups, f"{value!r} is not a log group of this template"
    return log_groups[attribute[0]]


def test_http_api_access_log_holds_no_patron_data():
    for name, api in _http_apis().items():
        settings = api["Properties"].get("AccessLogSettings")
        assert settings, f"{name} has no access log"
        _log_group(settings["DestinationArn"])
        log_format = settings["Format"]
        fields = json.loads(log_format)  # one JSON object per request
        assert {"requestId", "status", "routeKey"} <= {value.removeprefix("$context.") for value in fields.values()}
        variables = set(re.findall(r"\$context\.([A-Za-z0-9_.]+)", log_format))
        assert variables <= ACCESS_LOG_VARIABLES, f"review for patron privacy: {variables - ACCESS_LOG_VARIABLES}"
        assert "$input" not in log_format and "$request" not in log_format


def _websocket_apis() -> dict[str, dict]:
    return resources("AWS::ApiGatewayV2::Api")


# A WebSocket API's events add eventType (CONNECT, MESSAGE, DISCONNECT). Not connectionId: with the
# table it leads to a chat session.
WEBSOCKET_ACCESS_LOG_VARIABLES = ACCESS_LOG_VARIABLES | {"eventType"}


def _websocket_stages(data: dict) -> dict[str, dict]:
    """WebSocket API logical id -> its one stage's Properties, in a deployed() template."""
    stages = {}
    for api in _websocket_apis():
        [stages[api]] = [stage["Properties"] for stage in deployed_resources(data, "AWS::ApiGatewayV2::Stage").values()
                         if ref(stage["Properties"]["ApiId"]) == api]
    return stages


def test_websocket_stages_log_nothing_unless_the_account_has_api_gateways_logging_role():
    """A WebSocket stage that writes execution or access logs needs the account's API Gateway
    CloudWatch role, which a new account lacks: the first deployment would fail. Nor does any stage
    log execution (LoggingLevel) or full requests (DataTraceEnabled), with or without the role."""
    for overrides in ({}, {"ApiGatewayAccountLogging": "false"}):
        data = deployed(**overrides)
        for name, stage in _websocket_stages(data).items():
            assert "AccessLogSettings" not in stage, f"{name} writes an access log with {overrides or 'the defaults'}"
            throttle = stage.get("DefaultRouteSettings", {})
            assert throttle.get("ThrottlingBurstLimit", 0) > 0 and throttle.get("ThrottlingRateLimit", 0) > 0, name
        assert not deployed_resources(data, "AWS::ApiGateway::Account"), "the account's role is not this stack's"
    for overrides in ({}, {"ApiGatewayAccountLogging": "true"}):
        for name, stage in _websocket_stages(deployed(**overrides)).items():
            for settings in [stage.get("DefaultRouteSettings", {}), *stage.get("RouteSettings", {}).values()]:
                assert settings.get("LoggingLevel", "OFF") == "OFF" and not settings.get("DataTraceEnabled"), name
    assert template()["Parameters"]["ApiGatewayAccountLogging"]["Default"] == "false"


def test_websocket_apis_are_throttled_invoke_only_this_stacks_functions_and_log_no_patron_data():
    """With ApiGatewayAccountLogging "true", the access log has only reviewed fields."""
    apis = _websocket_apis()
    assert apis, "no WebSocket API (the web chat's live connection)"
    functions_ = set(functions())
    data = deployed(ApiGatewayAccountLogging="true")
    for name, stage in _websocket_stages(data).items():
        settings = stage.get("DefaultRouteSettings", {})
        for key in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
            assert isinstance(settings.get(key), (int, float)) and settings[key] > 0, f"{name}: {key} not set"
        destination = get_att(stage["AccessLogSettings"]["DestinationArn"])
        assert destination[0] in deployed_resources(data, "AWS::Logs::LogGroup"), f"{name}: no log group"
        _log_group(stage["AccessLogSettings"]["DestinationArn"])
        log_format = stage["AccessLogSettings"]["Format"]
        fields = {value.removeprefix("$context.") for value in json.loads(log_format).values()}
        assert {"requestId", "status", "routeKey", "eventType"} <= fields
        variables = set(re.findall(r"\$context\.([A-Za-z0-9_.]+)", log_format))
        unreviewed = variables - WEBSOCKET_ACCESS_LOG_VARIABLES
        assert not unreviewed, f"review for patron privacy: {unreviewed}"
        assert "$input" not in log_format and "$request" not in log_format
        routes = [route["Properties"] for route in resources("AWS::ApiGatewayV2::Route").values()
                  if ref(route["Properties"]["ApiId"]) == name]
        assert {"$connect", "$disconnect", "$default"} <= {route["RouteKey"] for route in routes}
        integrations = resources("AWS::ApiGatewayV2::Integration")
        for route in routes:
            integration = re.fullmatch(r"integrations/\$\{(\w+)\}", route["Target"]["Fn::Sub"])[1]
            uri = integrations[integration]["Properties"]["IntegrationUri"]["Fn::Sub"]
            assert re.search(r"\$\{(\w+)\.Arn\}", uri)[1] in functions_, f"{name} {route['RouteKey']}: {uri}"
    permissions = [permission["Properties"] for permission in resources("AWS::Lambda::Permission").values()]
    for permission in permissions:  # API Gateway may invoke a function from this stack's APIs only
        source = permission["SourceArn"]["Fn::Sub"]
        assert re.search(r":\$\{(\w+)\}/", source)[1] in apis, f"invocable from elsewhere: {source}"


def test_logs_expire():
    log_groups = resources("AWS::Logs::LogGroup")
    assert log_groups
    for name, log_group in log_groups.items():
        retention = (log_group.get("Properties") or {}).get("RetentionInDays")
        assert retention is not None, f"{name} is kept forever"
        assert _number_parameter(retention) <= 365, f"{name}: kept longer than a year by default"
    for name, function in functions().items():
        logging_config = function_setting(function, "LoggingConfig") or {}
        assert "LogGroup" in logging_config, f"{name} logs to a group Lambda creates, kept forever"
        _log_group(logging_config["LogGroup"])


# Alarms and dashboard (how many, and what they cost: test_idle_cost.py)

def _alarms(data: dict | None = None) -> dict[str, dict]:
    data = data or deployed()
    return {name: alarm["Properties"] for name, alarm in deployed_resources(data, "AWS::CloudWatch::Alarm").items()}


def _alarm_on(namespace: str, metric: str, dimension: str | None, value=None) -> dict:
    matching = [alarm for alarm in _alarms().values()
                if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric
                and (dimension is None and not alarm.get("Dimensions")
                     or {"Name": dimension, "Value": value} in alarm.get("Dimensions", []))]
    assert matching, f"no alarm on {namespace} {metric} of {value}"
    return matching[0]


def _dead_letter_queues() -> set[str]:
    return {get_att(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])[0]
            for queue in resources("AWS::SQS::Queue").values() if "RedrivePolicy" in queue.get("Properties", {})}


# Lines a failing function writes to its log group: the handler's (refdesk.observability) and Lambda's.
FAILURE_LINES = ("unhandled error", "Task timed out", "Runtime.ImportModuleError", "Runtime exited with error")


def _matches(pattern: str, line: str) -> bool:
    """A CloudWatch Logs term pattern of the form ?"a" ?"b" ...: any of the phrases in the line."""
    terms = re.findall(r'\?"([^"]+)"', pattern)
    assert terms and re.fullmatch(r'(\?"[^"]+"\s*)+', pattern), f"review this filter pattern: {pattern}"
    return any(term in line for term in terms)


def test_alarms_cover_dead_letters_late_jobs_failed_deliveries_and_every_functions_failures():
    topic = ALARM_TOPIC
    for queue in _dead_letter_queues():
        alarm = _alarm_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                          {"Fn::GetAtt": [queue, "QueueName"]})
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    _alarm_on("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", {"Fn::GetAtt": ["JobsQueue", "QueueName"]})
    # The Slack/Twilio/SES failure rate: the average of 1 per failed attempt and 0 per one done.
    rate = _alarm_on("RefDesk", "JobFailed", "service", "refdesk")
    assert rate["Statistic"] == "Average" and 0 < rate["Threshold"] < 1
    # Every function's failures, in one metric: a filter on each function's log group counts them.
    errors = _alarm_on("RefDesk", "FunctionErrors", None)
    assert errors["Threshold"] == 0 and errors["ComparisonOperator"] == "GreaterThanThreshold"
    assert errors["Statistic"] == "Sum" and errors["Period"] <= 300
    filters = {ref(metric_filter["Properties"]["LogGroupName"]): metric_filter["Properties"]
               for metric_filter in resources("AWS::Logs::MetricFilter").values()}
    for name, function in functions().items():
        log_group = ref(function_setting(function, "LoggingConfig")["LogGroup"])
        assert log_group in filters, f"{name}'s failures are not counted (no metric filter on {log_group})"
        metric_filter = filters[log_group]
        assert all(_matches(metric_filter["FilterPattern"], line) for line in FAILURE_LINES), name
        [transformation] = metric_filter["MetricTransformations"]
        assert (transformation["MetricNamespace"], transformation["MetricName"]) == ("RefDesk", "FunctionErrors")
        assert transformation["MetricValue"] == "1" and "Dimensions" not in transformation
        assert "DefaultValue" not in transformation, "a default value gives the metric data (and cost) every hour"
    for name, alarm in _alarms().items():
        assert {"Ref": topic} in alarm.get("AlarmActions", []), f"{name} notifies no one"
        assert alarm.get("TreatMissingData") == "notBreaching", f"{name}: no data means nothing happened"
    subscriptions = resources("AWS::SNS::Subscription")
    assert all(subscription.get("Condition") for subscription in subscriptions.values()), \
        "the e-mail subscription must be optional (empty AlarmEmail = none)"


def test_the_failure_line_a_handler_writes_is_the_one_the_metric_filters_count():
    from refdesk import observability

    assert observability.UNHANDLED_ERROR in FAILURE_LINES
    patterns = {metric_filter["Properties"]["FilterPattern"] for metric_filter in resources("AWS::Logs::MetricFilter").values()}
    assert patterns and all(_matches(pattern, f'"message":"{observability.UNHANDLED_ERROR}"') for pattern in patterns)


def test_dashboard_when_asked_shows_the_alarms_queues_functions_and_api_errors():
    data = deployed(CreateDashboard="true")
    [dashboard] = deployed_resources(data, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    known = set(data["Resources"]) | set(data["Parameters"]) | PSEUDO_PARAMETERS
    referenced = {match.split(".")[0] for match in re.findall(r"\$\{([^}]+)\}", body)}
    assert referenced <= known, f"unknown names in the dashboard: {referenced - known}"
    parsed = json.loads(re.sub(r"\$\{[^}]+\}", "0", body))  # numbers stand in for the substitutions
    metrics = [row for widget in parsed["widgets"] if widget["type"] == "metric"
               for row in widget["properties"]["metrics"]]
    metric_names = {row[1] for row in metrics if row[1] != "."}
    assert {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "Errors", "Duration",
            "Throttles", "4xx", "5xx"} <= metric_names
    for name in functions():
        assert body.count("${%s}" % name) >= 3, f"{name} is missing from the function widgets"
    for queue in resources("AWS::SQS::Queue"):
        assert "${%s.QueueName}" % queue in body, f"{queue} is not on the dashboard"
    [alarm_widget] = [widget for widget in parsed["widgets"] if widget["type"] == "alarm"]
    shown = set(re.findall(r"\$\{(\w+)\.Arn\}", body))
    assert len(alarm_widget["properties"]["alarms"]) == len(shown) and shown == set(_alarms(data)), \
        "the alarm widget shows every alarm"


def test_outputs_name_the_alarm_topic_and_the_dashboard_when_there_is_one():
    topic = ALARM_TOPIC
    assert any(ref(output["Value"]) == topic for output in deployed()["Outputs"].values())
    for setting, expected in (("true", 1), ("false", 0)):
        outputs = deployed(CreateDashboard=setting)["Outputs"]
        assert sum("${Dashboard}" in str(output["Value"]) for output in outputs.values()) == expected, setting


def test_every_checkov_suppression_is_explained_in_the_template_and_the_operations_doc():
    text = (ROOT / "docs" / "OPERATIONS.md").read_text()
    skips = [(name, skip) for name, resource in template()["Resources"].items()
             for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips, "no checkov suppression found: has the Metadata shape changed?"
    for name, skip in skips:
        assert len(skip.get("comment", "")) >= 40, f"{name}: explain why {skip['id']} is skipped"
    undocumented = {skip["id"] for _, skip in skips} - set(re.findall(r"CKV_AWS_\d+", text))
    assert not undocumented, f"add these to docs/OPERATIONS.md: {sorted(undocumented)}"

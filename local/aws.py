"""AWS for the local stack and the tests: an embedded moto server (unless another endpoint is
given) holding the tables and queues declared in template.yaml, and the SES sender identity
(SesSenderIdentity) verified, as moto, like the SES sandbox, sends from verified identities only.

The embedded moto also answers DynamoDB requests with injected faults (`dynamodb_faults`, the
control API's {"dynamodb": …}), as DynamoDB answers them: {"method": "UpdateItem", "error":
"ProvisionedThroughputExceededException", "count": 5} throttles the next 5 UpdateItem requests
with HTTP 400 (boto3's own retries take some of them); "commit": true carries the request out
first, as when the answer is lost.

The tests use moto in this process instead (in_process=True): boto3's requests to AWS are answered
by moto from a botocore `before-send` hook, with the same faults, without a server between them."""
from __future__ import annotations

import json
import logging
import os
import threading
import urllib.parse
import urllib.request
import uuid
from http import HTTPStatus

import boto3

from local.faults import Fault, InjectedFaults
from local.template import ACCOUNT_ID, REGION, STACK_NAME, Template

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# CloudFormation properties of AWS::SQS::Queue that are not queue attributes of the same name.
NOT_QUEUE_ATTRIBUTES = {"QueueName", "Tags", "RedrivePolicy"}
TABLE_ARGUMENTS = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                   "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification")
# Straight to 127.0.0.1, whatever proxy the developer's shell names.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# The errors a DynamoDB fault may answer with: DynamoDB's HTTP status and error type for each.
DYNAMODB_ERRORS = {
    "ProvisionedThroughputExceededException":
        (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    "ThrottlingException": (400, "com.amazon.coral.availability#ThrottlingException"),
    "RequestLimitExceeded": (400, "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded"),
    "InternalServerError": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
}
DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."  # X-Amz-Target: DynamoDB_20120810.UpdateItem


class LocalAws:
    """endpoint_url: an AWS endpoint to use (AWS_ENDPOINT_URL); None starts moto on 127.0.0.1,
    or, with in_process, answers this process's boto3 with moto directly (no endpoint: boto3 calls
    AWS's own URLs, and moto takes every such request before it leaves the process; requests to
    other hosts, such as the tests' Lambda recorder on 127.0.0.1, go out as usual).
    `environment` holds the variables that point boto3 at these resources; unless
    use_in_this_process is False (the tests set them per test), they are set in os.environ."""

    def __init__(self, template: Template, endpoint_url: str | None = None, *, use_in_this_process: bool = True,
                 in_process: bool = False):
        if in_process and endpoint_url:
            raise ValueError("in_process is moto in this process: no endpoint_url")
        self.embedded = not endpoint_url
        self.in_process = in_process
        self.dynamodb_faults = DynamoDBFaults()
        self._moto = _start_moto(self.dynamodb_faults) if self.embedded and not in_process else None
        if self._moto:
            host, port = self._moto.get_host_and_port()
            endpoint_url = f"http://{host}:{port}"
        if in_process:
            _InProcessMoto.start(self.dynamodb_faults)
        self.endpoint_url = endpoint_url
        self.environment = {**({"AWS_ENDPOINT_URL": endpoint_url} if endpoint_url else {}),
                            "AWS_DEFAULT_REGION": REGION, **DUMMY_CREDENTIALS}
        self.sqs = self.client("sqs")
        self.dynamodb = self.client("dynamodb")
        self.ses = self.client("ses")
        self.scheduler = self.client("scheduler")
        self.s3 = self.client("s3")  # made once: a client takes longer to make than a reset's calls
        self.refs: dict[str, str] = {}
        self.attributes: dict[str, str] = {}
        self.dead_letter_queue_urls: list[str] = []
        self._template = template
        self._create_resources()
        if use_in_this_process:
            self.use_in_this_process()

    def client(self, service: str):
        """A boto3 client for these resources, configured as use_in_this_process() configures
        the process, whether or not it was called."""
        values = self._effective_environment()
        token = None if self.embedded else os.environ.get("AWS_SESSION_TOKEN")
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=values["AWS_DEFAULT_REGION"],
                            aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"], aws_session_token=token)

    def use_in_this_process(self) -> None:
        """boto3 in this process (the handlers included) uses these resources."""
        os.environ.update(self._effective_environment())

    def _effective_environment(self) -> dict[str, str]:
        """For the embedded moto, `environment`: dummy credentials replace the developer's, so
        that nothing can reach real AWS with them. For another endpoint, what the developer
        exported wins."""
        if self.embedded:
            return dict(self.environment)
        return {name: os.environ.get(name) or value for name, value in self.environment.items()}

    def stop(self) -> None:
        if self._moto:
            self._moto.stop()
        if self.in_process:
            _InProcessMoto.stop()

    def reset(self) -> None:
        """The embedded moto back to template.yaml's table and queues, empty (what the tests do
        before each test): moto forgets everything, in flight and de-duplication ids included, and
        the resources are made again under the same names, URLs and ARNs, and the SES sender
        verified again (6 calls). Pending DynamoDB faults are dropped."""
        if not self.embedded:
            raise RuntimeError("reset() is for the embedded moto only")
        self.dynamodb_faults.clear()
        if self.in_process:
            _InProcessMoto.reset()
        else:
            reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
            with _direct.open(reset, timeout=30) as answer:
                answer.read()
        self._create_resources(again=True)

    @property
    def ses_sender_identity(self) -> str:
        return self._template.parameters.get("SesSenderIdentity") or ""

    def sent_mail(self) -> list[dict]:
        """The e-mails SES accepted, oldest first, as moto recorded them: {"id", "from", "to",
        "subject", "body"}. The embedded moto's record is read in this process; another endpoint
        must be a moto server (its /moto-api/data.json)."""
        if self.embedded:
            from moto.ses.models import ses_backends

            messages = [vars(message) for message in ses_backends[ACCOUNT_ID][REGION].sent_messages]
        else:
            with _direct.open(f"{self.endpoint_url}/moto-api/data.json", timeout=30) as answer:
                messages = json.load(answer).get("ses", {}).get("Message", [])
        return [{"id": message.get("id", ""), "from": message.get("source", ""),
                 "to": [address for addresses in (message.get("destinations") or {}).values() for address in addresses]
                 if isinstance(message.get("destinations"), dict) else list(message.get("destinations") or []),
                 "subject": message.get("subject", ""), "body": message.get("body", message.get("raw_data", ""))}
                for message in messages]

    def forget_mail(self) -> None:
        """Empties the embedded moto's record of sent e-mails (another endpoint's is left alone)."""
        if self.embedded:
            from moto.ses.models import ses_backends

            ses_backends[ACCOUNT_ID][REGION].sent_messages.clear()

    def dead_letter_count(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return sum(int(value)
                   for url in self.dead_letter_queue_urls
                   for value in self.sqs.get_queue_attributes(QueueUrl=url,
                                                              AttributeNames=names)["Attributes"].values())

    def _create_resources(self, again: bool = False) -> None:
        """again: after reset(), when nothing exists and every name and ARN is known already
        (moto makes the same ones again), which saves half the calls."""
        resolve = self._template.resolver(self.refs, self.attributes)
        self._create_tables(self._template, resolve, again)
        self._create_buckets(self._template)
        self._create_schedule_groups(self._template)
        self._name_roles(self._template)
        self._name_configuration_sets(self._template)
        if again:
            self._create_queues_again(self._template, resolve)
        else:
            self.dead_letter_queue_urls = self._create_queues(self._template, resolve)
        self._verify_sender()

    def _create_schedule_groups(self, template: Template) -> None:
        """Each AWS::Scheduler::ScheduleGroup, named as CloudFormation names one without a Name
        (the stack's name and its logical id): the sweep's one-time wake-ups go there, and
        local.timer.ScheduleRunner fires them."""
        for name, props in template.resources("AWS::Scheduler::ScheduleGroup").items():
            group = props.get("Name") or f"{STACK_NAME}-{name}"
            try:
                self.scheduler.create_schedule_group(Name=group)
            except self.scheduler.exceptions.ConflictException:
                pass
            self.refs[name] = group
            self.attributes[f"{name}.Arn"] = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/{group}"

    def _name_roles(self, template: Template) -> None:
        """IAM roles are not made here (nothing checks them locally); their ARNs are, for the
        environment that names one (WAKE_UP_SCHEDULER_ROLE_ARN)."""
        for name in template.resources("AWS::IAM::Role"):
            self.attributes[f"{name}.Arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK_NAME}-{name}"

    def _name_configuration_sets(self, template: Template) -> None:
        """SES configuration sets are named, not made: moto's SendEmail ignores the one it is
        given and publishes no events (tests publish SES's notifications themselves)."""
        for name in template.resources("AWS::SES::ConfigurationSet"):
            self.refs[name] = f"{STACK_NAME}-{name}"

    def _verify_sender(self) -> None:
        """The template's SES sender identity, verified (both calls are idempotent)."""
        identity = self.ses_sender_identity
        if "@" in identity:
            self.ses.verify_email_identity(EmailAddress=identity)
        elif identity:
            self.ses.verify_domain_identity(Domain=identity)

    def _create_tables(self, template: Template, resolve, again: bool) -> None:
        dynamodb = self.dynamodb
        for name, raw in template.resources("AWS::DynamoDB::Table").items():
            props = resolve(raw)
            table_name = props.get("TableName") or f"{STACK_NAME}-{name}"
            description = None if again else _table_description(dynamodb, table_name)
            if description is None:
                arguments = {key: props[key] for key in TABLE_ARGUMENTS if key in props}
                description = dynamodb.create_table(TableName=table_name, **arguments)["TableDescription"]
                if "TimeToLiveSpecification" in props:
                    dynamodb.update_time_to_live(TableName=table_name,
                                                 TimeToLiveSpecification=props["TimeToLiveSpecification"])
            self.refs[name] = table_name
            self.attributes[f"{name}.Arn"] = description["TableArn"]

    def _create_buckets(self, template: Template) -> None:
        """The template's S3 buckets (empty; create_bucket is idempotent in us-east-1), named as
        CloudFormation would name them without a BucketName: `!Ref` gives the name."""
        for name in template.resources("AWS::S3::Bucket"):
            bucket = f"{STACK_NAME}-{name}".lower()
            self.s3.create_bucket(Bucket=bucket)
            self.refs[name] = bucket
            self.attributes[f"{name}.Arn"] = f"arn:aws:s3:::{bucket}"

    def _create_queues(self, template: Template, resolve) -> list[str]:
        """Creates the queues, then sets redrive policies, which name other queues' ARNs.
        Returns the URLs of the dead-letter queues."""
        queues = template.resources("AWS::SQS::Queue")
        for name, raw in queues.items():
            props = resolve({key: value for key, value in raw.items() if key != "RedrivePolicy"})
            try:
                url = self.sqs.get_queue_url(QueueName=_queue_name(name, props))["QueueUrl"]
            except self.sqs.exceptions.QueueDoesNotExist:
                url = self.sqs.create_queue(QueueName=_queue_name(name, props),
                                            Attributes=_queue_attributes(props))["QueueUrl"]
            self.refs[name] = url
            self.attributes[f"{name}.Arn"] = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        dead_letter_arns = set()
        for name, raw in queues.items():
            if "RedrivePolicy" in raw:
                policy = resolve(raw["RedrivePolicy"])
                dead_letter_arns.add(policy["deadLetterTargetArn"])
                self.sqs.set_queue_attributes(QueueUrl=self.refs[name],
                                              Attributes={"RedrivePolicy": json.dumps(policy)})
        return [self.refs[name] for name in queues if self.attributes[f"{name}.Arn"] in dead_letter_arns]

    def _create_queues_again(self, template: Template, resolve) -> None:
        """The queues as _create_queues() made them, each in one call: dead-letter queues first,
        so that the redrive policies can name them."""
        queues = template.resources("AWS::SQS::Queue")
        for name, raw in sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1]):
            props = resolve(raw)
            attributes = _queue_attributes(props)
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            self.sqs.create_queue(QueueName=_queue_name(name, props), Attributes=attributes)


def _table_description(dynamodb, table_name: str) -> dict | None:
    try:
        return dynamodb.describe_table(TableName=table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return None


def _queue_name(name: str, props: dict) -> str:
    fifo = props.get("FifoQueue") is True
    return props.get("QueueName") or f"{STACK_NAME}-{name}{'.fifo' if fifo else ''}"


def _queue_attributes(props: dict) -> dict[str, str]:
    return {key: _attribute_text(value) for key, value in props.items() if key not in NOT_QUEUE_ATTRIBUTES}


class DynamoDBFaults(InjectedFaults):
    """Faults for DynamoDB requests: `method` is the operation ("" = any), `error` one of
    DYNAMODB_ERRORS (its status unless `status` is given)."""

    def set(self, spec) -> None:
        for item in spec if isinstance(spec, list) else [spec]:
            _check_dynamodb_fault(Fault.from_spec(item))
        super().set(spec)

    def add(self, fault: Fault) -> None:
        _check_dynamodb_fault(fault)
        super().add(fault)


def _check_dynamodb_fault(fault: Fault) -> None:
    if fault.error not in DYNAMODB_ERRORS:
        raise ValueError(f"a DynamoDB fault's error is one of {', '.join(DYNAMODB_ERRORS)}")


def _fault_answer(fault: Fault) -> tuple[int, dict[str, str], bytes]:
    """DynamoDB's answer to a request that `fault` fails: its status, headers and JSON body."""
    status, kind = DYNAMODB_ERRORS[fault.error]
    status = fault.status or status
    body = json.dumps({"__type": kind, "message": fault.message or f"injected fault: {fault.error}"}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(body)),
                    "x-amzn-RequestId": uuid.uuid4().hex}, body


class _InProcessMoto:
    """moto answering this process's boto3 (LocalAws(in_process=True)): one botocore `before-send`
    handler, registered for every botocore session made from now on (boto3's default session is
    made again, so that the handlers' clients have it too), hands each request for an AWS URL to
    moto, after the DynamoDB faults, as the embedded server does (_with_dynamodb_faults): a
    request a fault matches is answered with the fault's error (carried out first if it commits),
    and DynamoDB requests are carried out one at a time. A request moto does not know is refused
    here, never sent to AWS. Requests to other hosts (127.0.0.1) go out as usual. The `requests`
    library's requests to AWS (a presigned S3 POST or GET followed by a test) are moto's too."""

    _faults: DynamoDBFaults | None = None
    _registered = False
    _one_at_a_time = threading.Lock()
    _requests_mock = None

    @classmethod
    def start(cls, faults: DynamoDBFaults) -> None:
        if cls._faults is not None:
            raise RuntimeError("moto is already answering this process's boto3")
        from botocore.handlers import BUILTIN_HANDLERS

        from local import moto_lean
        from moto.core.models import botocore_stubber  # noqa: F401  (moto's own hook: left disabled)

        moto_lean.install()
        if not cls._registered:
            BUILTIN_HANDLERS.append(("before-send", cls._answer))
            cls._registered = True
        boto3.DEFAULT_SESSION = None  # made again on first use, with the handler
        cls._faults = faults
        cls._requests_mock = _requests_to_moto()
        cls.reset()

    @classmethod
    def stop(cls) -> None:
        cls._faults = None
        if cls._requests_mock is not None:
            cls._requests_mock.stop(allow_assert=False)
            cls._requests_mock = None
        cls.reset()
        boto3.DEFAULT_SESSION = None

    @staticmethod
    def reset() -> None:
        """What moto's server does for POST /moto-api/reset."""
        from moto.core.base_backend import BackendDict
        from moto.core.model_instances import reset_model_data

        BackendDict.reset()
        reset_model_data()

    @classmethod
    def _answer(cls, request, event_name: str = "", **kwargs):
        faults = cls._faults
        if faults is None:
            return None
        host = urllib.parse.urlsplit(request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1"):
            return None  # a local server (the Lambda recorder, the @connections stand-in)
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        if service != "dynamodb":
            answer = botocore_stubber.process_request(request)
        else:
            operation = event_name.split(".")[2]
            fault = faults.take(operation)
            with cls._one_at_a_time:
                answer = botocore_stubber.process_request(request) if fault is None or fault.commit else None
            if fault is not None:
                answer = _fault_answer(fault)
        if answer is None:
            raise RuntimeError(f"moto in this process does not answer {request.method} {request.url}")
        status, headers, body = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(body))


def _requests_to_moto():
    """The `requests` library's requests for an AWS URL answered by moto in this process (the
    `responses` library, as moto's own mock_aws does it); every other request goes out as usual."""
    import re

    import responses
    from moto.core.models import botocore_stubber

    def answer(request):
        answered = botocore_stubber.process_prepared_request(request)
        if answered is None:
            raise RuntimeError(f"moto in this process does not answer {request.method} {request.url}")
        return answered

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    aws = re.compile(r"https?://([^/?#]+\.)?amazonaws\.com([/?#:].*)?$")
    for method in ("GET", "DELETE", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
        mock.add(responses.CallbackResponse(method=method, url=aws, callback=answer, content_type=None))
    mock.add_passthru("http")
    mock.start()
    return mock


def _with_dynamodb_faults(app, faults: DynamoDBFaults):
    """moto's WSGI app, answering a DynamoDB request that a pending fault matches as DynamoDB
    would: the fault's status and a JSON body with the error's __type and a message. DynamoDB
    requests are carried out one at a time: moto checks a condition and writes in two steps, so
    two racing conditional writes could both succeed, which DynamoDB never lets happen."""
    one_at_a_time = threading.Lock()

    def faulty_app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(DYNAMODB_TARGET_PREFIX):
            return app(environ, start_response)
        fault = faults.take(target[len(DYNAMODB_TARGET_PREFIX):])
        if fault is None:
            with one_at_a_time:
                return list(app(environ, start_response))
        if fault.commit:  # carried out; only its answer is lost
            with one_at_a_time:
                answer = app(environ, lambda *args, **kwargs: None)
                for _ in answer:
                    pass
                getattr(answer, "close", lambda: None)()
        else:  # the body is read, so that the connection stays usable
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        status, headers, body = _fault_answer(fault)
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [body]

    return faulty_app


def _start_moto(dynamodb_faults: DynamoDBFaults):
    from moto.server import ThreadedMotoServer

    from local import moto_lean

    moto_lean.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # The server calls its app for each request: faults are checked before moto sees it.
    server._server.app = _with_dynamodb_faults(server._server.app, dynamodb_faults)
    return server


def _attribute_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)

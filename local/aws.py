"""AWS for the local stack: an embedded moto server (unless AWS_ENDPOINT_URL names another
endpoint) holding the tables and queues declared in template.yaml."""
from __future__ import annotations

import json
import logging
import os

import boto3

from local.template import REGION, STACK_NAME, Template

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# CloudFormation properties of AWS::SQS::Queue that are not queue attributes of the same name.
NOT_QUEUE_ATTRIBUTES = {"QueueName", "Tags", "RedrivePolicy"}
TABLE_ARGUMENTS = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                   "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification")


class LocalAws:
    def __init__(self, template: Template):
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        self.embedded = not endpoint
        self._moto = _start_moto() if self.embedded else None
        if self._moto:
            host, port = self._moto.get_host_and_port()
            endpoint = f"http://{host}:{port}"
        self.endpoint_url = endpoint
        _point_boto_at(endpoint, force=self.embedded)
        self.sqs = boto3.client("sqs")
        self.refs: dict[str, str] = {}
        self.attributes: dict[str, str] = {}
        resolve = template.resolver(self.refs, self.attributes)
        self._create_tables(template, resolve)
        self.dead_letter_queue_urls = self._create_queues(template, resolve)

    def stop(self) -> None:
        if self._moto:
            self._moto.stop()

    def dead_letter_count(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return sum(int(value)
                   for url in self.dead_letter_queue_urls
                   for value in self.sqs.get_queue_attributes(QueueUrl=url,
                                                              AttributeNames=names)["Attributes"].values())

    def _create_tables(self, template: Template, resolve) -> None:
        dynamodb = boto3.client("dynamodb")
        for name, raw in template.resources("AWS::DynamoDB::Table").items():
            props = resolve(raw)
            table_name = props.get("TableName") or f"{STACK_NAME}-{name}"
            try:
                description = dynamodb.describe_table(TableName=table_name)["Table"]
            except dynamodb.exceptions.ResourceNotFoundException:
                arguments = {key: props[key] for key in TABLE_ARGUMENTS if key in props}
                description = dynamodb.create_table(TableName=table_name, **arguments)["TableDescription"]
                if "TimeToLiveSpecification" in props:
                    dynamodb.update_time_to_live(TableName=table_name,
                                                 TimeToLiveSpecification=props["TimeToLiveSpecification"])
            self.refs[name] = table_name
            self.attributes[f"{name}.Arn"] = description["TableArn"]

    def _create_queues(self, template: Template, resolve) -> list[str]:
        """Creates the queues, then sets redrive policies, which name other queues' ARNs.
        Returns the URLs of the dead-letter queues."""
        queues = template.resources("AWS::SQS::Queue")
        for name, raw in queues.items():
            props = resolve({key: value for key, value in raw.items() if key != "RedrivePolicy"})
            fifo = props.get("FifoQueue") is True
            queue_name = props.get("QueueName") or f"{STACK_NAME}-{name}{'.fifo' if fifo else ''}"
            try:
                url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            except self.sqs.exceptions.QueueDoesNotExist:
                attributes = {key: _attribute_text(value) for key, value in props.items()
                              if key not in NOT_QUEUE_ATTRIBUTES}
                url = self.sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
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


def _start_moto():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


def _point_boto_at(endpoint: str, *, force: bool) -> None:
    """boto3 in this process (the handlers included) uses the endpoint. For the embedded moto,
    dummy credentials replace the developer's so that nothing can reach real AWS with them."""
    values = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, **DUMMY_CREDENTIALS}
    for name, value in values.items():
        if force:
            os.environ[name] = value
        else:
            os.environ.setdefault(name, value)


def _attribute_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)

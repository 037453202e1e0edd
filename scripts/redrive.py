"""Move the jobs that failed every attempt from the dead-letter queue back to the jobs queue, once
the cause (a Slack or Twilio outage, a revoked token) is fixed. Each job keeps its FIFO group,
so a conversation's jobs stay in order; the dispatcher's idempotency makes a job that had
partly run (a reply stored, a card posted) finish without doing anything twice.

    python scripts/redrive.py --local [URL]     the running `make dev` stack (default http://127.0.0.1:3000)
    python scripts/redrive.py --stack NAME      a deployed stack (its outputs name the queues)
    python scripts/redrive.py --dead-letter-queue URL --jobs-queue URL --dispatcher NAME

Nothing polls the jobs queue, so the dispatcher is then woken to drain it (refdesk.jobs).
--dry-run counts without moving. Jobs are received, sent, then deleted from the dead-letter
queue: a crash in between leaves a job in both queues, which is safe (it runs once more)."""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request
import uuid

import boto3

BATCH = 10


def local_config(base_url: str) -> dict:
    """The running local stack's /_local/api/config: its queues, endpoints and dispatcher."""
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{base_url}/_local/api/config",
                                                                          timeout=10) as answer:
        return json.load(answer)


def stack_queues(cloudformation, stack: str) -> tuple[str, str]:
    """(dead-letter queue URL, jobs queue URL) from a deployed stack's outputs."""
    outputs = {output["OutputKey"]: output["OutputValue"]
               for output in cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
    return outputs["DeadLetterQueueUrl"], outputs["JobsQueueUrl"]


def wake(lambda_client, dispatcher: str) -> None:
    """Nothing polls the jobs queue: the dispatcher is woken to drain what was moved (refdesk.jobs)."""
    lambda_client.invoke(FunctionName=dispatcher, InvocationType="Event", Payload=b"{}")


def redrive(sqs, dead_letter_queue: str, jobs_queue: str, *, dry_run: bool = False, limit: int = 10_000) -> int:
    """Moves up to `limit` jobs; returns how many were moved (or are waiting, with dry_run)."""
    if dry_run:
        attributes = sqs.get_queue_attributes(QueueUrl=dead_letter_queue,
                                              AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])
    moved = 0
    while moved < limit:
        messages = sqs.receive_message(QueueUrl=dead_letter_queue, MaxNumberOfMessages=BATCH, WaitTimeSeconds=1,
                                       VisibilityTimeout=60,
                                       MessageSystemAttributeNames=["MessageGroupId"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            # A new de-duplication id: the original may still be inside FIFO's five-minute window.
            sqs.send_message(QueueUrl=jobs_queue, MessageBody=message["Body"],
                             MessageGroupId=message["Attributes"]["MessageGroupId"],
                             MessageDeduplicationId=f"redrive-{uuid.uuid4().hex}",
                             # the attempts it had (refdesk.jobs): its next one looks before it posts
                             MessageAttributes=message.get("MessageAttributes", {}))
            sqs.delete_message(QueueUrl=dead_letter_queue, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", nargs="?", const="http://127.0.0.1:3000", metavar="URL")
    where.add_argument("--stack", metavar="NAME")
    where.add_argument("--dead-letter-queue", metavar="URL")
    parser.add_argument("--jobs-queue", metavar="URL")
    parser.add_argument("--dispatcher", metavar="NAME", help="the dispatcher function (with --dead-letter-queue)")
    parser.add_argument("--dry-run", action="store_true")
    options = parser.parse_args(argv)
    if options.local:
        config = local_config(options.local.rstrip("/"))
        local = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        [dead_letter_queue], jobs_queue = config["dead_letter_queue_urls"], config["jobs_queue_url"]
        sqs = boto3.client("sqs", endpoint_url=config["aws_endpoint_url"], **local)
        lambda_client = boto3.client("lambda", endpoint_url=config["lambda_endpoint_url"], **local)
        dispatcher = config["dispatcher_function_arn"]
    elif options.stack:
        dead_letter_queue, jobs_queue = stack_queues(boto3.client("cloudformation"), options.stack)
        sqs, lambda_client, dispatcher = boto3.client("sqs"), boto3.client("lambda"), f"{options.stack}-dispatcher"
    else:
        if not (options.jobs_queue and options.dispatcher):
            parser.error("--dead-letter-queue needs --jobs-queue and --dispatcher")
        dead_letter_queue, jobs_queue, sqs = options.dead_letter_queue, options.jobs_queue, boto3.client("sqs")
        lambda_client, dispatcher = boto3.client("lambda"), options.dispatcher
    count = redrive(sqs, dead_letter_queue, jobs_queue, dry_run=options.dry_run)
    if count and not options.dry_run:
        wake(lambda_client, dispatcher)
    print(f"{count} job(s) {'waiting in' if options.dry_run else 'moved back from'} the dead-letter queue")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""SQS consumer: every call to Slack and Twilio happens here. A failed job is tried again after
a backoff (refdesk.retry), and one given up is moved to the dead-letter queue (refdesk.dispatch)."""
import time

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from refdesk import dispatch, jobs
from refdesk.observability import count, logger, metrics, seconds, traced

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# Report every failure as batchItemFailures, even all of them: raising instead would make
# Lambda log each record's exception text, which can quote a phone number.
processor.raise_on_entire_batch_failure = False


def record_handler(record: SQSRecord) -> None:
    seconds("QueueAge", max(0.0, time.time() - int(record.attributes.sent_timestamp) / 1000))
    dispatch.run(jobs.Received(body=record.body, attempt=int(record.attributes.approximate_receive_count),
                               receipt_handle=record.receipt_handle, group_id=record.attributes.message_group_id,
                               message_id=record.message_id, earlier_attempts=_earlier_attempts(record)))


def _earlier_attempts(record: SQSRecord) -> int:
    value = (record.message_attributes.get(jobs.EARLIER_ATTEMPTS) or {}).get("stringValue") or ""
    return int(value) if value.isdigit() else 0


@traced
@logger.inject_lambda_context(log_event=False)  # never the event: it holds patron data
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    answer = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                      context=context)
    failed = len(answer.get("batchItemFailures") or [])
    if failed:
        count("JobsNotDone", failed)  # to be tried again (or skipped behind a failure in the same FIFO group)
    return answer

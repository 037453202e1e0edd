"""SQS consumer: every call to Slack and Twilio happens here. Failed records are retried by
SQS (partial batch response) and end in the dead-letter queue."""
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from refdesk import dispatch
from refdesk.observability import count, logger, metrics, traced

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# Report every failure as batchItemFailures, even all of them: raising instead would make
# Lambda log each record's exception text, which can quote a phone number.
processor.raise_on_entire_batch_failure = False


def record_handler(record: SQSRecord) -> None:
    dispatch.run(record.body, attempts=int(record.attributes.approximate_receive_count))


@traced
@logger.inject_lambda_context(log_event=False)  # never the event: it holds patron data
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    answer = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                      context=context)
    failed = len(answer.get("batchItemFailures") or [])
    if failed:
        count("JobsNotDone", failed)  # failed, or skipped behind a failure in the same FIFO group
    return answer

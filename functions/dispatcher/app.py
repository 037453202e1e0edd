"""SQS consumer: every call to Slack and Twilio happens here. Failed records are retried by
SQS (partial batch response) and end in the dead-letter queue."""
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from refdesk import dispatch
from refdesk.observability import logger

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# Report every failure as batchItemFailures, even all of them: raising instead would make
# Lambda log each record's exception text, which can quote a phone number.
processor.raise_on_entire_batch_failure = False


def record_handler(record: SQSRecord) -> None:
    dispatch.run(record.body, attempts=int(record.attributes.approximate_receive_count))


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)

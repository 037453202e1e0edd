"""scripts/bench.py's DynamoDB capacity units (CallCounter with DynamoCapacity), on template.yaml's
table in the embedded moto: a write is billed by the larger of the item before and after it (also
when its condition fails), twice in a transaction, plus each index entry it adds, changes or
removes; a read by the size read, half when eventually consistent."""
from __future__ import annotations

import os

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from scripts import bench

KB = 1024
WAITING = {"queue_pk": "WAITING", "queue_sk": "2026-12-07T10:00:00.000000Z#c1"}  # in GSI1 (store.keys.waiting)


@pytest.fixture
def table(aws):
    import boto3

    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


@pytest.fixture
def units(aws, monkeypatch):
    """The capacity units (read, write) one operation uses, as the bench counts them."""
    monkeypatch.setattr(BaseClient, "_make_api_call", BaseClient._make_api_call)  # put back afterwards
    counter = bench.CallCounter()
    counter.install(where=lambda: "test")

    def measured(operation) -> tuple[float, float]:
        with counter.bucket():
            try:
                operation()
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
        return counter.units["read", "test"], counter.units["write", "test"]
    return measured


def test_a_write_is_billed_per_kb_of_the_larger_item_before_or_after_it(table, units):
    item = {"pk": "BENCH#1", "sk": "META"}

    assert units(lambda: table.put_item(Item={**item, "text": "short"})) == (0, 1)
    assert units(lambda: table.put_item(Item={**item, "text": "x" * (KB + 500)})) == (0, 2)
    assert units(lambda: table.put_item(Item={**item, "text": "short again"})) == (0, 2)
    assert units(lambda: table.delete_item(Key=item)) == (0, 1)


def test_a_write_whose_condition_fails_is_billed_by_the_item_it_met(table, units):
    item = {"pk": "BENCH#2", "sk": "META", "text": "x" * (2 * KB + 100)}
    table.put_item(Item=item)

    assert units(lambda: table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")) == (0, 3)


def test_each_item_of_a_transaction_is_billed_twice_and_its_index_entries_once(table, units):
    puts = [{"Put": {"TableName": table.name, "Item": {"pk": f"BENCH#{n}", "sk": "META"}}} for n in (3, 4)]
    waiting = [{"Put": {"TableName": table.name, "Item": {"pk": "BENCH#5", "sk": "META", **WAITING}}}]

    assert units(lambda: table.meta.client.transact_write_items(TransactItems=puts)) == (0, 4)
    assert units(lambda: table.meta.client.transact_write_items(TransactItems=waiting)) == (0, 3)


def test_an_index_entry_added_changed_or_removed_is_one_more_write_and_a_new_index_key_two(table, units):
    key = {"pk": "CONV#bench5", "sk": "META"}
    table.put_item(Item={**key, "status": "open"})

    def update(expression: str, values: dict | None = None):
        return lambda: table.update_item(Key=key, UpdateExpression=expression,
                                         **({"ExpressionAttributeValues": values} if values else {}))

    assert units(update("SET queue_pk = :pk, queue_sk = :sk", {":pk": WAITING["queue_pk"],
                                                                ":sk": WAITING["queue_sk"]})) == (0, 2)  # added
    assert units(update("SET note = :note", {":note": "not projected"})) == (0, 1)
    assert units(update("SET label = :label", {":label": "Web ···ab12"})) == (0, 2)  # projected: changed
    assert units(update("SET queue_sk = :sk", {":sk": "2026-12-07T11:00:00.000000Z#c1"})) == (0, 3)
    assert units(update("REMOVE queue_pk, queue_sk")) == (0, 2)  # removed


def test_a_read_is_billed_per_4_kb_and_half_when_eventually_consistent(table, units):
    table.put_item(Item={"pk": "BENCH#6", "sk": "A", "text": "small"})
    table.put_item(Item={"pk": "BENCH#6", "sk": "B", "text": "x" * (5 * KB)})

    assert units(lambda: table.get_item(Key={"pk": "BENCH#6", "sk": "A"})) == (0.5, 0)
    assert units(lambda: table.get_item(Key={"pk": "BENCH#6", "sk": "A"}, ConsistentRead=True)) == (1, 0)
    assert units(lambda: table.get_item(Key={"pk": "BENCH#6", "sk": "B"}, ConsistentRead=True)) == (2, 0)
    assert units(lambda: table.get_item(Key={"pk": "BENCH#6", "sk": "none"})) == (0.5, 0)
    assert units(lambda: table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={
        ":pk": "BENCH#6"}, ConsistentRead=True)) == (2, 0)

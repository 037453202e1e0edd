"""The local stack's moto rolls back a cancelled transaction item by item (local/moto_lean.py)
instead of deep-copying whole tables: what a cancelled transaction had written must be undone,
and a table with many items must not slow every transaction down."""
from __future__ import annotations

import os

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(aws):
    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def transact(table, items):
    table.meta.client.transact_write_items(TransactItems=[
        {action: {"TableName": table.name, **spec} for action, spec in item.items()} for item in items])


def test_a_cancelled_transaction_leaves_no_new_item_behind(table):
    table.put_item(Item={"pk": "T#taken", "sk": "META", "n": 1})

    with pytest.raises(ClientError) as refused:
        transact(table, [
            {"Put": {"Item": {"pk": "T#new", "sk": "META", "n": 1}}},
            {"Put": {"Item": {"pk": "T#taken", "sk": "META", "n": 2},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in table.get_item(Key={"pk": "T#new", "sk": "META"})
    assert table.get_item(Key={"pk": "T#taken", "sk": "META"})["Item"]["n"] == 1


def test_a_cancelled_transaction_undoes_its_updates_and_deletes(table):
    table.put_item(Item={"pk": "T#a", "sk": "META", "n": 1})
    table.put_item(Item={"pk": "T#b", "sk": "META", "n": 1})

    with pytest.raises(ClientError):
        transact(table, [
            {"Update": {"Key": {"pk": "T#a", "sk": "META"}, "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": 2}}},
            {"Delete": {"Key": {"pk": "T#b", "sk": "META"}}},
            {"ConditionCheck": {"Key": {"pk": "T#missing", "sk": "META"},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])

    assert table.get_item(Key={"pk": "T#a", "sk": "META"})["Item"]["n"] == 1
    assert table.get_item(Key={"pk": "T#b", "sk": "META"})["Item"]["n"] == 1


def test_a_transaction_that_succeeds_writes_every_item(table):
    with table.batch_writer() as batch:  # a table that is not empty: nothing of it is copied
        for n in range(300):
            batch.put_item(Item={"pk": f"T#filler{n}", "sk": "META"})

    transact(table, [{"Put": {"Item": {"pk": "T#x", "sk": "META"}}}, {"Put": {"Item": {"pk": "T#y", "sk": "META"}}}])

    assert {"T#x", "T#y"} <= {item["pk"] for item in table.scan()["Items"]}

"""The embedded moto, made to hold a busy desk in bounded memory.

moto rolls back a failed TransactWriteItems by deep-copying every table the transaction
touches, before each transaction: time and memory grow with the table, and concurrent
transactions each hold a copy (`make load` reached 5.9 GB at 1,000 messages). Here a
transaction snapshots only the items it names and puts those back if it fails, which is all
the rollback needs; everything else is moto's own code.

And two lookups moto's server repeats for every request, whose answers never change while it
runs, are made once: the list of its service packages (a directory listing and a stat of each
entry) and the method names of a responses class (inspect.getmembers)."""
from __future__ import annotations

import copy
import types


def install() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    if getattr(models.DynamoDBBackend.transact_write_items, "lean", False):
        return
    _once_per_server()
    original = models.DynamoDBBackend.transact_write_items

    def deepcopy_all_but_tables(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy_all_but_tables, copy=copy.copy)

    def transact_write_items(self, transact_items):
        snapshots = []
        for entry in transact_items:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue  # moto itself refuses it
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            source = (op.get("Item") if op_type == "Put" else op.get("Key")) if table else None
            if not source:
                continue
            try:
                key = {name: source[name] for name in (table.hash_key_attr, table.range_key_attr) if name}
                current = self.get_item(table.name, key)
            except Exception:  # a malformed key: moto refuses the transaction before writing anything
                continue
            snapshots.append((table.name, key, current.to_json()["Attributes"] if current else None))
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(snapshots):
                if attributes is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise

    transact_write_items.lean = True
    models.DynamoDBBackend.transact_write_items = transact_write_items


def _once_per_server() -> None:
    import functools

    from moto import backends
    from moto.core import responses, utils

    packages = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: packages
    responses.method_names_from_class = functools.cache(utils.method_names_from_class)

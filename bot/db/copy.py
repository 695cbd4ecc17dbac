"""`python -m bot migrate-to postgresql://…`: copy an SQLite store into an empty PostgreSQL one, then verify.

Generic over bot.db.schema: every table of the metadata is copied in dependency order (so tables added later
are copied too), the full-text index is rebuilt from its rows in the target's own form, identity sequences are
moved past the copied ids, and every table's row count is compared. All of it is one transaction on the
target: a failed copy leaves it empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.engine import Database, count_rows
from bot.db.schema import metadata
from bot.db.search import all_search_rows, insert_search_rows

BATCH = 1000


class CopyError(RuntimeError):
    """The copy cannot start or did not verify; the message is one line a host can act on."""


@dataclass(frozen=True)
class CopyReport:
    """Rows copied per table (verified equal in source and target)."""

    counts: dict[str, int]

    def summary(self) -> str:
        """One line per table with rows, then the total."""
        lines = [f"  {name}: {count}" for name, count in self.counts.items() if count]
        return "\n".join([*lines, f"{sum(self.counts.values())} rows in {len(self.counts)} tables, counts verified."])


async def _move_sequences(target: AsyncConnection) -> None:
    """PostgreSQL hands out ids from a sequence: start it after the largest id copied."""
    for each in metadata.sorted_tables:
        column = each.autoincrement_column
        if column is None:
            continue
        largest = (await target.execute(select(func.max(column)))).scalar()
        sequence = func.pg_get_serial_sequence(each.name, column.name)
        await target.execute(select(func.setval(sequence, largest or 1, largest is not None)))


async def copy_database(source: Database, target: Database) -> CopyReport:
    """Copy every row of `source` into the empty `target` (both migrated to the same revision) and verify."""
    if target.dialect != "postgresql":
        raise CopyError(f"the target must be a PostgreSQL database, not {target.url}")
    async with source.read() as reader:
        expected = await count_rows(reader)
        async with target.transaction() as writer:
            if any((await count_rows(writer)).values()):
                raise CopyError(f"{target.url} is not empty; give migrate-to a new, empty database")
            for each in metadata.sorted_tables:
                if each.name not in expected:  # dropped in the source by a data upgrade (the SM-2 tables)
                    continue
                result = await reader.stream(select(each))
                async for batch in result.mappings().partitions(BATCH):
                    await writer.execute(each.insert(), [dict(row) for row in batch])
            await insert_search_rows(writer, await all_search_rows(reader))
            await _move_sequences(writer)
            copied = {name: count for name, count in (await count_rows(writer)).items() if name in expected}
            if copied != expected:
                wrong = ", ".join(f"{name} {expected[name]} → {copied[name]}" for name in expected
                                  if copied[name] != expected[name])  # fmt: skip
                raise CopyError(f"the copy did not verify ({wrong}); nothing was written to {target.url}")
    return CopyReport(copied)

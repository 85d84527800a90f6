"""The SQL contract between audit's ingest stage and inventory's derived-state statements."""

import pytest
from django.db import connection

from audit.services.ingest_sql import DERIVE, STAGE_DDL
from audit.services.validation import STAGE_COLUMNS
from inventory.services import derive


def test_every_column_the_derived_statements_read_is_one_the_ingest_stages():
    assert set(derive.STAGE_READS) <= set(STAGE_COLUMNS)


def test_the_derived_statements_refuse_a_stage_without_a_column_they_read():
    without_grants = [column for column in STAGE_COLUMNS if column != "grant_id"]
    with pytest.raises(ValueError, match="grant_id"):
        derive.statements(stage_table="audit_stage", columns=without_grants)


def test_the_stage_table_name_must_be_a_plain_identifier():
    with pytest.raises(ValueError, match="identifier"):
        derive.statements(stage_table="audit_stage; DROP TABLE x", columns=STAGE_COLUMNS)


def test_the_statements_name_the_stage_they_are_given_and_no_other():
    other = derive.statements(stage_table="other_stage", columns=STAGE_COLUMNS)
    for sql in vars(other).values():
        assert "other_stage" in sql and "audit_stage" not in sql
        assert "{" not in sql  # every placeholder filled in


@pytest.mark.django_db
def test_the_stage_ingest_creates_has_the_staged_columns_and_every_statement_plans_on_it():
    with connection.cursor() as cursor:
        cursor.execute(STAGE_DDL)
        cursor.execute("SELECT * FROM audit_stage LIMIT 0")
        assert [column.name for column in cursor.description] == list(STAGE_COLUMNS)
        for name, sql in vars(DERIVE).items():
            # EXPLAIN parses and plans: a column the stage lacks is an error here, naming it.
            # The named parameters (the allowed clock skew, the tool pairs to read) are the
            # function's arguments.
            sql = sql.replace("%%", "%").replace("%(skew)s", "60")
            cursor.execute("EXPLAIN " + sql.replace("%(tool_pairs)s", '\'[["s", "t"]]\'::json'))
            assert cursor.fetchall(), name

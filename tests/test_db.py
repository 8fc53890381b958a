from sqlalchemy import inspect


def test_migrations_create_every_table(db_engine):
    names = set(inspect(db_engine).get_table_names())
    assert {
        "agencies",
        "clients",
        "subjects",
        "assessments",
        "assessment_versions",
        "case_links",
        "disclosure_log",
        "log_head",
        "alembic_version",
    } <= names

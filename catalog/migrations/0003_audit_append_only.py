"""The database itself refuses UPDATE and DELETE on the audit tables (append-only)."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION catalog_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

TRIGGERS = """
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON catalog_auditevent
    FOR EACH ROW EXECUTE FUNCTION catalog_audit_append_only();
CREATE TRIGGER audit_result_append_only BEFORE UPDATE OR DELETE ON catalog_auditresult
    FOR EACH ROW EXECUTE FUNCTION catalog_audit_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS audit_event_append_only ON catalog_auditevent;
DROP TRIGGER IF EXISTS audit_result_append_only ON catalog_auditresult;
DROP FUNCTION IF EXISTS catalog_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_catalog_sharing_audit")]

    operations = [migrations.RunSQL(FUNCTION + TRIGGERS, REVERSE)]

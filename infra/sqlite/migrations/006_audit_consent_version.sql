-- gateway/audit.py: every disclosure names the consent version in force (see infra/postgres/migrations/006).
ALTER TABLE gateway_audit_events ADD COLUMN consent_version INTEGER;

-- gateway/audit.py: every disclosure names the consent version in force (CSP D1110-3-1).
-- NULL on the records written before: the hash chain leaves a NULL version out (old hashes hold).
ALTER TABLE gateway_audit_events ADD COLUMN IF NOT EXISTS consent_version bigint;

-- Issue 11: the hub's services run as their own role, which cannot bend the audit trail.
--
-- The role running the migrations (the owner) owns every table. The services log in as a
-- member of `kirikae_service` (`kirikae migrate` makes the role of `database_url` one), which
-- may read and write rows but owns nothing: it cannot ALTER or DROP a table, drop or disable a
-- trigger, or set session_replication_role (superusers only) to skip them. On `audit_log` it
-- may only INSERT and SELECT (the relay reads it).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kirikae_service') THEN
        CREATE ROLE kirikae_service NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO kirikae_service;
-- Nobody but the owner creates objects in the schema (PostgreSQL 15's default, stated for
-- older servers).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO kirikae_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO kirikae_service;

-- The trail: append and read, nothing else (the triggers of V6 refuse changes even to the
-- owner; only the owner can drop them, on purpose and visibly).
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM kirikae_service;
-- Which migrations ran is the owner's business.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON refinery_schema_history FROM kirikae_service;

-- Tables and sequences later migrations create get the same rows-only privileges; a later
-- migration narrows them for its own table where it must, as this one does for audit_log.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO kirikae_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO kirikae_service;

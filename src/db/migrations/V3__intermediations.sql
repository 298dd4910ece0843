-- スイッチング廃止取次 (switching intermediations): the current state of each, projected from
-- the topic <prefix>.intermediations, and the full history of its events.
CREATE TABLE intermediations (
    intermediation_id      uuid PRIMARY KEY,
    intermediation_number  text NOT NULL,
    point_id               text NOT NULL,
    area                   text NOT NULL,
    point_class            text NOT NULL CHECK (point_class IN ('lv', 'hv', 'gen')),
    new_retailer_code      text NOT NULL,
    new_user_id            text NOT NULL,
    current_retailer_code  text NOT NULL,
    customer_number        text NOT NULL,
    contract_name          text NOT NULL,
    supply_address         text NOT NULL,
    desired_switch_date    date NOT NULL,
    state                  text NOT NULL CHECK (state IN
                               ('awaiting_decision', 'approved', 'declined', 'expired', 'withdrawn')),
    decline_reasons        text[] NOT NULL DEFAULT '{}',
    note                   text,
    registered_at          timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    decided_at             timestamptz,
    decided_by_company     text,
    decided_by_user        text,
    -- The claim of a transition whose event is being produced (see src/intermediation/store.rs);
    -- not part of the projected state: the projector clears it.
    pending_event          uuid,
    pending_since          timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intermediations_current ON intermediations
    (current_retailer_code, registered_at DESC, intermediation_id DESC);
CREATE INDEX intermediations_new ON intermediations
    (new_retailer_code, registered_at DESC, intermediation_id DESC);
CREATE INDEX intermediations_number ON intermediations (intermediation_number);
CREATE INDEX intermediations_due ON intermediations (expires_at) WHERE state = 'awaiting_decision';

-- Every event once (by id); `applied` is false for one the state machine did not allow.
CREATE TABLE intermediation_events (
    event_id            uuid PRIMARY KEY,
    intermediation_id   uuid NOT NULL,
    kind                text NOT NULL,
    supply_point_id     text NOT NULL,
    actor_company_code  text NOT NULL,
    actor_user_id       text NOT NULL,
    occurred_at         timestamptz NOT NULL,
    decline_reasons     text[] NOT NULL DEFAULT '{}',
    note                text,
    applied             boolean NOT NULL
);
CREATE INDEX intermediation_events_of ON intermediation_events (intermediation_id, occurred_at);

-- Who read personal data, when. Append-only: the code never updates or deletes a row.
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    company_code  text NOT NULL,
    user_id       text NOT NULL,
    action        text NOT NULL,
    subject_id    text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, at);

// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (id) {
        id -> Int8,
        user_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        action -> Text,
        table_name -> Text,
        row_id -> Nullable<Int8>,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    auth_sessions (id) {
        id -> Uuid,
        user_id -> Int8,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    etablissement (id) {
        id -> Int8,
        nom -> Text,
        adresse -> Text,
        telephone -> Text,
        email -> Text,
        devise -> Text,
        directeur -> Text,
        ville -> Text,
        logo -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Int8,
        name -> Text,
        payload -> Jsonb,
        dedupe_key -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_after -> Timestamptz,
        timeout_seconds -> Int4,
        soft_timeout_seconds -> Int4,
        progress_done -> Int4,
        progress_total -> Nullable<Int4>,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        requested_by -> Nullable<Int8>,
        dispatch_count -> Int4,
        run_token -> Nullable<Uuid>,
        worker -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        dispatched_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        username -> Text,
        ip -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    process_heartbeats (name) {
        name -> Text,
        kind -> Text,
        started_at -> Timestamptz,
        seen_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Int8,
        session_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        role -> Text,
        telephone -> Nullable<Text>,
        is_active -> Bool,
        last_login -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(jobs -> users (requested_by));
diesel::joinable!(refresh_tokens -> auth_sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    auth_sessions,
    etablissement,
    jobs,
    login_failures,
    process_heartbeats,
    refresh_tokens,
    users,
);

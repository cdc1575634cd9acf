"""The old platform's tables, column for column as /work/shared/LEGACY.md lists them.

Each table is a list of (name, type, not_null). Where LEGACY.md gives no type, the type is
the one the column's values imply (ids uuid, times timestamptz, flags boolean). The live
tables had primary keys on `id` but no foreign keys that held: orphans exist, so none are
declared here. Backup tables were copied with `CREATE TABLE (LIKE ...)`: same columns and
NOT NULLs, no primary key.
"""

Column = tuple[str, str, bool]

_GEN1_MESSAGE: list[Column] = [
    ("id", "uuid", True),
    ("booking_id", "uuid", True),
    ("sender_id", "uuid", True),
    ("type", "text", False),
    ("content", "text", False),
    ("file_url", "text", False),
    ("metadata", "jsonb", False),
    ("is_read", "boolean", False),
    ("created_at", "timestamptz", False),
    ("file_name", "text", False),
    ("file_size", "integer", False),
    ("duration_seconds", "integer", False),
    ("is_approved", "boolean", False),
    ("approved_by", "uuid", False),
    ("approved_at", "timestamptz", False),
    ("flagged", "boolean", False),
    ("flagged_reason", "text", False),
    ("reply_to", "uuid", False),
]

_GEN2_SESSION: list[Column] = [
    ("id", "uuid", False),
    ("booking_id", "uuid", False),
    ("client_id", "uuid", False),
    ("reader_id", "uuid", False),
    ("status", "text", False),
    ("locked_by", "uuid", False),
    ("locked_at", "timestamptz", False),
    ("client_text_chars_used", "integer", False),
    ("client_voice_seconds_used", "integer", False),
    ("client_images_sent", "integer", False),
    ("reader_voice_notes_sent", "integer", False),
    ("max_text_chars", "integer", False),
    ("max_voice_seconds", "integer", False),
    ("max_images", "integer", False),
    ("max_reader_voice_notes", "integer", False),
    ("created_at", "timestamptz", False),
    ("updated_at", "timestamptz", False),
    ("participants", "uuid[]", False),
]

_GEN2_MESSAGE: list[Column] = [
    ("id", "uuid", False),
    ("message_id", "uuid", False),
    ("chat_session_id", "uuid", False),
    ("sender_id", "uuid", False),
    ("recipient_id", "uuid", False),
    ("message_type", "varchar", False),
    ("message_content", "text", False),
    ("message_data", "jsonb", False),
    ("file_attachment_url", "text", False),
    ("file_attachment_type", "varchar", False),
    ("file_attachment_size", "integer", False),
    ("voice_note_url", "text", False),
    ("voice_note_duration", "integer", False),
    ("is_read", "boolean", False),
    ("read_at", "timestamptz", False),
    ("is_edited", "boolean", False),
    ("edited_at", "timestamptz", False),
    ("original_content", "text", False),
    ("reply_to_message_id", "uuid", False),
    ("reaction_data", "jsonb", False),
    ("is_system_message", "boolean", False),
    ("is_deleted", "boolean", False),
    ("deleted_at", "timestamptz", False),
    ("created_at", "timestamptz", False),
    ("updated_at", "timestamptz", False),
    ("session_id", "uuid", False),
]

_GEN3_SESSION: list[Column] = [
    ("id", "uuid", True),
    ("participants", "uuid[]", True),
    ("type", "varchar", False),
    ("booking_id", "uuid", False),
    ("emergency_call_id", "uuid", False),
    ("status", "varchar", False),
    ("started_at", "timestamptz", False),
    ("ended_at", "timestamptz", False),
    ("last_message_at", "timestamptz", False),
    ("metadata", "jsonb", False),
    ("created_at", "timestamptz", False),
    ("updated_at", "timestamptz", False),
]

_GEN3_MESSAGE: list[Column] = [
    ("id", "uuid", True),
    ("session_id", "uuid", True),
    ("sender_id", "uuid", True),
    ("type", "varchar", False),
    ("content", "text", False),
    ("file_url", "text", False),
    ("file_name", "varchar", False),
    ("file_size", "bigint", False),
    ("file_type", "varchar", False),
    ("duration_seconds", "integer", False),
    ("waveform_data", "jsonb", False),
    ("reply_to_message_id", "uuid", False),
    ("status", "varchar", False),
    ("approved_by", "uuid", False),
    ("approved_at", "timestamptz", False),
    ("delivered_to", "uuid[]", False),
    ("read_by", "uuid[]", False),
    ("is_edited", "boolean", False),
    ("edited_at", "timestamptz", False),
    ("is_deleted", "boolean", False),
    ("deleted_at", "timestamptz", False),
    ("metadata", "jsonb", False),
    ("created_at", "timestamptz", False),
    ("updated_at", "timestamptz", False),
]

_VOICE_NOTE: list[Column] = [
    ("id", "uuid", True),
    ("message_id", "uuid", True),
    ("file_url", "text", True),
    ("file_path", "text", False),
    ("duration_seconds", "integer", False),
    ("file_size_bytes", "bigint", False),
    ("audio_format", "text", False),
    ("transcription", "text", False),
    ("is_transcribed", "boolean", False),
    ("transcribed_at", "timestamptz", False),
    ("quality_rating", "integer", False),
    ("is_processed", "boolean", False),
    ("processed_at", "timestamptz", False),
    ("created_at", "timestamptz", False),
    ("updated_at", "timestamptz", False),
    ("user_id", "uuid", True),
]

_SHELL: list[Column] = [
    ("id", "uuid", True),
    ("created_at", "timestamptz", False),
    ("updated_at", "timestamptz", False),
]

TABLES: dict[str, list[Column]] = {
    "messages": _GEN1_MESSAGE,
    "messages_backup": _GEN1_MESSAGE,
    "chat_sessions_backup": _GEN2_SESSION,
    "chat_messages_backup": _GEN2_MESSAGE,
    "chat_sessions": _GEN3_SESSION,
    "chat_messages": _GEN3_MESSAGE,
    "voice_notes": _VOICE_NOTE,
    "voice_notes_backup": _VOICE_NOTE,
    "voice_note_approvals": [
        ("id", "uuid", True),
        ("message_id", "uuid", True),
        ("reader_id", "uuid", True),
        ("booking_id", "uuid", True),
        ("status", "text", False),
        ("reviewed_by", "uuid", False),
        ("review_notes", "text", False),
        ("created_at", "timestamptz", False),
        ("updated_at", "timestamptz", False),
    ],
    "chat_audit_logs": [
        ("id", "uuid", True),
        ("user_id", "uuid", False),
        ("action", "text", True),
        ("table_name", "text", True),
        ("record_id", "uuid", False),
        ("session_id", "uuid", False),
        ("old_values", "jsonb", False),
        ("new_values", "jsonb", False),
        ("ip_address", "inet", False),
        ("user_agent", "text", False),
        ("timestamp", "timestamptz", False),
        ("metadata", "jsonb", False),
    ],
    "chat_notifications": [
        ("id", "uuid", True),
        ("booking_id", "uuid", True),
        ("user_id", "uuid", True),
        ("type", "text", False),
        ("message_id", "uuid", False),
        ("data", "jsonb", False),
        ("is_read", "boolean", False),
        ("created_at", "timestamptz", False),
    ],
    "chat_monitoring": [
        ("id", "uuid", True),
        ("user_id", "uuid", False),
        ("session_id", "uuid", False),
        ("event_type", "text", True),
        ("timestamp", "timestamptz", False),
        ("metadata", "jsonb", False),
        ("ip_address", "inet", False),
        ("user_agent", "text", False),
        ("created_at", "timestamptz", False),
    ],
    # LEGACY.md lists the columns that matter; the rest are the kind a profile table has.
    "profiles": [
        ("id", "uuid", True),
        ("email", "text", False),
        ("first_name", "text", False),
        ("last_name", "text", False),
        ("display_name", "text", False),
        ("name", "text", False),
        ("role", "text", False),
        ("is_active", "boolean", False),
        ("deactivated", "boolean", False),
        ("deleted_at", "timestamptz", False),
        ("preferred_language", "text", False),
        ("avatar_url", "text", False),
        ("created_at", "timestamptz", False),
        ("phone", "text", False),
        ("country", "text", False),
        ("timezone", "text", False),
        ("bio", "text", False),
        ("updated_at", "timestamptz", False),
    ],
    "bookings": [
        ("id", "uuid", True),
        ("user_id", "uuid", False),
        ("client_id", "uuid", False),
        ("reader_id", "uuid", False),
        ("service_id", "uuid", False),
        ("scheduled_at", "timestamptz", False),
        ("status", "text", False),
        ("is_emergency", "boolean", False),
        ("created_at", "timestamptz", False),
        ("notes", "text", False),
        ("price", "numeric(10,2)", False),
        ("updated_at", "timestamptz", False),
    ],
    "services": [
        ("id", "uuid", True),
        ("name", "text", False),
        ("name_en", "text", False),
        ("name_ar", "text", False),
        ("type", "text", False),
        ("duration_minutes", "integer", False),
        ("price", "numeric(10,2)", False),
        ("is_active", "boolean", False),
        ("created_at", "timestamptz", False),
    ],
    "chat_participants": _SHELL,
    "file_uploads": _SHELL,
    "media_storage": _SHELL,
    "message_reactions": _SHELL,
    "chat_archives": _SHELL,
}

BACKUP_TABLES = frozenset(
    {"messages_backup", "chat_sessions_backup", "chat_messages_backup", "voice_notes_backup"}
)


def columns(table: str) -> list[str]:
    return [name for name, _type, _not_null in TABLES[table]]


def create_statements() -> list[str]:
    statements = []
    for table, spec in TABLES.items():
        lines = [
            f'"{name}" {kind}{" NOT NULL" if not_null else ""}' for name, kind, not_null in spec
        ]
        # Backups have no primary key; neither do gen 2's tables (their ids may be null).
        if table not in BACKUP_TABLES:
            lines.append("PRIMARY KEY (id)")
        statements.append(f'CREATE TABLE "{table}" ({", ".join(lines)})')
    return statements

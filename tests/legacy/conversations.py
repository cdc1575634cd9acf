"""The named conversations of the legacy world: one booking in all three generations, the
generation 1 review history, a generation 2 session, the generation 3 sessions (stray
statuses, emergency, support). Each names its messy rows in `ledger.ids`."""

from datetime import UTC, datetime, timedelta

from tests.legacy.core import PHRASES, Core, ms
from tests.legacy.ledger import Ledger, Payload


def core_write(ledger: Ledger, payloads: dict[str, Payload]) -> Core:
    """Write every named case; returns the Core holding them, for the bulk to reuse."""
    core = Core(ledger, payloads)
    core.people()
    core.bookings_write()
    all_generations(core)
    gen1_reviews(core)
    gen2_only(core)
    gen3_sessions(core)
    core.orphans()
    core.around()
    return core


def all_generations(core: Core) -> None:
    w, ids = core.w, core.w.name
    b = core.bookings["booking_all_generations"]
    t = datetime(2024, 3, 1, 18, 0, 0, 120_000, tzinfo=UTC)
    minute = lambda n: t + timedelta(minutes=n)  # noqa: E731
    c = w.conversation(key=b.id, kind="reading", participants=[core.client, core.reader], booking=b)
    # Generation 3 reused the booking id as the session id.
    w.gen3_session(c, id=b.id, type="booking", status="ended", at=t)
    gen2_id = w.uid()
    ids("gen2_session_all_generations", gen2_id)
    w.gen2_session(c, id=gen2_id, status="ended", at=t)

    hello = w.message(
        c,
        core.client,
        "text",
        minute(0),
        "Good evening! I booked the three-card spread.",
        read_by={core.reader},
    )
    w.gen1(hello)
    w.gen1(hello, table="messages_backup")
    w.gen3(hello, read_by_sender=True)
    ids("overlap_same_id_message", hello.id)

    reply = w.message(
        c,
        core.reader,
        "text",
        minute(1),
        "Welcome Layla. Keep your question in mind while I shuffle.",
        reply_to=hello,
        read_by={core.client},
    )
    w.gen1(reply)
    w.gen2(reply, session_id=gen2_id, path="B")
    ids("overlap_gen1_gen2_message", reply.id)

    dup = w.message(
        c, core.client, "text", minute(2), "My question is about work.", read_by={core.reader}
    )
    w.gen1(dup)
    dup_gen3_id = w.gen3(dup, id=w.uid())
    ids("overlap_content_gen1", dup.id)
    ids("overlap_content_gen3", dup_gen3_id)

    voice = w.message(
        c,
        core.reader,
        "voice",
        minute(3),
        attachment=w.attach(
            "voice", core.p["opus"], label="audio/webm", file_name="voice-note.webm"
        ),
        review={"decision": "approved", "reviewer": core.monitor, "at": minute(5)},
        read_by={core.client},
    )
    # The same recording under both buckets: chat-attachments for the booking chat,
    # chat-files when the unified tables were filled.
    old = w.put("chat-attachments", f"{b.id}/voice/{ms(voice.at)}.webm", core.p["opus"])
    new = w.put("chat-files", f"{b.id}/{core.reader.id}/{ms(voice.at)}.webm", core.p["opus"])
    w.gen1(voice, location=old, type="audio")
    w.gen3(voice, location=new, signed=True)
    w.voice_note(voice, voice.id, new, backup=True)
    ids("approval_approved", w.approval(voice, voice.id, b, status="approved"))
    ids("approved_reader_voice_message", voice.id)
    ids("both_buckets_message", voice.id)
    w.paths["both_buckets_chat_attachments"] = w.files_dir / old
    w.paths["both_buckets_chat_files"] = w.files_dir / new

    image = w.message(
        c,
        core.client,
        "image",
        minute(6),
        attachment=w.attach("image", core.p["png"], label="image/png", file_name="cup.png"),
        read_by={core.reader},
    )
    where = w.put("chat-files", f"{gen2_id}/{core.client.id}/{ms(image.at)}.png", core.p["png"])
    w.gen2(image, session_id=gen2_id, path="A", location=where)
    w.gen3(image, location=where)
    ids("overlap_gen2_gen3_message", image.id)
    w.paths["png"] = w.files_dir / where

    edited = w.message(
        c,
        core.client,
        "text",
        minute(7),
        "Also, should I accept the offer from Dubai?",
        original_content="Also, should I accept the ofer?",
        read_by={core.reader},
    )
    w.gen2(edited, session_id=gen2_id, path="B")
    ids("edited_message", edited.id)

    # A reply chain in generation 3 whose root is the duplicate's generation 3 id.
    middle = w.message(
        c,
        core.client,
        "text",
        minute(8),
        "That resonates with me.",
        reply_to=dup,
        read_by={core.reader},
    )
    w.gen3(middle, reply_to_id=dup_gen3_id)
    leaf = w.message(
        c,
        core.reader,
        "text",
        minute(9),
        "Then the Three of Pentacles is about your team.",
        reply_to=middle,
    )
    w.gen3(leaf)
    ids("reply_chain_root", dup.id)
    ids("reply_chain_middle", middle.id)
    ids("reply_chain_leaf", leaf.id)

    deleted = w.message(
        c, core.client, "text", minute(10), "Oops, wrong chat", deleted_at=minute(11)
    )
    w.gen3(deleted)
    ids("deleted_message_gen3", deleted.id)
    core.deleted_gen3 = deleted

    queued = w.message(
        c,
        core.reader,
        "text",
        minute(12),
        "I will send the summary shortly.",
        raw_status="queued",
    )
    w.gen3(queued)
    ids("unknown_status_message", queued.id)

    stranger = w.message(
        c,
        core.unknown_profile,
        "text",
        minute(13),
        "[automated] Your reading summary is ready.",
    )
    w.gen3(stranger)
    ids("unknown_sender_message", stranger.id)

    system = w.message(c, core.reader, "system", minute(15), "The reader ended the session.")
    w.gen3(system)
    ids("system_message_gen3", system.id)
    core.hello, core.voice = hello, voice


# --- generation 1: the review history ---------------------------------------------


def gen1_reviews(core: Core) -> None:
    w, ids, p = core.w, core.w.name, core.p
    b = core.bookings["booking_gen1"]
    client, reader = core.client_duplicate, core.reader_second
    t = datetime(2024, 2, 10, 20, 0, 0, 500_000, tzinfo=UTC)
    minute = lambda n: t + timedelta(minutes=n)  # noqa: E731
    c = w.conversation(key=b.id, kind="reading", participants=[client, reader], booking=b)
    core.c_gen1 = c
    files = lambda who, at, ext: f"{b.id}/{who.id}/{ms(at)}.{ext}"  # noqa: E731

    hello = w.message(
        c,
        client,
        "text",
        minute(0),
        "Hello, is the coffee cup photo clear enough?",
        read_by={reader},
    )
    w.gen1(hello)
    w.gen1(hello, table="messages_backup")
    ids("gen1_backup_copy_message", hello.id)

    image = w.message(
        c,
        client,
        "image",
        minute(1),
        read_by={reader},
        attachment=w.attach("image", p["png"], label="image/png", file_name="cup.png"),
    )
    w.gen1(image, location=w.put("chat-files", files(client, image.at, "png"), p["png"]))
    w.gen1(image, table="messages_backup", location=image.attachment.locations[0])
    ids("image_message", image.id)

    pdf = w.message(
        c,
        client,
        "file",
        minute(2),
        "My birth chart",
        read_by={reader},
        attachment=w.attach("file", p["pdf"], label="application/pdf", file_name="birth-chart.pdf"),
    )
    where = w.put("chat-files", files(client, pdf.at, "pdf"), p["pdf"])
    w.gen1(pdf, location=where, signed=True)
    ids("pdf_message", pdf.id)
    w.paths["pdf"] = w.files_dir / where

    reply = w.message(
        c,
        reader,
        "text",
        minute(3),
        "Yes, I can see the cup clearly.",
        reply_to=hello,
        read_by={client},
    )
    w.gen1(reply)
    w.gen1(reply, table="messages_backup")
    chain = w.message(
        c,
        client,
        "text",
        minute(4),
        "Great, what do you see first?",
        reply_to=reply,
        read_by={reader},
    )
    w.gen1(chain)
    ids("gen1_reply_chain_leaf", chain.id)

    rejected = w.message(
        c,
        reader,
        "voice",
        minute(5),
        read_by={client},
        attachment=w.attach("voice", p["mp3"], label="audio/mp3", file_name="note.mp3"),
        review={
            "decision": "rejected",
            "reviewer": core.monitor,
            "at": minute(9),
            "notes": "Mentions a phone number; please re-record without it.",
        },
    )
    where = w.put("chat-files", files(reader, rejected.at, "mp3"), p["mp3"])
    w.gen1(rejected, location=where, type="audio")
    w.voice_note(rejected, rejected.id, where, backup=True)
    ids("approval_rejected", w.approval(rejected, rejected.id, b, status="rejected"))
    ids("rejected_reader_voice_message", rejected.id)
    ids("mp3_message", rejected.id)
    w.paths["mp3"] = w.files_dir / where

    # Never reviewed: is_approved false and no approval row. A Safari recording (MP4
    # with AAC) that the old app stored as audio/webm.
    unapproved = w.message(
        c,
        reader,
        "voice",
        minute(6),
        held=True,
        attachment=w.attach("voice", p["safari"], label="audio/webm", file_name="recording.webm"),
    )
    where = w.put("chat-attachments", f"{b.id}/voice/{ms(unapproved.at)}.webm", p["safari"])
    w.gen1(unapproved, location=where, type="voice")
    w.voice_note(unapproved, unapproved.id, where)
    ids("unapproved_reader_voice_message", unapproved.id)
    ids("safari_message", unapproved.id)
    w.paths["safari"] = w.files_dir / where

    # A client's note: is_approved holds the column default (false), yet clients'
    # notes are not reviewed.
    client_voice = w.message(
        c,
        client,
        "voice",
        minute(7),
        read_by={reader},
        attachment=w.attach("voice", p["opus_short"], label="audio/webm", file_name="voice.webm"),
    )
    where = w.put("chat-files", files(client, client_voice.at, "webm"), p["opus_short"])
    w.gen1(client_voice, location=where, type="audio", is_approved=False)
    ids("client_voice_message", client_voice.id)
    ids("opus_message", client_voice.id)
    w.paths["opus"] = w.files_dir / where

    approved_by_columns = {"decision": "approved", "reviewer": core.monitor}
    missing = w.message(
        c,
        reader,
        "voice",
        minute(8),
        read_by={client},
        attachment=w.attach("voice", None, label="audio/webm", file_name="voice.webm"),
        review=approved_by_columns | {"at": minute(10)},
    )
    where = w.put("chat-attachments", f"{b.id}/voice/{ms(missing.at)}.webm", None)
    w.gen1(missing, location=where, type="voice")
    w.voice_note(missing, missing.id, where)
    ids("missing_file_message", missing.id)
    w.paths["missing"] = w.files_dir / where

    corrupt = w.message(
        c,
        reader,
        "voice",
        minute(11),
        read_by={client},
        attachment=w.attach("voice", p["corrupt"], label="audio/webm", file_name="voice.webm"),
        review=approved_by_columns | {"at": minute(12)},
    )
    where = w.put("chat-files", files(reader, corrupt.at, "webm"), p["corrupt"])
    w.gen1(corrupt, location=where, type="audio", metadata={})
    ids("corrupt_audio_message", corrupt.id)
    w.paths["corrupt"] = w.files_dir / where

    dangling = w.message(
        c,
        client,
        "text",
        minute(13),
        "Sorry, replying to your earlier note.",
        reply_to_id=w.uid(),
    )
    w.gen1(dangling)
    ids("dangling_reply_message", dangling.id)

    flagged = w.message(c, client, "text", minute(14), "Can I reach you on WhatsApp?")
    w.gen1(flagged, flagged_reason="contact details")
    ids("flagged_message", flagged.id)

    system = w.message(c, reader, "system", minute(15), "Booking completed.")
    w.gen1(system)
    ids("system_message_gen1", system.id)
    core.rejected, core.gen1_hello = rejected, hello


# --- generation 2 only --------------------------------------------------------------


def gen2_only(core: Core) -> None:
    w, ids, p = core.w, core.w.name, core.p
    b = core.bookings["booking_gen2"]
    client, reader = core.client_merged, core.reader
    t = datetime(2024, 2, 20, 21, 0, 0, 250_000, tzinfo=UTC)
    minute = lambda n: t + timedelta(minutes=n)  # noqa: E731
    c = w.conversation(key=b.id, kind="reading", participants=[client, reader], booking=b)
    session_id = w.uid()
    ids("gen2_session", session_id)
    w.gen2_session(
        c, id=session_id, status="locked", at=t, locked_by=core.admin.id, locked_at=minute(30)
    )
    core.gen2_session_id = session_id

    hello = w.message(
        c, client, "text", minute(0), "Hi Noor, here is my question.", read_by={reader}
    )
    w.gen2(hello, session_id=session_id, path="A")
    ids("gen2_path_a_message", hello.id)
    reply = w.message(
        c,
        reader,
        "text",
        minute(1),
        "Hello Hana, let me look.",
        reply_to=hello,
        read_by={client},
    )
    w.gen2(reply, session_id=session_id, path="B")
    ids("gen2_path_b_message", reply.id)

    # The same PDF as generation 1's, uploaded again to the older bucket, no MIME type.
    pdf = w.message(
        c,
        client,
        "file",
        minute(2),
        "Birth chart again",
        attachment=w.attach("file", p["pdf"], label="", file_name="birth-chart.pdf"),
    )
    where = w.put("chat-attachments", f"{session_id}/attachments/{ms(pdf.at)}.pdf", p["pdf"])
    w.gen2(pdf, session_id=session_id, path="A", location=where)
    ids("same_content_other_message", pdf.id)

    voice = w.message(
        c,
        client,
        "voice",
        minute(3),
        read_by={reader},
        attachment=w.attach("voice", p["opus"], label="audio/webm", file_name="voice.webm"),
    )
    where = w.put("chat-attachments", f"{session_id}/voice/{ms(voice.at)}.webm", p["opus"])
    w.gen2(voice, session_id=session_id, path="B", location=where)
    ids("gen2_client_voice_message", voice.id)

    deleted = w.message(c, client, "text", minute(4), "Never mind that.", deleted_at=minute(5))
    w.gen2(deleted, session_id=session_id, path="A")
    ids("deleted_message_gen2", deleted.id)

    reader_voice = w.message(
        c,
        reader,
        "voice",
        minute(6),
        read_by={client},
        attachment=w.attach("voice", p["opus_short"], label="audio/webm", file_name="voice.webm"),
        review={"decision": "approved", "reviewer": core.monitor, "at": minute(8)},
    )
    where = w.put(
        "chat-files", f"{session_id}/{reader.id}/{ms(reader_voice.at)}.webm", p["opus_short"]
    )
    w.gen2(reader_voice, session_id=session_id, path="A", location=where)
    w.approval(reader_voice, reader_voice.id, b, status="approved")
    ids("gen2_reader_voice_message", reader_voice.id)

    system = w.message(c, core.admin, "system", minute(30), "Chat locked by an administrator.")
    w.gen2(system, session_id=session_id, path="B")
    ids("system_message_gen2", system.id)


# --- generation 3 sessions ----------------------------------------------------------


def gen3_sessions(core: Core) -> None:
    w, ids, p = core.w, core.w.name, core.p
    t = datetime(2024, 4, 2, 16, 0, 0, 750_000, tzinfo=UTC)
    minute = lambda n: t + timedelta(minutes=n)  # noqa: E731

    # Created after unification: a session id of its own, the booking in booking_id.
    b = core.bookings["booking_gen3_archived"]
    client, reader = core.client_no_email, core.reader_second
    c = w.conversation(key=b.id, kind="reading", participants=[client, reader], booking=b)
    session_id = w.uid()
    ids("gen3_session_archived", session_id)
    w.gen3_session(c, id=session_id, type="booking", status="archived", at=t)
    core.archived_session_id = session_id
    hello = w.message(c, client, "text", minute(0), "Salam, ready when you are.", read_by={reader})
    w.gen3(hello)
    mp3 = w.message(
        c,
        reader,
        "voice",
        minute(1),
        read_by={client},
        attachment=w.attach("voice", p["mp3"], label="audio/mp3", file_name="reading.mp3"),
        review={"decision": "approved", "reviewer": core.monitor, "at": minute(2)},
    )
    where = w.put("chat-files", f"{session_id}/{reader.id}/{ms(mp3.at)}.mp3", p["mp3"])
    w.gen3(mp3, location=where)
    w.voice_note(mp3, mp3.id, where)
    ids("gen3_mp3_message", mp3.id)
    pending = w.message(
        c,
        reader,
        "voice",
        minute(3),
        held=True,
        attachment=w.attach("voice", p["safari"], label="audio/webm", file_name="recording.webm"),
    )
    where = w.put("chat-files", f"{session_id}/{reader.id}/{ms(pending.at)}.webm", p["safari"])
    w.gen3(pending, location=where, signed=True)
    w.voice_note(pending, pending.id, where)
    ids("approval_pending", w.approval(pending, pending.id, b, status="pending"))
    ids("pending_reader_voice_message", pending.id)
    gone = w.message(c, client, "text", minute(4), "Ignore this one", deleted_at=minute(5))
    # Flagged deleted, yet the status column never followed.
    w.gen3(gone, status="sent", is_deleted=True)
    ids("deleted_message_flag_only", gone.id)
    thanks = w.message(c, client, "text", minute(6), "Thank you!")
    w.gen3(thanks)

    for name, b, status, reader in (
        (
            "gen3_session_completed",
            core.bookings["booking_gen3_completed"],
            "completed",
            core.reader,
        ),
        (
            "gen3_session_terminated",
            core.bookings["booking_gen3_terminated"],
            "terminated",
            core.reader_deactivated,
        ),
    ):
        t += timedelta(days=1)
        c = w.conversation(key=b.id, kind="reading", participants=[b.client, reader], booking=b)
        w.gen3_session(c, id=b.id, type="booking", status=status, at=t)
        ids(name, b.id)
        for n, sender in enumerate((b.client, reader, b.client)):
            message = w.message(
                c,
                sender,
                "text",
                t + timedelta(minutes=n),
                PHRASES[n + 2],
                read_by={b.client, reader} - {sender},
            )
            w.gen3(message)

    t += timedelta(days=1)
    c = w.conversation(key=w.uid(), kind="emergency", participants=[core.client, core.reader])
    w.gen3_session(c, id=c.key, type="emergency", status="ended", at=t, emergency_call_id=w.uid())
    ids("gen3_session_emergency", c.key)
    alarm = w.message(
        c,
        core.client,
        "emergency",
        t,
        "I need an urgent reading, please.",
        read_by={core.reader},
    )
    w.gen3(alarm)
    ids("emergency_message", alarm.id)
    answer = w.message(
        c,
        core.reader,
        "text",
        t + timedelta(minutes=1),
        "I am here. Tell me what happened.",
        reply_to=alarm,
    )
    w.gen3(answer)

    t += timedelta(days=1)
    c = w.conversation(
        key=w.uid(), kind="support", participants=[core.client_duplicate, core.admin]
    )
    w.gen3_session(c, id=c.key, type="support", status="active", at=t)
    ids("gen3_session_support", c.key)
    question = w.message(
        c,
        core.client_duplicate,
        "text",
        t,
        "I was charged twice for one booking.",
        read_by={core.admin},
    )
    w.gen3(question)
    answer = w.message(
        c, core.admin, "text", t + timedelta(minutes=3), "Refunded, sorry for the trouble."
    )
    w.gen3(answer)


# --- rows that point nowhere ----------------------------------------------------------

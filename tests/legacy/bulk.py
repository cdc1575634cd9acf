"""The ordinary history, one unit per step of scale: about a thousand message rows and
twenty files (a few real payloads under many keys, as the old buckets hold them)."""

from datetime import UTC, datetime, timedelta

from tests.legacy.core import PHRASES, Core, booking_write, ms
from tests.legacy.ledger import Conversation, Ledger, Message, Payload

LAYOUTS = ("gen1",) * 8 + ("gen2",) * 4 + ("gen3",) * 4 + ("gen1+gen3",) * 4
MESSAGES_PER_CONVERSATION = 50
FILE_AT = 7  # the index of each conversation's one file message
AUDIO = ("opus", "opus_short", "safari", "mp3")


def bulk(w: Ledger, payloads: dict[str, Payload], core: Core, unit: int) -> None:
    """One unit of ordinary history: 13 people, 22 bookings, 20 conversations across the
    generations (8 in gen 1, 4 in gen 2, 4 in gen 3, 4 in gen 1 and 3 overlapping on ten
    messages), 50 messages and one file each."""
    rng = w.rng
    joined = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(days=unit)
    clients = [
        w.profile(
            role="client",
            email=f"client{unit}.{n}@example.net",
            created_at=joined,
            display_name=f"Client {unit}.{n}",
        )
        for n in range(10)
    ]
    readers = [
        w.profile(
            role="reader",
            email=f"reader{unit}.{n}@example.net",
            created_at=joined,
            display_name=f"Reader {unit}.{n}",
        )
        for n in range(3)
    ]
    start = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=unit)
    for n in range(2):
        booking_write(w, clients[n], readers[n], "cancelled", start, core.services[1])
    for index, layout in enumerate(LAYOUTS):
        at = start + timedelta(minutes=50 * index)
        client, reader = clients[index % 10], readers[index % 3]
        booking = booking_write(
            w,
            client,
            reader,
            "completed" if index % 5 else "in_progress",
            at,
            core.services[index % 3],
            via_user_id=index % 7 == 0,
        )
        c = w.conversation(
            key=booking.id, kind="reading", participants=[client, reader], booking=booking
        )
        _bulk_conversation(w, payloads, core, c, layout, at, unit * len(LAYOUTS) + index, rng)


def _bulk_conversation(
    w: Ledger, payloads, core: Core, c: Conversation, layout: str, at, serial: int, rng
) -> None:
    booking = c.booking
    client, reader = c.participants
    gen2_id = None
    if "gen3" in layout:
        w.gen3_session(
            c,
            id=booking.id,
            type="booking",
            status=rng.choice(("ended", "ended", "active", "completed", "archived")),
            at=at,
        )
    if layout == "gen2":
        gen2_id = w.uid()
        w.gen2_session(c, id=gen2_id, status=rng.choice(("ended", "locked", "active")), at=at)
    messages: list[Message] = []
    for n in range(MESSAGES_PER_CONVERSATION):
        sender = client if (n % 2 == 0) != (rng.random() < 0.2) else reader
        when = at + timedelta(seconds=45 * n, microseconds=rng.randrange(1_000_000))
        reply_to = rng.choice(messages) if messages and rng.random() < 0.08 else None
        if n == FILE_AT:
            message = _bulk_file(w, payloads, core, c, when, serial)
        else:
            message = w.message(c, sender, "text", when, rng.choice(PHRASES), reply_to=reply_to)
        # All but the last three were read by the other participant.
        if n < MESSAGES_PER_CONVERSATION - 3:
            message.read_by = {reader if message.sender is client else client}
        messages.append(message)
        location = _bulk_put(w, message, c, gen2_id, layout)
        if layout == "gen1" or (layout == "gen1+gen3" and n < 30):
            w.gen1(message, location=location)
            if n % 10 == 0:
                w.gen1(message, table="messages_backup", location=location)
        if layout == "gen2":
            w.gen2(message, session_id=gen2_id, path="AB"[n % 2], location=location)
        if layout == "gen3" or (layout == "gen1+gen3" and n >= 20):
            fresh = layout == "gen1+gen3" and n < 30 and n % 2 and message.kind == "text"
            w.gen3(message, id=w.uid() if fresh else None, location=location)
        # Generation 2 had no approval columns: its reviewed notes always have a row.
        if message.kind == "voice" and message.review and (layout == "gen2" or serial % 2):
            w.approval(message, message.id, booking, status="approved")
        if message.kind == "voice" and layout != "gen2" and serial % 3 == 0:
            w.voice_note(message, message.id, location)
    first = messages[0]
    w.audit(
        user_id=first.sender_id,
        action="INSERT",
        table_name="chat_messages" if "gen3" in layout else "messages",
        record_id=first.id,
        session_id=booking.id,
        new_values={"content": first.content},
        ip_address=f"192.0.2.{serial % 250 + 1}",
        timestamp=first.at,
        metadata={},
    )
    w.monitoring(
        user_id=core.monitor.id,
        session_id=gen2_id or booking.id,
        event_type="session_viewed",
        timestamp=at + timedelta(hours=1),
        metadata={},
    )
    w.notification(
        booking_id=booking.id,
        user_id=reader.id,
        type="new_message",
        message_id=first.id,
        data={},
        is_read=True,
        created_at=first.at,
    )


def _bulk_file(w: Ledger, payloads, core: Core, c: Conversation, when, serial: int):
    client, reader = c.participants
    variant = serial % 4
    if variant == 0:
        payload = payloads[AUDIO[serial // 4 % len(AUDIO)]]
        label = "audio/mp3" if payload.ext == "mp3" else "audio/webm"
        return w.message(
            c,
            reader,
            "voice",
            when,
            attachment=w.attach("voice", payload, label=label, file_name=f"voice.{payload.ext}"),
            review={
                "decision": "approved",
                "reviewer": core.monitor,
                "at": when + timedelta(minutes=4),
            },
        )
    if variant == 1:
        payload = payloads[AUDIO[serial // 4 % 2]]
        return w.message(
            c,
            client,
            "voice",
            when,
            attachment=w.attach("voice", payload, label="audio/webm", file_name="voice.webm"),
        )
    kind, payload = ("image", payloads["png"]) if variant == 2 else ("file", payloads["pdf"])
    return w.message(
        c,
        client,
        kind,
        when,
        attachment=w.attach(kind, payload, label=payload.mime, file_name=f"upload.{payload.ext}"),
    )


def _bulk_put(w: Ledger, message: Message, c: Conversation, gen2_id, layout: str):
    if message.attachment is None:
        return None
    payload = message.attachment.payload
    session = gen2_id or c.key
    if layout == "gen1" and message.kind == "voice":
        key = f"chat-attachments/{session}/voice/{ms(message.at)}.{payload.ext}"
    else:
        key = f"chat-files/{session}/{message.sender_id}/{ms(message.at)}.{payload.ext}"
    bucket, _, key = key.partition("/")
    return w.put(bucket, key, payload)

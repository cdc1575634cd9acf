"""What chat announces for the apps built on it to act on (chat imports none of them).

`message_held`: a message was stored awaiting review (settings.CHAT["HOLD_FOR_REVIEW"]),
inside the transaction that stored it. The approvals app queues it for reviewers.
"""

from django.dispatch import Signal

message_held = Signal()  # sender=Message, message=<the held Message>

"""The reviewer's core: record each interrupt (and its webhook delivery), try the rules,
and resume a thread by NATS request when someone (or a rule) answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import nats.errors
from faststream.nats import NatsMessage
from nats.aio.client import Client
from redis.exceptions import RedisError

from relaygraph import metrics, tracing
from relaygraph.contracts import (
    ErrorBody,
    ErrorReply,
    InterruptEvent,
    ResumeReply,
    ResumeRequest,
    decode,
    encode,
)
from relaygraph.errors import Conflict, InvalidInput, NotFound, RelaygraphError
from relaygraph.subjects import Subjects, is_token
from relaygraph_reviewer.inbox import AnsweredItem, Inbox, PendingItem, Recorded, now_iso
from relaygraph_reviewer.outbox import WebhookOutbox, webhook_body
from relaygraph_reviewer.rules import Rules

log = logging.getLogger("relaygraph.reviewer")

MSG_ID_HEADER = "Nats-Msg-Id"
RULES_REVIEWER = "rules"
DEADLINE = "deadline"
"""The reviewer name of an answer given by an interrupt's own default."""
CLAIM_RECHECK_MS = 30_000
"""An answer taken but not confirmed within this is sent again (its sender died)."""
RETRY_MS = 5_000
"""A deadline's default the gateway refused is tried again this much later."""
LOOK_INTERVAL = 0.25
"""Seconds between two looks for deadlines that passed."""
SETTLE_EVERY = 8
"""Looks between two checks for interrupts answered elsewhere (2 s)."""
REDELIVERY_DELAY = 2.0
"""Seconds before JetStream redelivers an interrupt we could not record."""


def resume_value(item: PendingItem, resume: Any) -> Any:
    """What goes in ``ResumeRequest.resume`` for a pending event.

    One interrupt: the value as given. Several: a map interrupt id -> value;
    a map given over (some of) the event's interrupt ids is sent as is, any
    other value answers every interrupt.
    """
    ids = item.interrupt_ids
    if len(ids) <= 1:
        return resume
    if isinstance(resume, dict) and resume and set(resume) <= set(ids):
        return resume
    return dict.fromkeys(ids, resume)


class Reviewer:
    """One reviewer: its inbox, rules, webhook and the NATS connection to resume on."""

    def __init__(
        self,
        *,
        inbox: Inbox,
        subjects: Subjects,
        connection: Callable[[], Client],
        rules: Rules,
        webhook: WebhookOutbox | None = None,
        resume_timeout: float = 10.0,
        authorization: str | None = None,
    ) -> None:
        self.inbox = inbox
        self.subjects = subjects
        self._connection = connection
        self.rules = rules
        self.webhook = webhook
        self.resume_timeout = resume_timeout
        self.authorization = authorization
        """The ``Authorization`` header its resumes carry (a gateway with custom auth)."""

    # -- interrupts in ---------------------------------------------------------
    async def handle(self, msg: NatsMessage) -> None:
        """JetStream handler: ack only once the interrupt is recorded in Redis."""
        raw = msg.raw_message
        try:
            event = decode(raw.data, InterruptEvent)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            log.error("dropping malformed interrupt event on %s: %s", raw.subject, exc)
            await msg.reject()
            return
        msg_id = (raw.headers or {}).get(MSG_ID_HEADER) or (
            f"{event.thread_id}:{event.checkpoint_id}"
        )
        # The webhook's delivery is recorded with the interrupt (one transaction,
        # before the ack): a restart or a webhook that is down loses nothing.
        answers = self.rules.answer(event)
        also = None
        if self.webhook is not None:
            webhook, subject = self.webhook, self.subjects.resume(event.thread_id)
            body = webhook_body(event, subject, RULES_REVIEWER if answers is not None else None)

            def also(pipe: Any) -> None:
                webhook.add(pipe, msg_id, body)

        try:
            recorded = await self.inbox.record(event, msg_id, also)
        except (RedisError, OSError) as exc:
            log.warning("cannot record interrupt %s yet (%s): redelivery asked", msg_id, exc)
            await msg.nack(delay=REDELIVERY_DELAY)
            return
        await msg.ack()
        if recorded is Recorded.NEW:
            log.info("interrupt %s of graph %s recorded", msg_id, event.graph_id)
            if answers is not None:
                await self.answer_by_rules(event, msg_id, answers)

    async def answer_by_rules(
        self, event: InterruptEvent, msg_id: str, answers: dict[str, Any]
    ) -> None:
        """The matching rules answer a new interrupt; if they cannot (the
        gateway refuses), it is left to people."""
        run_id = None
        try:
            result = await self.answer(
                event.thread_id, answers, RULES_REVIEWER, msg_id=msg_id, per_interrupt=True
            )
        except (RedisError, OSError, RelaygraphError) as exc:
            log.warning("rules could not answer interrupt %s: %s", msg_id, exc)
        else:
            if isinstance(result, AnsweredItem):
                run_id = result.run_id
        if self.webhook is not None:
            try:
                await self.webhook.mark_answered(msg_id, run_id)
            except (RedisError, OSError) as exc:
                log.warning("webhook delivery of %s not updated: %s", msg_id, exc)

    # -- answers out -----------------------------------------------------------
    async def answer(
        self,
        thread_id: str,
        resume: Any,
        reviewer: str,
        *,
        msg_id: str | None = None,
        per_interrupt: bool = False,
        authorization: str | None = None,
    ) -> AnsweredItem | ErrorBody:
        """Resume the thread's pending interrupt; the inbox keeps the outcome.

        ``per_interrupt``: ``resume`` is a map interrupt id -> value (forms, rules).
        ``authorization``: the person's credentials the resume carries (custom
        auth), instead of the reviewer's own.
        Raises NotFound when nothing is pending, Conflict when ``msg_id`` names
        an interrupt that a newer one replaced.
        """
        if not is_token(thread_id):
            raise InvalidInput(f"thread id {thread_id!r} is not a valid thread id")
        item = await self.inbox.get(thread_id)
        if item is None:
            await self._answered_before(thread_id, msg_id)
            raise NotFound(f"no pending interrupt for thread {thread_id}")
        if msg_id is not None and msg_id != item.msg_id:
            raise Conflict(
                f"thread {thread_id} has a newer interrupt than the one answered: "
                "reload and answer that one"
            )
        ids = item.interrupt_ids
        if per_interrupt and ids:
            missing = [i for i in ids if i not in resume]
            if missing:
                raise InvalidInput(f"no answer for interrupt(s) {missing}")
            value = resume[ids[0]] if len(ids) == 1 else {i: resume[i] for i in ids}
        else:
            value = resume_value(item, resume)
        # Taken before it is sent: a deadline (or another person) that comes
        # meanwhile finds it answered, and this answer is the one sent.
        try:
            claimed = await self.inbox.claim(
                thread_id, item.msg_id, reviewer, value, _ms() + CLAIM_RECHECK_MS
            )
        except NotFound:  # answered and gone since it was read
            await self._answered_before(thread_id, item.msg_id)
            raise
        return await self._send(claimed, authorization)

    async def _answered_before(self, thread_id: str, msg_id: str | None) -> None:
        """Conflict if the interrupt ``msg_id`` was answered by someone already."""
        done = await self.inbox.answer_of(msg_id) if msg_id is not None else None
        if done is not None:
            raise Conflict(
                f"thread {thread_id}: this interrupt was already answered by "
                f"{done.reviewer} at {done.answered_at}"
            )

    async def _send(
        self, item: PendingItem, authorization: str | None = None
    ) -> AnsweredItem | ErrorBody:
        """Send the claimed answer of ``item``; the inbox keeps the outcome."""
        claim = item.claim
        assert claim is not None
        thread_id, ids = item.event.thread_id, item.interrupt_ids
        # The request names the pause it answers (one interrupt by its id, several
        # by the map's keys), so a retry cannot answer a later pause, and the
        # same answer sent again (after a crash) gives back the same run.
        single = ids[0] if len(ids) == 1 else None
        with tracing.span(
            "review", parent=item.event.trace, thread_id=thread_id, reviewer=claim.by
        ):
            reply = await self.request_resume(
                thread_id, claim.resume, claim.by, interrupt_id=single, authorization=authorization
            )
        if isinstance(reply, ErrorReply):
            log.warning(
                "resume of thread %s by %s refused: %s: %s",
                thread_id,
                claim.by,
                reply.error.code,
                reply.error.message,
            )
            await self.inbox.failed(thread_id, item.msg_id, reply.error, _ms() + RETRY_MS)
            return reply.error
        answered = AnsweredItem(
            msg_id=item.msg_id,
            event=item.event,
            reviewer=claim.by,
            resume=claim.resume,
            run_id=reply.run_id,
            status=reply.status,
            answered_at=now_iso(),
        )
        await self.inbox.answered(answered)
        by = (
            "rules"
            if claim.by == RULES_REVIEWER
            else "deadline"
            if claim.by == DEADLINE
            else "person"
        )
        metrics.REVIEWS.labels(by).inc()
        log.info("thread %s resumed by %s: run %s", thread_id, claim.by, reply.run_id)
        return answered

    # -- deadlines ---------------------------------------------------------------
    async def look(self, thread_id: str) -> None:
        """A pending interrupt whose time came: its deadline passed (its
        default answers it, unless an answer was taken first), or an answer
        taken long ago was never confirmed (its reviewer died sending it: it
        is sent again, and the gateway gives back the run it started, if any)."""
        item = await self.inbox.get(thread_id)
        if item is None:
            await self.inbox.look_again(thread_id, None)
            return
        now = _ms()
        if item.claim is not None:
            if now < item.claim.at_ms + CLAIM_RECHECK_MS:
                await self.inbox.look_again(thread_id, item.claim.at_ms + CLAIM_RECHECK_MS)
                return
            log.warning(
                "thread %s: answer of %s never confirmed; sending it again",
                thread_id,
                item.claim.by,
            )
            await self._send(item, self.authorization)
            return
        if item.deadline_ms is None:
            await self.inbox.look_again(thread_id, None)
            return
        if now < item.deadline_ms:
            await self.inbox.look_again(thread_id, item.deadline_ms)
            return
        try:
            claimed = await self.inbox.claim(
                thread_id, item.msg_id, DEADLINE, item.on_timeout, now + CLAIM_RECHECK_MS
            )
        except (Conflict, NotFound):
            return  # a person answered first, or a newer interrupt came
        log.info("thread %s: deadline passed, resuming with its default", thread_id)
        await self._send(claimed, self.authorization)

    async def look_forever(self, interval: float = LOOK_INTERVAL) -> None:
        """Look at every pending interrupt whose time came, again and again;
        every few seconds, let go of those answered elsewhere."""
        turns = 0
        while True:
            try:
                for thread_id in await self.inbox.due(_ms()):
                    await self.look(thread_id)
                if turns % SETTLE_EVERY == 0:
                    await self.inbox.settle_answered_elsewhere()
            except (RedisError, OSError) as exc:
                log.warning("deadlines not looked at: %s", exc)
            turns += 1
            await asyncio.sleep(interval)

    async def request_resume(
        self,
        thread_id: str,
        value: Any,
        reviewer: str,
        interrupt_id: str | None = None,
        authorization: str | None = None,
    ) -> ResumeReply | ErrorReply:
        """The public resume request; transport failures become an ErrorReply."""
        subject = self.subjects.resume(thread_id)
        payload = encode(ResumeRequest(resume=value, reviewer=reviewer, interrupt_id=interrupt_id))
        headers = tracing.carrier()
        if authorization or self.authorization:
            headers["Authorization"] = authorization or self.authorization or ""
        try:
            reply = await self._connection().request(
                subject, payload, timeout=self.resume_timeout, headers=headers or None
            )
        except nats.errors.NoRespondersError:
            return _error("unavailable", f"no gateway answers on {subject}: is one running?")
        except (nats.errors.Error, TimeoutError) as exc:
            return _error("unavailable", f"resume request on {subject} failed: {exc!r}")
        try:
            body = msgspec.json.decode(reply.data)
            if isinstance(body, dict) and "error" in body:
                return msgspec.convert(body, ErrorReply)
            return msgspec.convert(body, ResumeReply)
        except msgspec.MsgspecError as exc:
            return _error("bad_reply", f"unexpected reply on {subject}: {exc}")


def _error(code: str, message: str) -> ErrorReply:
    return ErrorReply(error=ErrorBody(code=code, message=message))


def _ms() -> int:
    return int(time.time() * 1000)

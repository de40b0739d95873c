"""Typed publish/subscribe: bad input is dead-lettered with its reason, and serving goes on."""

from __future__ import annotations

import json

import pytest
from runtime_examples import Reading, collect, reading

from hedgemesh.runtime.bus import Bus, Envelope, actor_of
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.errors import NoResponders, Rejected
from hedgemesh.wire import subjects
from hedgemesh.wire.base import MAX_PAYLOAD_BYTES, PayloadTooLarge
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply, DeadLetter

pytestmark = pytest.mark.timeout(20)

SUBJECT = subjects.tick("TEST")
DEAD = subjects.deadletter("test")

BAD_INPUTS = {
    "malformed_json": (b'{"sensor": "s1", "value": 1.0', "INVALID_JSON", "json_invalid"),
    "unknown_field": (
        b'{"sensor": "s1", "value": 1.0, "seq": 1, "venue": "x"}',
        "INVALID_MESSAGE",
        "extra_forbidden",
    ),
    "nan": (b'{"sensor": "s1", "value": NaN, "seq": 1}', "INVALID_MESSAGE", "finite_number"),
    "wrong_type": (b'{"sensor": "s1", "value": "1.0", "seq": 1}', "INVALID_MESSAGE", "float_type"),
    "oversize": (
        b'{"sensor": "s1", "pad": "' + b"x" * (MAX_PAYLOAD_BYTES + 10) + b'"}',
        "PAYLOAD_TOO_LARGE",
        "exceeds the limit",
    ),
}


async def _subscribe_recording(bus: Bus) -> list[tuple[Reading, Envelope]]:
    handled: list[tuple[Reading, Envelope]] = []

    async def handler(message: Reading, envelope: Envelope) -> None:
        handled.append((message, envelope))

    await bus.subscribe(SUBJECT, Reading, handler)
    return handled


async def test_given_each_kind_of_bad_input_then_it_is_dead_lettered_and_the_next_is_handled(
    bus, nats_client, eventually
):
    handled = await _subscribe_recording(bus)
    letters = await collect(nats_client, DEAD, DeadLetter)

    for payload, _, _ in BAD_INPUTS.values():
        await nats_client.publish(SUBJECT, payload, headers={"trace": "t-1"})
    await nats_client.publish(SUBJECT, reading(7).to_json())

    await eventually(lambda: len(handled) == 1 and len(letters) == len(BAD_INPUTS))
    message, envelope = handled[0]
    assert message == reading(7)
    assert envelope.subject == SUBJECT
    assert envelope.size == len(reading(7).to_json())
    for letter, (payload, error, detail) in zip(letters, BAD_INPUTS.values(), strict=True):
        assert letter.service == "test"
        assert letter.subject == SUBJECT
        assert letter.error == error
        assert detail in letter.reason
        assert letter.payload_size == len(payload)
        assert letter.headers == {"trace": "t-1"}
        assert payload.decode().startswith(letter.payload)

    assert bus.stats.dead_letters == {
        (SUBJECT, "INVALID_JSON"): 1,
        (SUBJECT, "INVALID_MESSAGE"): 3,
        (SUBJECT, "PAYLOAD_TOO_LARGE"): 1,
    }
    assert bus.stats.dead_letters_by_subject() == {SUBJECT: 5}
    assert bus.stats.received[SUBJECT] == 6
    assert bus.stats.handled[SUBJECT] == 1
    info = await bus.js.stream_info(subjects.STREAM_DEADLETTER)
    assert info.state.messages == len(BAD_INPUTS)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_given_one_bad_input_then_the_dead_letter_stream_stores_it_with_its_reason(
    bus, nats_client, eventually, case
):
    payload, error, detail = BAD_INPUTS[case]
    handled = await _subscribe_recording(bus)
    await nats_client.publish(SUBJECT, payload)

    async def stored():
        return (await bus.js.stream_info(subjects.STREAM_DEADLETTER)).state.messages == 1

    await eventually(stored)
    stored_msg = await bus.js.get_last_msg(subjects.STREAM_DEADLETTER, DEAD)
    letter = DeadLetter.from_json(stored_msg.data)
    assert (letter.error, letter.subject) == (error, SUBJECT)
    assert detail in letter.reason
    assert handled == []


async def test_given_undecodable_bytes_then_the_dead_letter_keeps_them_escaped(
    bus, nats_client, eventually
):
    await _subscribe_recording(bus)
    letters = await collect(nats_client, DEAD, DeadLetter)
    await nats_client.publish(SUBJECT, b"\xff\xfe{")
    await eventually(lambda: letters)
    assert letters[0].payload == "\\xff\\xfe{"
    assert letters[0].error == "INVALID_JSON"


async def test_given_a_handler_that_rejects_then_the_message_is_dead_lettered_with_its_code(
    bus, eventually
):
    seen: list[int] = []

    async def handler(message: Reading, envelope: Envelope) -> None:
        if message.value < 0:
            raise Rejected("NEGATIVE_READING", f"value {message.value} below zero")
        seen.append(message.seq)

    await bus.subscribe(SUBJECT, Reading, handler)
    letters = await collect(bus.nc, DEAD, DeadLetter)
    await bus.publish(SUBJECT, reading(1, value=-2.0))
    await bus.publish(SUBJECT, reading(2))
    await eventually(lambda: seen == [2] and len(letters) == 1)
    assert letters[0].error == "NEGATIVE_READING"
    assert letters[0].reason == "value -2.0 below zero"
    assert bus.stats.dead_letters == {(SUBJECT, "NEGATIVE_READING"): 1}


async def test_given_a_handler_that_crashes_then_it_is_counted_and_the_subscription_goes_on(
    bus, eventually
):
    seen: list[int] = []

    async def handler(message: Reading, envelope: Envelope) -> None:
        if message.seq == 1:
            raise RuntimeError("bug in the handler")
        seen.append(message.seq)

    await bus.subscribe(SUBJECT, Reading, handler)
    for seq in (1, 2, 3):
        await bus.publish(SUBJECT, reading(seq))
    await eventually(lambda: seen == [2, 3])
    assert bus.stats.handler_errors[SUBJECT] == 1
    assert bus.stats.dead_letters == {}


async def test_given_a_message_over_its_type_limit_then_publish_refuses_to_send_it(bus):
    huge = ControlCommand(
        target="probe",
        action=ControlAction.SET_PARAMS,
        issued_by="op",
        params={f"k{i}": "v" * 4000 for i in range(70)},
    )
    with pytest.raises(PayloadTooLarge):
        await bus.publish(SUBJECT, huge)


async def test_given_a_msg_id_then_core_publish_sets_the_dedup_header(bus, eventually):
    headers: list[dict] = []

    async def on_message(msg) -> None:
        headers.append(msg.headers)

    await bus.nc.subscribe(SUBJECT, cb=on_message)
    await bus.publish(SUBJECT, reading(1), msg_id="abc", headers={"trace": "t"})
    await eventually(lambda: headers)
    assert headers[0] == {"trace": "t", "Nats-Msg-Id": "abc"}


# -- request / reply ---------------------------------------------------------------------------


def _command(target: str = "probe", action: ControlAction = ControlAction.STATUS) -> ControlCommand:
    return ControlCommand(id="cmd-1", target=target, action=action, issued_by="operator")


async def _serve_probe(bus: Bus) -> list[ControlCommand]:
    commands: list[ControlCommand] = []

    async def handler(command: ControlCommand, envelope: Envelope) -> ControlReply:
        commands.append(command)
        if command.action is ControlAction.HALT:
            raise Rejected("ALREADY_HALTED", "the desk is halted")
        if command.action is ControlAction.REDUCE:
            raise KeyError("bug")
        return ControlReply(command_id=command.id, target="probe", ok=True, state={"n": 1})

    await bus.serve_control("probe", handler)
    return commands


async def test_given_a_valid_command_then_the_handler_answers_it(bus):
    commands = await _serve_probe(bus)
    reply = await bus.command(_command())
    assert reply.ok and reply.command_id == "cmd-1" and reply.state == {"n": 1}
    assert [c.id for c in commands] == ["cmd-1"]


async def test_given_a_command_then_its_subject_names_the_action_and_the_sending_service(
    bus, nats_client
):
    seen: list[tuple[str, str | None, str]] = []

    async def handler(command: ControlCommand, envelope: Envelope) -> ControlReply:
        seen.append((envelope.subject, envelope.origin, actor_of(command, envelope)))
        return ControlReply(command_id=command.id, target="probe", ok=True)

    await bus.serve_control("probe", handler)
    assert (await bus.command(_command())).ok
    subject = f"hedge.v1.control.probe.status.{bus.service}"
    assert seen == [(subject, bus.service, bus.service)]  # not the body's "operator"


async def test_given_a_subject_whose_action_is_not_the_commands_then_refused(bus, nats_client):
    commands = await _serve_probe(bus)
    halt = _command(action=ControlAction.HALT)
    msg = await nats_client.request(
        subjects.control("probe", "status", "api"), halt.to_json(), timeout=2.0
    )
    reply = ControlReply.from_json(msg.data)
    assert (reply.ok, reply.reason) == (False, "WRONG_SUBJECT")
    assert commands == []


@pytest.mark.parametrize(
    ("action", "reason"),
    [(ControlAction.HALT, "ALREADY_HALTED"), (ControlAction.REDUCE, "INTERNAL_ERROR")],
)
async def test_given_a_handler_that_refuses_or_fails_then_the_reply_says_why(bus, action, reason):
    await _serve_probe(bus)
    reply = await bus.command(_command(action=action))
    assert not reply.ok
    assert (reply.reason, reply.command_id, reply.target) == (reason, "cmd-1", "probe")


async def test_given_an_undecodable_command_then_the_reply_refuses_and_it_is_dead_lettered(
    bus, nats_client, eventually
):
    commands = await _serve_probe(bus)
    letters = await collect(nats_client, DEAD, DeadLetter)
    bad = json.dumps({"target": "probe", "action": "explode", "issued_by": "op"}).encode()
    msg = await nats_client.request(subjects.control("probe", "halt", "api"), bad, timeout=2.0)
    reply = ControlReply.from_json(msg.data)
    assert not reply.ok and reply.reason == "INVALID_MESSAGE"
    assert "action" in reply.detail
    await eventually(lambda: letters)
    assert letters[0].subject == subjects.control("probe", "halt", "api")
    assert commands == []


async def test_given_a_command_for_another_target_then_refused_as_wrong_target(bus, nats_client):
    await _serve_probe(bus)
    msg = await nats_client.request(
        subjects.control("probe", "status", "api"), _command(target="other").to_json(), timeout=2.0
    )
    reply = ControlReply.from_json(msg.data)
    assert (reply.ok, reply.reason) == (False, "WRONG_TARGET")


async def test_given_nobody_serves_a_target_then_the_request_raises_no_responders(bus):
    with pytest.raises(NoResponders):
        await bus.command(_command(target="nobody"), timeout_s=1.0)


async def test_given_a_second_bus_then_each_counts_only_its_own_service(nats_server, eventually):
    settings = NatsSettings(url=nats_server.url, name="other")
    other = Bus(await connect(settings, initial_timeout_s=5.0), "other")
    try:
        seen: list[int] = []

        async def handler(message: Reading, envelope: Envelope) -> None:
            seen.append(message.seq)

        await other.subscribe(SUBJECT, Reading, handler, queue="workers")
        await other.nc.publish(SUBJECT, b"not json")
        await other.publish(SUBJECT, reading(4))
        await eventually(lambda: seen == [4])
        assert other.stats.dead_letters == {(SUBJECT, "INVALID_JSON"): 1}
    finally:
        await other.close()


async def test_given_a_subscriber_of_dead_letters_then_valid_dead_letters_reach_its_handler(
    bus, eventually
) -> None:
    from hedgemesh.wire import subjects
    from hedgemesh.wire.ops import DeadLetter

    seen: list[DeadLetter] = []

    async def on_letter(letter: DeadLetter, _envelope) -> None:
        seen.append(letter)

    await bus.subscribe(subjects.ALL_DEADLETTERS, DeadLetter, on_letter)
    await bus.nc.publish("hedge.v1.md.tick.SPX", b"not json")
    await bus.subscribe("hedge.v1.md.tick.SPX", DeadLetter, on_letter)  # any model will do
    await bus.nc.publish("hedge.v1.md.tick.SPX", b"not json")
    await eventually(lambda: len(seen) >= 1, timeout=5)
    assert seen[0].error == "INVALID_JSON" and seen[0].subject == "hedge.v1.md.tick.SPX"

"""Group commit (`service.storage.group_commit`) against a real Redis: calls from concurrent threads share
round trips, and each gets its own reply or its own error."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from service.storage import redis_client
from service.storage.group_commit import GroupCommit

ECHO = "if ARGV[1] == 'fail' then return redis.error_reply('ERR failed on purpose') end return ARGV[1]"


@pytest.fixture
def r(app):
    return redis_client.get(app)


@pytest.fixture
def commit(r):
    r.script_load(ECHO)
    return GroupCommit(r, r.register_script(ECHO))


class _CountingSends:
    """Counts the pipelines sent; the first answer is slow so that the other callers queue up."""

    def __init__(self, commit: GroupCommit, first_delay: float = 0.0):
        self.sends = 0
        self.first_delay = first_delay
        connection = commit._conn()
        send, read = connection.send_packed_command, connection.read_response

        def counting_send(command, check_health=True):
            self.sends += any(b"EVALSHA" in part for part in command)  # not the connection's handshake
            return send(command, check_health=check_health)

        def slow_read(*args, **kwargs):
            if self.first_delay:
                time.sleep(self.first_delay)
                self.first_delay = 0.0
            return read(*args, **kwargs)

        connection.send_packed_command = counting_send
        connection.read_response = slow_read


def _run_together(commit: GroupCommit, values: list[str]) -> dict[str, object]:
    results: dict[str, object] = {}
    barrier = threading.Barrier(len(values))

    def one(value):
        barrier.wait()
        try:
            results[value] = commit.run(("k",), [value])
        except Exception as exc:  # noqa: BLE001 - recorded for the test to look at
            results[value] = exc

    threads = [threading.Thread(target=one, args=(value,)) for value in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_one_call_alone_is_sent_at_once(commit):
    counter = _CountingSends(commit)
    assert commit.run(("k",), ["alone"]) == b"alone"
    assert counter.sends == 1


def test_calls_arriving_during_a_round_trip_go_together_and_each_gets_its_reply(commit):
    counter = _CountingSends(commit, first_delay=0.3)
    values = [f"v{n}" for n in range(12)]
    results = _run_together(commit, values)
    assert results == {value: value.encode() for value in values}
    assert 2 <= counter.sends < len(values)  # the first alone (or nearly), the rest in few batches


def test_an_error_answer_belongs_to_its_call_only(commit):
    _CountingSends(commit, first_delay=0.2)
    results = _run_together(commit, ["a", "fail", "b", "c"])
    assert isinstance(results["fail"], redis.exceptions.ResponseError)
    assert {k: v for k, v in results.items() if k != "fail"} == {"a": b"a", "b": b"b", "c": b"c"}


def test_a_script_redis_lost_is_loaded_again(commit, r):
    assert commit.run(("k",), ["before"]) == b"before"
    r.script_flush()
    assert commit.run(("k",), ["after"]) == b"after"


def test_a_broken_connection_fails_its_batch_and_the_next_call_reconnects(commit, r):
    assert commit.run(("k",), ["first"]) == b"first"
    connection = commit._conn()
    connection.send_command("CLIENT", "ID")
    r.client_kill_filter(_id=connection.read_response())
    with pytest.raises(redis.exceptions.ConnectionError):
        commit.run(("k",), ["lost"])
    assert commit.run(("k",), ["again"]) == b"again"

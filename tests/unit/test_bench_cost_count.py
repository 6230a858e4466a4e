"""Figure 7's count of Redis round trips from Redis's command log (MONITOR lines)."""

from __future__ import annotations

from bench.bench_cost import Command, between, parse_monitor, round_trips


def test_a_transaction_and_a_script_are_one_round_trip_each() -> None:
    log = [
        '1.0 [0 127.0.0.1:1] "ECHO" "sbcost:in:a"',
        '1.1 [0 127.0.0.1:2] "HGETALL" "crm"',
        '1.2 [0 127.0.0.1:2] "MULTI"',
        '1.3 [0 127.0.0.1:2] "INCRBY" "seq" "1"',
        '1.4 [0 127.0.0.1:2] "EXEC"',
        '1.5 [0 127.0.0.1:2] "EVALSHA" "abc" "1" "k"',
        '1.6 [0 lua] "GET" "k"',
        '1.7 [0 lua] "SET" "k" "v"',
        '1.8 [0 127.0.0.1:1] "ECHO" "sbcost:out:a"',
        '1.9 [0 127.0.0.1:2] "GET" "after"',
    ]
    window = between(parse_monitor(log), "sbcost:in:a", "sbcost:out:a")
    assert [c.name for c in window] == ["HGETALL", "MULTI", "INCRBY", "EXEC", "EVALSHA", "GET", "SET"]
    assert round_trips(window) == 3
    assert round_trips([Command(1.0, "127.0.0.1:3", "PING", "")]) == 1

"""core.store_errors: the one mapping of store failures to StoreUnavailableError."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from core.errors import StoreUnavailableError, ValidationFailedError
from core.store_errors import store_available


@pytest.mark.parametrize(
    "failure",
    [RedisConnectionError("refused"), ResponseError("BUSY"), ConnectionResetError(), TimeoutError()],
)
def test_a_store_failure_becomes_store_unavailable_naming_the_step(failure: BaseException) -> None:
    with pytest.raises(StoreUnavailableError) as raised, store_available("taking the dial lock"):
        raise failure
    assert raised.value.details == {"operation": "taking the dial lock"}
    assert raised.value.message.startswith("Redis failed while taking the dial lock: ")
    assert raised.value.message != "Redis failed while taking the dial lock: "  # a timeout is named
    assert raised.value.__cause__ is failure


def test_the_products_own_errors_pass_through_unchanged() -> None:
    refusal = ValidationFailedError("bad record")
    with pytest.raises(ValidationFailedError) as raised, store_available("reading a lead"):
        raise refusal
    assert raised.value is refusal

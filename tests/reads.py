"""Many contract reads in one JSON-RPC round trip. The state machines check every balance and
state after every step; through Ape each read costs several requests (the code check, the
call), which made those checks most of the suite's time."""

from __future__ import annotations

from ape import chain
from ape.contracts.base import ContractCall


def read_many(*calls) -> list:
    """`calls` are `(contract.view_function, *args)`; returns each result decoded as Ape's own
    call would return it (structs with attributes, tuples for several outputs)."""
    web3 = chain.provider.web3
    decoders = []
    with web3.batch_requests() as batch:
        for method, *args in calls:
            (abi,) = method.abis  # the project's contracts overload no function
            decoders.append(ContractCall(abi, method.contract.address))
            batch.add(web3.eth.call({"to": method.contract.address, "data": method.encode_input(*args)}))
        returned = batch.execute()
    return [decoder._decode_returndata(data) for decoder, data in zip(decoders, returned)]

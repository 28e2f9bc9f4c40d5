"""Following the chain and sending to it: the event follower (confirmations, reorgs) and the
market client (simulate before send, one nonce at a time), shared by the worker and the oracle."""

"""Signing that can be switched off, for benchmarks/signing.py only.

Python imports this module at start-up when its folder is on PYTHONPATH: the benchmark
puts it there for itself and the workers it starts. While the file named by
JOBNB_BENCH_UNSIGNED exists, every Signer does no HMAC work at all (the data passes as
it is); otherwise it signs as usual. Both sides of the comparison so run in the same
processes, a few seconds apart, and differ only in the hashing. Never on a real
machine's path.
"""

import os

FLAG = os.environ.get("JOBNB_BENCH_UNSIGNED")

if FLAG:
    from jobnb.payload import signing

    #: a job asks its worker for this, to check the switch reaches the workers
    signing.UNSIGNED_FLAG = FLAG
    signed = {
        name: getattr(signing.Signer, name)
        for name in ("sign", "signature", "signature_later", "verify", "verify_apart")
    }
    unsigned = {
        "sign": lambda self, data, context: data,
        "signature": lambda self, data, context: b"",
        "signature_later": lambda self, data, context: lambda: b"",
        "verify": lambda self, blob, context, what=None: memoryview(blob),
        "verify_apart": lambda self, signature, data, context, what=None, hashed=None: memoryview(
            data
        ),
    }

    def switched(name):
        def method(self, *args, **kwargs):
            chosen = unsigned if os.path.exists(FLAG) else signed
            return chosen[name](self, *args, **kwargs)

        return method

    for name in signed:
        setattr(signing.Signer, name, switched(name))

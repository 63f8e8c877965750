"""A Ray Data pipeline: read, map_batches on several nodes, aggregate. Prints DATA OK <sum> <hosts>."""
import socket

import ray

ray.init()
ds = ray.data.range(20_000, override_num_blocks=20)


def square(batch):
    batch["sq"] = batch["id"] ** 2
    batch["host"] = [socket.gethostname()] * len(batch["id"])
    return batch


out = ds.map_batches(square, batch_format="numpy").materialize()
total = out.sum("sq")
hosts = sorted({r["host"] for r in out.select_columns(["host"]).take_all()})
expected = sum(i * i for i in range(20_000))
assert total == expected, (total, expected)
print("DATA OK", total, ",".join(hosts), flush=True)

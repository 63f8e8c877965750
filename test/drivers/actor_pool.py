"""An actor pool of 3 actors mapping 30 items. Prints ACTORS OK <sum> <hosts>."""
import socket

import ray
from ray.util import ActorPool

ray.init()


@ray.remote(num_cpus=1)
class Worker:
    def work(self, x):
        return x * 2, socket.gethostname()


pool = ActorPool([Worker.remote() for _ in range(3)])
out = list(pool.map(lambda a, v: a.work.remote(v), range(30)))
total = sum(v for v, _ in out)
assert total == sum(2 * i for i in range(30)), total
print("ACTORS OK", total, ",".join(sorted({h for _, h in out})), flush=True)

"""The benchmark's driver: a Ray Data pipeline, then a Ray Tune sweep of 8 trials. Prints its own time."""
import time

import ray
from ray import tune

t0 = time.time()
ray.init()
ds = ray.data.range(200_000, override_num_blocks=40).map_batches(lambda b: {"sq": b["id"] ** 2}, batch_format="numpy")
total = ds.sum("sq")
assert total == sum(i * i for i in range(200_000))


def trainable(config):
    for step in range(3):
        time.sleep(0.2)
        tune.report({"score": -((config["x"] - 3) ** 2) + step})


results = tune.Tuner(
    tune.with_resources(trainable, {"cpu": 1}),
    param_space={"x": tune.grid_search(list(range(8)))},
    tune_config=tune.TuneConfig(metric="score", mode="max"),
    run_config=tune.RunConfig(name="rsge_bench", verbose=0),
).fit()
assert not [r for r in results if r.error] and len(results) == 8
print(f"BENCH OK data+tune in {time.time() - t0:.2f} s", flush=True)
